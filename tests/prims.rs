//! Every prim case (declared in its own file under crates/ir/src/prims/) through the whole
//! pipeline: lowered to StableHLO (checked against its golden under tests/golden/, regenerated
//! with UPDATE_GOLDEN=1), compiled by the pinned CPU plugin, run, and compared with the
//! reference interpreter.

use ouro_ir::prims::all_cases;
use ouro_ir::testing::Case;
use ouro_ir::{DType, HostArray, interp};
use ouro_lower::{LowerOptions, lower};
use ouro_runtime::Runtime;

/// Tolerance for comparing the interpreter (which rounds each op to its dtype) with XLA (which
/// may keep more precision inside fusions).
fn tolerance(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => 1e-12,
        DType::F32 => 2e-6,
        DType::F16 => 2e-3,
        DType::BF16 => 1e-2,
        _ => 0.0,
    }
}

fn close(a: &HostArray, b: &HostArray) -> Result<(), String> {
    if a.ty() != b.ty() {
        return Err(format!("types differ: {} vs {}", a.ty(), b.ty()));
    }
    let tol = tolerance(a.dtype());
    for (i, (x, y)) in a.to_f64_vec().into_iter().zip(b.to_f64_vec()).enumerate() {
        let same = (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= tol * x.abs().max(y.abs()).max(1.0);
        if !same {
            return Err(format!("element {i}: plugin {x} vs interpreter {y}"));
        }
    }
    Ok(())
}

fn golden_path(case: &Case) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{}.mlir", case.name))
}

#[test]
fn case_names_are_unique_and_every_prim_has_one() {
    let cases = all_cases();
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "duplicate case names");
    let prims: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.prim.name()).collect();
    assert_eq!(prims.len(), 56, "every prim declares at least one case: {prims:?}");
}

#[test]
fn every_prim_lowers_to_its_golden_compiles_and_agrees_with_the_interpreter() {
    let runtime = Runtime::open_default(1).expect("CPU plugin");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for case in all_cases() {
        let func = match case.func() {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{}: trace: {e}", case.name));
                continue;
            }
        };
        let lowered = match lower(&func, &LowerOptions::default()) {
            Ok(l) => l,
            Err(e) => {
                failures.push(format!("{}: lower: {e}", case.name));
                continue;
            }
        };
        let path = golden_path(&case);
        if update {
            std::fs::write(&path, &lowered.text).unwrap();
        } else {
            match std::fs::read_to_string(&path) {
                Ok(golden) if golden == lowered.text => {}
                Ok(_) => failures.push(format!(
                    "{}: the StableHLO differs from {} (UPDATE_GOLDEN=1 regenerates)",
                    case.name,
                    path.display()
                )),
                Err(_) => {
                    failures.push(format!("{}: no golden at {} (UPDATE_GOLDEN=1 writes it)", case.name, path.display()))
                }
            }
        }
        let exe = match runtime.compile(&func, &LowerOptions::default()) {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("{}: compile: {e}\n{}", case.name, lowered.text));
                continue;
            }
        };
        let inputs = case.sample_inputs(1);
        let got = match exe.run_host(runtime.client(), &inputs) {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{}: run: {e}", case.name));
                continue;
            }
        };
        // Backend-defined bits have no reference: only their types are checked.
        if case.prim.name() == "rng_bit_generator" {
            let types: Vec<_> = got.iter().map(HostArray::ty).collect();
            if types != func.output_types() {
                failures.push(format!("{}: output types {types:?}", case.name));
            }
            continue;
        }
        match interp::eval(&func, &inputs) {
            Ok(want) => {
                for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                    if let Err(e) = close(g, w) {
                        failures.push(format!("{}: output {k}: {e}", case.name));
                    }
                }
            }
            Err(e) => failures.push(format!("{}: interpreter: {e}", case.name)),
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
