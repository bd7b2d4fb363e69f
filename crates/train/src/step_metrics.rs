//! The train step's metrics output (one f32 vector, so one device-to-host copy a step) and
//! what it means, by name.

use ouro_nn::{METRICS, Metrics};

/// The metrics prefix of the counts of sequences that halted after `k` ACT steps.
pub const HALTED_AFTER: &str = "halted_after/";

/// What the metrics output of a train step holds: the model's [`Metrics`], `lr`, the halting
/// counts for `k = 1..=halt_max_steps`, with loss scaling `loss_scale` and `overflow`, then
/// `finite`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricsLayout {
    /// The ACT step limit: the number of halting counts.
    pub halt_max_steps: usize,
    /// Whether the step scales its loss.
    pub loss_scale: bool,
}

/// One train step's metrics as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainMetrics {
    /// The model's metrics, summed over the sequences that halted (losses over every slot).
    pub model: Metrics<f64>,
    /// The dense learning rate of the step.
    pub lr: f64,
    /// How many sequences halted after exactly `k + 1` ACT steps.
    pub halted_after: Vec<f64>,
    /// The loss scale the step used and whether its gradients overflowed (1 or 0).
    pub loss_scale: Option<(f64, f64)>,
    /// Whether the step was sound (loss and gradients finite, or an overflow loss scaling
    /// absorbs).
    pub finite: bool,
}

impl MetricsLayout {
    /// The output's names, in order.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = METRICS.iter().map(|s| s.to_string()).collect();
        names.push("lr".to_string());
        names.extend((1..=self.halt_max_steps).map(|k| format!("{HALTED_AFTER}{k}")));
        if self.loss_scale {
            names.extend(["loss_scale".to_string(), "overflow".to_string()]);
        }
        names.push("finite".to_string());
        names
    }

    /// The number of values the output holds (as many as [`MetricsLayout::names`]).
    pub fn count(&self) -> usize {
        METRICS.len() + 1 + self.halt_max_steps + if self.loss_scale { 2 } else { 0 } + 1
    }

    /// The values of an output of this layout; `None` if it has another length.
    pub fn read(&self, values: &[f64]) -> Option<TrainMetrics> {
        if values.len() != self.count() {
            return None;
        }
        let model = Metrics::from_slice(values)?;
        let rest = &values[METRICS.len()..];
        let (lr, rest) = rest.split_first()?;
        let (halted_after, rest) = rest.split_at(self.halt_max_steps);
        let loss_scale = self.loss_scale.then(|| (rest[0], rest[1]));
        let finite = *rest.last()? == 1.0;
        Some(TrainMetrics { model, lr: *lr, halted_after: halted_after.to_vec(), loss_scale, finite })
    }
}

impl TrainMetrics {
    /// The step's `train/…` records as the official loop logs them (halting counts aside):
    /// losses divided by the global batch, the other model metrics (count too: 1 when some
    /// sequence halted, else 0) by the number of sequences that halted; `lr` and the loss
    /// scaling as they are.
    pub fn log(&self, global_batch: usize) -> Vec<(String, f64)> {
        let count = self.model.count.max(1.0);
        let m = &self.model;
        let per_halted = |v: f64| v / count;
        let per_batch = |v: f64| v / global_batch as f64;
        let mut out = vec![
            ("count", per_halted(m.count)),
            // The official `count` is itself divided by the count (1, or 0 when no sequence
            // halted); the number halted weighs the per-halted values over a window.
            ("halted", m.count),
            ("accuracy", per_halted(m.accuracy)),
            ("exact_accuracy", per_halted(m.exact_accuracy)),
            ("q_halt_accuracy", per_halted(m.q_halt_accuracy)),
            ("steps", per_halted(m.steps)),
            ("lm_loss", per_batch(m.lm_loss)),
            ("q_halt_loss", per_batch(m.q_halt_loss)),
            ("q_continue_loss", per_batch(m.q_continue_loss)),
            ("lr", self.lr),
        ];
        if let Some((scale, overflow)) = self.loss_scale {
            out.extend([("loss_scale", scale), ("overflow", overflow)]);
        }
        out.into_iter().map(|(n, v)| (format!("train/{n}"), v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_read_by_name_and_log_as_official() {
        let layout = MetricsLayout { halt_max_steps: 2, loss_scale: true };
        assert_eq!(layout.names().len(), 8 + 1 + 2 + 2 + 1);
        assert_eq!(layout.count(), layout.names().len());
        // count 4, accuracy 2, exact 1, q_halt 3, steps 8, losses 16/32/64 (a batch of 8).
        let values = [4.0, 2.0, 1.0, 3.0, 8.0, 16.0, 32.0, 64.0, 0.01, 3.0, 1.0, 128.0, 0.0, 1.0];
        let m = layout.read(&values).unwrap();
        assert_eq!(
            (m.model.lm_loss, m.lr, m.halted_after.clone(), m.loss_scale, m.finite),
            (16.0, 0.01, vec![3.0, 1.0], Some((128.0, 0.0)), true)
        );
        let log = m.log(8);
        let get = |k: &str| log.iter().find(|(n, _)| n == k).unwrap().1;
        assert_eq!((get("train/count"), get("train/accuracy"), get("train/steps")), (1.0, 0.5, 2.0));
        assert_eq!((get("train/lm_loss"), get("train/q_continue_loss"), get("train/lr")), (2.0, 8.0, 0.01));
        assert_eq!(get("train/loss_scale"), 128.0);
        assert_eq!(get("train/halted"), 4.0, "the number halted, to weigh a window by");
        assert!(log.iter().all(|(n, _)| !n.contains("halted_after") && n != "train/finite"));
        let mut unsound = values;
        unsound[13] = 0.0;
        assert!(!layout.read(&unsound).unwrap().finite);
        assert!(layout.read(&values[1..]).is_none(), "a short output is no output of this layout");
    }
}
