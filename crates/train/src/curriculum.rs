//! The recursion-depth curriculum of contrib01: `H_cycles` and `L_cycles` grow linearly from
//! their start values to the architecture's over the first `curriculum_end_epoch` epochs,
//! `L(p) = int(L0 + p · (L − L0))` (likewise `H`), `p = min(epoch / end_epoch, 1)`.
//!
//! The depth changes the traced program, not its state: every depth shares the parameters, the
//! optimizer state and the carry. The trainer compiles one train step per depth the run meets
//! (a handful: contrib01 has five) instead of one program with data-dependent trip counts,
//! because the cycle with gradient would need a differentiable `while` and every step would pay
//! for a dynamic loop; a step at a shallow depth costs only its own FLOPs. `p` moves at step
//! granularity (the epoch reached at each step), not per evaluation interval, which would give
//! contrib01 only three depths.

use crate::config::Recipe;
#[cfg(test)]
use crate::config::TrainConfig;
use crate::error::{Error, Result};

/// The recursion depth of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Depth {
    /// `H_cycles`.
    pub h_cycles: usize,
    /// `L_cycles`.
    pub l_cycles: usize,
}

impl std::fmt::Display for Depth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "H_cycles {} × L_cycles {}", self.h_cycles, self.l_cycles)
    }
}

/// The depth of every step of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Curriculum {
    start: Depth,
    end: Depth,
    /// `epochs / (total_steps · end_epoch)` as a fraction: `p` after `s` steps is
    /// `s · num / den`, kept in integers so a depth changes at exactly the same step everywhere.
    num: u128,
    den: u128,
}

impl Curriculum {
    /// The curriculum of `recipe` over a run of `total_steps`; `None` when the config has none
    /// (every step at the architecture's depth).
    pub fn of(recipe: &Recipe, total_steps: u64) -> Result<Option<Curriculum>> {
        if !recipe.use_curriculum_recursion {
            return Ok(None);
        }
        let end = Depth { h_cycles: recipe.arch.h_cycles, l_cycles: recipe.arch.l_cycles };
        let (Some(h0), Some(l0), Some(end_epoch)) =
            (recipe.curriculum_start_h_cycles, recipe.curriculum_start_l_cycles, recipe.curriculum_end_epoch)
        else {
            return Err(Error::Config(
                "use_curriculum_recursion needs curriculum_start_h_cycles, curriculum_start_l_cycles and \
                 curriculum_end_epoch"
                    .into(),
            ));
        };
        if h0 == 0 || h0 > end.h_cycles {
            return Err(Error::Config(format!(
                "curriculum_start_h_cycles ({h0}) must be in 1..=arch.H_cycles ({})",
                end.h_cycles
            )));
        }
        if l0 == 0 || l0 > end.l_cycles {
            return Err(Error::Config(format!(
                "curriculum_start_l_cycles ({l0}) must be in 1..=arch.L_cycles ({})",
                end.l_cycles
            )));
        }
        if end_epoch == 0 {
            return Err(Error::Config(
                "curriculum_end_epoch must be at least 1 (the epoch at which the full depth is reached)".into(),
            ));
        }
        Ok(Some(Curriculum {
            start: Depth { h_cycles: h0, l_cycles: l0 },
            end,
            num: recipe.epochs as u128,
            den: total_steps.max(1) as u128 * end_epoch as u128,
        }))
    }

    /// The depth of the step taken after `completed` steps (the first step has `completed = 0`).
    pub fn depth_at(&self, completed: u64) -> Depth {
        let reached = completed as u128 * self.num;
        let grow = |from: usize, to: usize| {
            // int(from + p · (to − from)) with p = min(reached / den, 1), in integers.
            let span = (to - from) as u128;
            from + (reached * span / self.den).min(span) as usize
        };
        Depth {
            h_cycles: grow(self.start.h_cycles, self.end.h_cycles),
            l_cycles: grow(self.start.l_cycles, self.end.l_cycles),
        }
    }

