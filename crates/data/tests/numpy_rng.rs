//! ouro's numpy-compatible generators against draws made by numpy itself
//! (fixtures/numpy_rng.json, written by fixtures/numpy_rng.py).

use ouro_data::rng::{NumpyLegacy, NumpyPhilox};
use serde_json::Value;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/numpy_rng.json")).unwrap()
}

fn ints(v: &Value) -> Vec<i128> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().map(i128::from).unwrap_or_else(|| x.as_u64().unwrap() as i128))
        .collect()
}

#[test]
fn philox_generator_matches_numpy() {
    for case in fixture()["philox"].as_array().unwrap() {
        let seed = case["seed"].as_u64().unwrap() as u128;
        let mut g = NumpyPhilox::new(seed);
        for (n, want) in [1usize, 2, 10, 1000].iter().zip(case["permutations"].as_array().unwrap()) {
            let got: Vec<i128> = g.permutation(*n).into_iter().map(i128::from).collect();
            assert_eq!(got, ints(want), "seed {seed}, permutation({n})");
        }
        let ranges = [(0i64, 1i64), (0, 2), (5, 17), (0, 1001), (3, 3 + (1 << 33)), (0, 1 << 32)];
        let got: Vec<i128> = ranges.iter().map(|&(lo, hi)| g.integers(lo, hi) as i128).collect();
        assert_eq!(got, ints(&case["integers"]), "seed {seed}, integers");
        let after: Vec<i128> = g.permutation(7).into_iter().map(i128::from).collect();
        assert_eq!(after, ints(&case["after"]), "seed {seed}: the stream continues in step");
    }
}

#[test]
fn legacy_random_state_matches_numpy() {
    for case in fixture()["legacy"].as_array().unwrap() {
        let seed = case["seed"].as_u64().unwrap() as u32;
        let mut r = NumpyLegacy::new(seed);
        let got: Vec<i128> = [1u64, 2, 8, 30, 1000, 1 << 31].iter().map(|&n| r.randint(n) as i128).collect();
        assert_eq!(got, ints(&case["randint"]), "seed {seed}, randint");
        let got: Vec<i128> = r.permutation(9).into_iter().map(|v| v as i128).collect();
        assert_eq!(got, ints(&case["permutation"]), "seed {seed}, permutation");
        let rand: Vec<f64> = (0..3).map(|_| r.rand()).collect();
        let want: Vec<f64> = case["rand"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(rand, want, "seed {seed}, rand");
        let mut list: Vec<i128> = (0..12).collect();
        r.shuffle(&mut list);
        assert_eq!(list, ints(&case["shuffle"]), "seed {seed}, shuffle");
        let got: Vec<i128> = r.choice(50, 7).into_iter().map(|v| v as i128).collect();
        assert_eq!(got, ints(&case["choice"]), "seed {seed}, choice");
        let mut digits: Vec<i128> = (1..10).collect();
        r.shuffle(&mut digits);
        assert_eq!(digits, ints(&case["permutation_arange"]), "seed {seed}, permutation(arange(1, 10))");
    }
}
