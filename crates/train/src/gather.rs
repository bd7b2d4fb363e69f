//! The ARC evaluator's rows of a multi-host evaluation: each host holds its slice of every test
//! batch (its inputs, predictions, puzzle identifiers and q-halt logits); the evaluator votes
//! over every augmentation of a puzzle, which lie on every host. After each batch the hosts
//! exchange their rows through the job's key-value service, so each host replays the batch in
//! global row order (host 0's rows, then host 1's, ...), exactly as one host would see it.

use ouro_ckpt::Hosts;

use crate::error::{Error, Result};

/// One host's rows of one test batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalRows {
    /// Tokens per row.
    pub seq_len: usize,
    /// `[rows, seq_len]` input tokens.
    pub inputs: Vec<i32>,
    /// `[rows, seq_len]` predicted tokens.
    pub preds: Vec<i32>,
    /// `[rows]` puzzle identifiers.
    pub puzzle_identifiers: Vec<i32>,
    /// `[rows]` q-halt logits.
    pub q_halt: Vec<f32>,
}

impl EvalRows {
    /// Rows held.
    pub fn rows(&self) -> usize {
        self.puzzle_identifiers.len()
    }

    /// Appends `other`'s rows.
    pub fn extend(&mut self, other: &EvalRows) {
        self.seq_len = other.seq_len;
        self.inputs.extend(&other.inputs);
        self.preds.extend(&other.preds);
        self.puzzle_identifiers.extend(&other.puzzle_identifiers);
        self.q_halt.extend(&other.q_halt);
    }

    /// Little-endian: rows and seq_len (u32), tokens as u16 (inputs, then predictions), then the
    /// identifiers (i32) and the logits (f32).
    pub fn encode(&self) -> Result<Vec<u8>> {
        let rows = self.rows();
        let tokens = rows * self.seq_len;
        if self.inputs.len() != tokens || self.preds.len() != tokens || self.q_halt.len() != rows {
            return Err(Error::Hosts(format!(
                "evaluation rows of inconsistent sizes ({rows} rows of {} tokens)",
                self.seq_len
            )));
        }
        let mut out = Vec::with_capacity(8 + 4 * tokens + 8 * rows);
        out.extend((rows as u32).to_le_bytes());
        out.extend((self.seq_len as u32).to_le_bytes());
        for &t in self.inputs.iter().chain(&self.preds) {
            let t = u16::try_from(t).map_err(|_| Error::Hosts(format!("token {t} is outside 0..65536")))?;
            out.extend(t.to_le_bytes());
        }
        out.extend(self.puzzle_identifiers.iter().flat_map(|v| v.to_le_bytes()));
        out.extend(self.q_halt.iter().flat_map(|v| v.to_le_bytes()));
        Ok(out)
    }

    /// The inverse of [`EvalRows::encode`]; bytes of another length are refused.
    pub fn decode(bytes: &[u8]) -> Result<EvalRows> {
        let word = |at: usize| -> Result<[u8; 4]> {
            bytes.get(at..at + 4).and_then(|b| b.try_into().ok()).ok_or_else(|| Error::Hosts("truncated".into()))
        };
        let rows = u32::from_le_bytes(word(0)?) as usize;
        let seq_len = u32::from_le_bytes(word(4)?) as usize;
        let tokens =
            rows.checked_mul(seq_len).ok_or_else(|| Error::Hosts(format!("{rows} rows of {seq_len} overflow")))?;
        let expected = 8usize.checked_add(tokens.saturating_mul(4)).and_then(|n| n.checked_add(rows.saturating_mul(8)));
        if expected != Some(bytes.len()) {
            return Err(Error::Hosts(format!(
                "evaluation rows of {} bytes, not the {expected:?} that {rows} rows of {seq_len} tokens take",
                bytes.len()
            )));
        }
        let token = |i: usize| i32::from(u16::from_le_bytes([bytes[8 + 2 * i], bytes[9 + 2 * i]]));
        let tail = 8 + 4 * tokens;
        let four = |i: usize| [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]];
        Ok(EvalRows {
            seq_len,
            inputs: (0..tokens).map(token).collect(),
            preds: (tokens..2 * tokens).map(token).collect(),
            puzzle_identifiers: (0..rows).map(|r| i32::from_le_bytes(four(tail + 4 * r))).collect(),
            q_halt: (0..rows).map(|r| f32::from_le_bytes(four(tail + 4 * rows + 4 * r))).collect(),
        })
    }
}

/// Every host's rows of exchange `name` (unique per batch of an evaluation), in host order:
/// the batch's rows in global order.
pub fn gather_rows(hosts: &dyn Hosts, name: &str, local: &EvalRows) -> Result<EvalRows> {
    let all = hosts.all_gather(name, &local.encode()?).map_err(|e| Error::Hosts(format!("gathering {name}: {e}")))?;
    let mut rows = EvalRows::default();
    for (host, bytes) in all.iter().enumerate() {
        let part = EvalRows::decode(bytes).map_err(|e| Error::Hosts(format!("{name} from host {host}: {e}")))?;
        if rows.rows() > 0 && part.rows() > 0 && part.seq_len != rows.seq_len {
            return Err(Error::Hosts(format!(
                "{name}: host {host} sent rows of {} tokens, host 0 of {}",
                part.seq_len, rows.seq_len
            )));
        }
        rows.extend(&part);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(seed: i32, n: usize) -> EvalRows {
        EvalRows {
            seq_len: 3,
            inputs: (0..3 * n as i32).map(|i| (i + seed) % 12).collect(),
            preds: (0..3 * n as i32).map(|i| (i * 7 + seed) % 12).collect(),
            puzzle_identifiers: (0..n as i32).map(|i| i + 100 * seed).collect(),
            q_halt: (0..n).map(|i| i as f32 * -0.5 + seed as f32).collect(),
        }
    }

    #[test]
    fn rows_round_trip_and_bad_bytes_are_refused() {
        let r = rows(2, 5);
        assert_eq!(EvalRows::decode(&r.encode().unwrap()).unwrap(), r);
        assert_eq!(EvalRows::decode(&EvalRows::default().encode().unwrap()).unwrap().rows(), 0);
        let bytes = r.encode().unwrap();
        for bad in [&bytes[..bytes.len() - 1], &bytes[..6], &[0xff; 8][..]] {
            assert!(EvalRows::decode(bad).is_err());
        }
        let mut wrong = r.clone();
        wrong.preds.pop();
        assert!(wrong.encode().unwrap_err().to_string().contains("inconsistent"));
        wrong = r;
        wrong.inputs[0] = -1;
        assert!(wrong.encode().unwrap_err().to_string().contains("-1"));
    }

    #[test]
    fn one_host_gathers_its_own_rows() {
        let r = rows(1, 4);
        assert_eq!(gather_rows(&ouro_ckpt::OneHost, "eval/0/0", &r).unwrap(), r);
    }
}
