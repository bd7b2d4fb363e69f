//! Held-out test sets. A test example is held out when no training example has its input: not
//! the puzzle itself, nor any augmentation the builder made of a training puzzle (shuffled
//! digits and bands, dihedral images). Generated test sets are drawn until they hold only such
//! examples; imported ones are counted.
//!
//! The check is exact on the examples, not on symmetry classes: 4×4 Sudoku has only a few dozen
//! essentially different minimal puzzles, so every 4×4 test puzzle is some symmetry of a training
//! puzzle, yet none of them is an example the model was trained on.

use crate::error::{Error, Result};
use crate::writer::SplitArrays;

/// The inputs of a training split, sorted for lookup (four bytes an example beside the split).
pub struct Seen<'a> {
    inputs: &'a [u8],
    seq_len: usize,
    sorted: Vec<u32>,
}

impl<'a> Seen<'a> {
    /// The inputs of `train`'s examples of `seq_len` tokens each.
    pub fn of(train: &'a SplitArrays, seq_len: usize) -> Seen<'a> {
        let inputs = train.inputs.as_slice();
        let count = inputs.len().checked_div(seq_len).unwrap_or(0);
        let mut sorted: Vec<u32> = (0..count as u32).collect();
        sorted.sort_unstable_by(|&a, &b| example(inputs, seq_len, a).cmp(example(inputs, seq_len, b)));
        Seen { inputs, seq_len, sorted }
    }

    /// Whether some training example has the input `tokens`.
    pub fn contains(&self, tokens: &[u8]) -> bool {
        if tokens.len() != self.seq_len {
            return false;
        }
        self.sorted.binary_search_by(|&i| example(self.inputs, self.seq_len, i).cmp(tokens)).is_ok()
    }

    /// How many of `split`'s examples have an input some training example has.
    pub fn overlap(&self, split: &SplitArrays) -> usize {
        split.inputs.chunks_exact(self.seq_len.max(1)).filter(|x| self.contains(x)).count()
    }
}

/// Example `i` of `inputs`, `seq_len` tokens each.
fn example(inputs: &[u8], seq_len: usize, i: u32) -> &[u8] {
    &inputs[i as usize * seq_len..(i as usize + 1) * seq_len]
}

/// `count` rows none of whose inputs training has seen, in the order `generate` makes them:
/// rows `0..` of a generator (`generate(range)` makes rows of those indices), skipping the seen
/// ones. Refused naming `what` when fewer than `count` unseen rows turn up in 20 × `count` +
/// 1000 tries (a training set that covers nearly every puzzle of the kind).
pub fn draw<R>(
    what: &str,
    count: usize,
    generate: impl Fn(std::ops::Range<usize>) -> Vec<R>,
    input: impl Fn(&R) -> Vec<u8>,
    seen: &Seen<'_>,
) -> Result<Vec<R>> {
    let tries = count.saturating_mul(20).saturating_add(1000);
    let mut kept = Vec::with_capacity(count);
    let mut next = 0;
    while kept.len() < count && next < tries {
        let end = (next + (count - kept.len())).min(tries);
        let batch = generate(next..end);
        next = end;
        kept.extend(batch.into_iter().filter(|r| !seen.contains(&input(r))));
    }
    if kept.len() < count {
        return Err(Error::Config(format!(
            "only {} of {count} generated test {what} in {tries} tries differ from every training example: \
             the training set holds nearly every {what} there is; ask for fewer training {what} or augmentations",
            kept.len()
        )));
    }
    kept.truncate(count);
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(examples: &[[u8; 3]]) -> SplitArrays {
        SplitArrays { inputs: examples.concat(), ..SplitArrays::default() }
    }

    #[test]
    fn seen_inputs_are_found_and_counted_exactly() {
        let train = split(&[[1, 2, 3], [3, 2, 1], [1, 2, 3], [2, 2, 2]]);
        let seen = Seen::of(&train, 3);
        assert!(seen.contains(&[3, 2, 1]) && seen.contains(&[2, 2, 2]));
        assert!(!seen.contains(&[1, 2, 4]) && !seen.contains(&[1, 2]));
        assert_eq!(seen.overlap(&split(&[[2, 2, 2], [0, 0, 0], [1, 2, 3]])), 2);
    }

    #[test]
    fn a_draw_skips_seen_rows_in_order_and_refuses_when_too_few_are_new() {
        let train = split(&[[0, 0, 1], [0, 0, 3]]);
        let seen = Seen::of(&train, 3);
        // Row i's input is [0, 0, i mod 4]: rows 1 and 3 (and 5, 7, ...) were seen.
        let rows = |r: std::ops::Range<usize>| r.collect::<Vec<usize>>();
        let input = |&i: &usize| vec![0, 0, (i % 4) as u8];
        assert_eq!(draw("puzzles", 4, rows, input, &seen).unwrap(), vec![0, 2, 4, 6]);
        let only_seen = |r: std::ops::Range<usize>| r.map(|i| 2 * i + 1).collect::<Vec<usize>>();
        let e = draw("puzzles", 3, only_seen, input, &seen).unwrap_err().to_string();
        assert!(e.contains("only 0 of 3 generated test puzzles in 1060 tries"), "{e}");
    }
}
