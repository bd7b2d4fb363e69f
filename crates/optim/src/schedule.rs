use ouro_ir::{DType, Tensor};

/// The official `cosine_schedule_with_warmup_lr_lambda` (half a cosine): linear warm-up to
/// `base` over `warmup_steps`, then a cosine from `base` down to `base·min_ratio` at
/// `total_steps`. Steps are 1-based (the first update uses `base/warmup`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    /// Peak learning rate.
    pub base: f64,
    /// Warm-up steps.
    pub warmup_steps: usize,
    /// Steps of the whole run (the cosine's end).
    pub total_steps: usize,
    /// Final learning rate as a fraction of `base` (1 = constant after warm-up).
    pub min_ratio: f64,
}

impl Schedule {
    /// The learning rate at 1-based `step`, on the host (logs, tests).
    pub fn at(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.base * step as f64 / self.warmup_steps.max(1) as f64;
        }
        let progress =
            (step - self.warmup_steps) as f64 / (self.total_steps.saturating_sub(self.warmup_steps)).max(1) as f64;
        let cosine = (1.0 - self.min_ratio) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        self.base * (self.min_ratio + cosine.max(0.0))
    }
}

/// [`Schedule::at`] traced for an f32 scalar step.
pub fn lr_traced<'t>(schedule: &Schedule, step: Tensor<'t>) -> Tensor<'t> {
    let step = step.cast(DType::F32);
    let s = schedule;
    let warm = step * (s.base / s.warmup_steps.max(1) as f64);
    let span = (s.total_steps.saturating_sub(s.warmup_steps)).max(1) as f64;
    let progress = (step - s.warmup_steps as f64) / span;
    let cosine = ((progress * std::f64::consts::PI).cos() + 1.0) * ((1.0 - s.min_ratio) * 0.5);
    let decayed = (cosine.max(0.0) + s.min_ratio) * s.base;
    step.lt(s.warmup_steps as f64).select(warm, decayed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ouro_ir::{HostArray, TensorType, Tracer, interp};

    #[test]
    fn traced_and_host_schedules_agree() {
        let cases = [
            Schedule { base: 1e-4, warmup_steps: 2000, total_steps: 65_104, min_ratio: 1.0 },
            Schedule { base: 1e-2, warmup_steps: 10, total_steps: 100, min_ratio: 0.1 },
            Schedule { base: 3e-4, warmup_steps: 0, total_steps: 50, min_ratio: 0.0 },
        ];
        for s in cases {
            let tr = Tracer::new("lr");
            let step = tr.param("step", TensorType::scalar(DType::F32));
            let func = tr.finish(&[lr_traced(&s, step)]).unwrap();
            // The loop never steps past `total_steps`.
            let steps = [1, 2, 5, 9, 10, 11, 50, 99, 100, 1999, 2000, 2001, 65_104];
            for k in steps.into_iter().filter(|&k| k <= s.total_steps) {
                let out = interp::eval(&func, &[HostArray::scalar(DType::F32, k as f64)]).unwrap();
                let got = out[0].to_f64_vec()[0];
                let want = s.at(k);
                assert!((got - want).abs() <= 1e-6 * s.base.max(want), "{s:?} step {k}: {got} vs {want}");
            }
        }
        let s = Schedule { base: 1e-4, warmup_steps: 2000, total_steps: 65_104, min_ratio: 1.0 };
        assert_eq!(s.at(1), 1e-4 / 2000.0);
        assert_eq!(s.at(5000), 1e-4);
    }
}