    /// The depths of the steps after `from` completed steps up to `to`, each with the number of
    /// steps taken at it, in order.
    pub fn spans(&self, from: u64, to: u64) -> Vec<(Depth, u64)> {
        let mut spans: Vec<(Depth, u64)> = Vec::new();
        let mut s = from;
        while s < to {
            let depth = self.depth_at(s);
            // The depth only grows: find the last step at it by bisection.
            let (mut lo, mut hi) = (s, to - 1);
            while lo < hi {
                let mid = lo + (hi - lo).div_ceil(2);
                if self.depth_at(mid) == depth { lo = mid } else { hi = mid - 1 }
            }
            spans.push((depth, lo + 1 - s));
            s = lo + 1;
        }
        spans
    }
}

/// `recipe` with its architecture at `depth`.
pub fn at_depth(recipe: &Recipe, depth: Depth) -> Recipe {
    let mut r = recipe.clone();
    r.arch.h_cycles = depth.h_cycles;
    r.arch.l_cycles = depth.l_cycles;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "arch:\n  hidden_size: 64\n  num_heads: 2\n  H_cycles: 3\n  L_cycles: 6\ndata_paths: [d]\n\
        global_batch_size: 8\nepochs: 50000\neval_interval: 5000\nlr: 1.0e-4\nweight_decay: 0.1\n\
        puzzle_emb_lr: 1.0e-2\npuzzle_emb_weight_decay: 0.1\nuse_curriculum_recursion: true\n";

    fn parse(extra: &[&str]) -> Result<TrainConfig> {
        TrainConfig::parse(BASE, "test.yaml", &extra.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn contrib01_grows_through_five_depths_over_the_first_fifth() {
        let cfg =
            parse(&["+curriculum_start_l_cycles=2", "+curriculum_start_h_cycles=1", "+curriculum_end_epoch=10000"])
                .unwrap();
        // 50 000 epochs in 1000 steps: epoch 10 000 is reached after 200 steps.
        let c = Curriculum::of(&cfg.recipe, 1000).unwrap().unwrap();
        let d = |h, l| Depth { h_cycles: h, l_cycles: l };
        assert_eq!(c.depth_at(0), d(1, 2));
        // L = int(2 + 4p) steps at p = 1/4, 1/2, 3/4; H = int(1 + 2p) at p = 1/2.
        assert_eq!(c.depth_at(49), d(1, 2));
        assert_eq!(c.depth_at(50), d(1, 3));
        assert_eq!(c.depth_at(100), d(2, 4));
        assert_eq!(c.depth_at(150), d(2, 5));
        assert_eq!(c.depth_at(199), d(2, 5));
        assert_eq!(c.depth_at(200), d(3, 6));
        assert_eq!(c.depth_at(999), d(3, 6));
        assert_eq!(c.spans(0, 1000), vec![(d(1, 2), 50), (d(1, 3), 50), (d(2, 4), 50), (d(2, 5), 50), (d(3, 6), 800)]);
        // A resumed run only meets the depths of its remaining steps.
        assert_eq!(c.spans(180, 250), vec![(d(2, 5), 20), (d(3, 6), 50)]);
        assert!(c.spans(5, 5).is_empty());
        assert_eq!(at_depth(&cfg.recipe, d(2, 4)).arch.l_cycles, 4);
    }

    #[test]
    fn no_curriculum_without_the_switch_and_bad_bounds_are_refused() {
        let cfg = parse(&["use_curriculum_recursion=false"]).unwrap();
        assert!(Curriculum::of(&cfg.recipe, 10).unwrap().is_none());
        for (extra, want) in [
            (vec![], "needs curriculum_start_h_cycles"),
            (
                vec!["+curriculum_start_l_cycles=7", "+curriculum_start_h_cycles=1", "+curriculum_end_epoch=5"],
                "curriculum_start_l_cycles (7) must be in 1..=arch.L_cycles (6)",
            ),
            (
                vec!["+curriculum_start_l_cycles=2", "+curriculum_start_h_cycles=0", "+curriculum_end_epoch=5"],
                "curriculum_start_h_cycles (0)",
            ),
            (
                vec!["+curriculum_start_l_cycles=2", "+curriculum_start_h_cycles=1", "+curriculum_end_epoch=0"],
                "curriculum_end_epoch must be at least 1",
            ),
        ] {
            let e = parse(&extra).unwrap_err();
            assert!(format!("{e:#}").contains(want), "{e:#}");
        }
    }
}
