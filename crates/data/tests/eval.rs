//! The ARC evaluator against the official one (fixtures/official_arc_eval.json, from
//! fixtures/official_arc_eval.py): the same synthetic predictions, the same pass@k, including
//! the official accumulation of votes across evaluations.

use std::path::Path;

use ouro_data::build::arc::{ArcOptions, build};
use ouro_data::eval::ArcEvaluator;
use ouro_data::npy::NpyArray;

#[test]
fn arc_pass_at_k_equals_the_official_evaluator() {
    let dir = std::env::temp_dir().join(format!("ouro-eval-{}", std::process::id()));
    let prefix = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/arc-agi/arc-agi");
    build(&ArcOptions { num_aug: 4, ..ArcOptions::arc1(prefix) }, &dir, true).unwrap();
    let read = |name: &str| NpyArray::open(&dir.join("test").join(name)).unwrap();
    let (inputs, labels) = (read("all__inputs.npy"), read("all__labels.npy"));
    let pidx = read("all__puzzle_indices.npy").to_vec();
    let ids = read("all__puzzle_identifiers.npy").to_vec();
    let rows = inputs.shape()[0];
    let mut row_ids = Vec::with_capacity(rows);
    for p in 0..ids.len() {
        row_ids.extend(std::iter::repeat_n(ids[p] as i32, (pidx[p + 1] - pidx[p]) as usize));
    }
    let row = |a: &NpyArray, i: usize| {
        let mut v = vec![0i32; 900];
        a.copy_range_i32(i * 900, &mut v);
        v
    };
    let want: serde_json::Value = serde_json::from_str(include_str!("fixtures/official_arc_eval.json")).unwrap();
    for (rounds, want) in [1usize, 2].into_iter().zip(want.as_array().unwrap()) {
        let mut ev = ArcEvaluator::open(&dir, 0).unwrap();
        for r in 0..rounds {
            ev.begin_eval();
            for start in (0..rows).step_by(500) {
                let end = (start + 500).min(rows);
                let (mut batch_inputs, mut preds, mut q) = (Vec::new(), Vec::new(), Vec::new());
                for i in start..end {
                    let (inp, lab) = (row(&inputs, i), row(&labels, i));
                    let kind = (i * 7 + r) % 5;
                    preds.extend(match kind {
                        0 => lab.clone(),
                        1 | 2 => inp.clone(),
                        _ => lab.iter().map(|&t| if t == 2 { 3 } else { t }).collect(),
                    });
                    batch_inputs.extend(inp);
                    q.push(((i as f64 + r as f64).sin() * 3.0) as f32);
                }
                ev.update(&batch_inputs, &preds, &row_ids[start..end], &q).unwrap();
            }
        }
        let (metrics, submission) = ev.result();
        for (k, v) in &metrics {
            let expected = want[k].as_f64().unwrap();
            assert!((v - expected).abs() < 1e-12, "{rounds} round(s): {k} = {v}, official {expected}");
        }
        assert_eq!(submission.as_object().unwrap().len(), 400);
    }
    std::fs::remove_dir_all(dir).unwrap();
}
