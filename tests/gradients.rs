//! Table-driven gradient checks of every differentiable prim and composite, in f64.
//!
//! For a function `f` at inputs `x`, a random direction `v` and a random output cotangent `u`:
//! the central finite difference gives `J v`, the VJP gives `Jᵀ u`, and the identity
//! `⟨u, J v⟩ = ⟨Jᵀ u, v⟩` must hold. The VJP is evaluated on the reference interpreter and on
//! the CPU plugin, which must also agree with each other.

use ouro_autodiff::vjp_func;
use ouro_ir::composite::{erf_inv, gelu_tanh, log_softmax, logsumexp, mean, silu, softmax, var};
use ouro_ir::prims::all_cases;
use ouro_ir::testing::{Domain, Rng, sample};
use ouro_ir::{DType, Func, HostArray, Tensor, TensorType, Tracer, interp};
use ouro_lower::LowerOptions;
use ouro_runtime::Runtime;

struct GradCase {
    name: String,
    func: Func,
    inputs: Vec<HostArray>,
}

fn float_params(f: &Func) -> Vec<usize> {
    (0..f.params.len()).filter(|&i| f.ty(f.params[i]).dtype.is_float()).collect()
}

fn dot(a: &HostArray, b: &HostArray) -> f64 {
    a.to_f64_vec().iter().zip(b.to_f64_vec()).map(|(x, y)| x * y).sum()
}

fn shifted(x: &HostArray, v: &HostArray, eps: f64) -> HostArray {
    let values: Vec<f64> = x.to_f64_vec().iter().zip(v.to_f64_vec()).map(|(a, b)| a + eps * b).collect();
    HostArray::from_f64(x.dtype(), x.shape(), &values)
}

/// Checks one case; returns a description of the failure, if any.
fn check(case: &GradCase, runtime: &Runtime, seed: u64) -> Result<(), String> {
    let f = &case.func;
    let wrt = float_params(f);
    let vjp = vjp_func(f, &wrt).map_err(|e| format!("vjp_func: {e}"))?;
    let mut rng = Rng::new(seed);
    let direction: Vec<HostArray> =
        wrt.iter().map(|&i| sample(&case.inputs[i].ty(), &Domain::Normal, &mut rng)).collect();
    let outputs = f.output_types();
    let cotangents: Vec<HostArray> = outputs
        .iter()
        .map(|t| if t.dtype.is_float() { sample(t, &Domain::Normal, &mut rng) } else { HostArray::full(t, 0.0) })
        .collect();

    // J v by central differences. Functions through a narrower float (convert) are linear
    // there, so a large step is exact up to that type's rounding.
    let narrow = f.values.iter().any(|t| t.dtype.is_float() && t.dtype != DType::F64);
    let (eps, tol) = if narrow { (1e-2, 1e-4) } else { (1e-6, 1e-6) };
    let mut plus = case.inputs.clone();
    let mut minus = case.inputs.clone();
    for (k, &i) in wrt.iter().enumerate() {
        plus[i] = shifted(&case.inputs[i], &direction[k], eps);
        minus[i] = shifted(&case.inputs[i], &direction[k], -eps);
    }
    let (fp, fm) =
        (interp::eval(f, &plus).map_err(|e| e.to_string())?, interp::eval(f, &minus).map_err(|e| e.to_string())?);
    let mut u_jv = 0.0;
    for (k, t) in outputs.iter().enumerate() {
        if t.dtype.is_float() {
            let jv: Vec<f64> =
                fp[k].to_f64_vec().iter().zip(fm[k].to_f64_vec()).map(|(a, b)| (a - b) / (2.0 * eps)).collect();
            u_jv += cotangents[k].to_f64_vec().iter().zip(jv).map(|(u, j)| u * j).sum::<f64>();
        }
    }

    // Jᵀ u on the interpreter and on the plugin.
    let mut args = case.inputs.clone();
    args.extend(cotangents.iter().cloned());
    let on_interp = interp::eval(&vjp, &args).map_err(|e| format!("interpreter: {e}"))?;
    let exe = runtime.compile(&vjp, &LowerOptions::default()).map_err(|e| format!("compile: {e}"))?;
    let on_plugin = exe.run_host(runtime.client(), &args).map_err(|e| format!("plugin: {e}"))?;
    let n_out = outputs.len();
    let mut jtu_v = 0.0;
    for (k, v) in direction.iter().enumerate() {
        let (gi, gp) = (&on_interp[n_out + k], &on_plugin[n_out + k]);
        for (a, b) in gi.to_f64_vec().iter().zip(gp.to_f64_vec()) {
            if (a - b).abs() > 1e-9 * a.abs().max(1.0) {
                return Err(format!("interpreter and plugin gradients differ for input {}: {a} vs {b}", wrt[k]));
            }
        }
        jtu_v += dot(gi, v);
    }
    let scale = u_jv.abs().max(jtu_v.abs()).max(1.0);
    if (u_jv - jtu_v).abs() > tol * scale {
        return Err(format!("<u, Jv> = {u_jv} (finite differences) but <J^T u, v> = {jtu_v}"));
    }
    Ok(())
}

fn traced(
    name: &str,
    inputs: &[(TensorType, Domain)],
    f: impl for<'t> Fn(&[Tensor<'t>]) -> Vec<Tensor<'t>>,
) -> GradCase {
    let tr = Tracer::new(name);
    let params: Vec<Tensor<'_>> =
        inputs.iter().enumerate().map(|(i, (t, _))| tr.param(&format!("x{i}"), t.clone())).collect();
    let outs = f(&params);
    let func = tr.finish(&outs).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut rng = Rng::new(7);
    GradCase { name: name.into(), func, inputs: inputs.iter().map(|(t, d)| sample(t, d, &mut rng)).collect() }
}

fn composite_cases() -> Vec<GradCase> {
    let m = |s: &[usize]| (TensorType::new(DType::F64, s), Domain::Normal);
    vec![
        traced("softmax", &[m(&[3, 4])], |x| vec![softmax(x[0], 1)]),
        traced("log_softmax", &[m(&[3, 4])], |x| vec![log_softmax(x[0], 1)]),
        traced("logsumexp", &[m(&[2, 3, 4])], |x| vec![logsumexp(x[0], &[0, 2])]),
        traced("mean", &[m(&[3, 4])], |x| vec![mean(x[0], &[1])]),
        traced("var", &[m(&[3, 4])], |x| vec![var(x[0], &[0, 1])]),
        traced("silu", &[m(&[3, 4])], |x| vec![silu(x[0])]),
        traced("gelu_tanh", &[m(&[3, 4])], |x| vec![gelu_tanh(x[0])]),
        traced(
            "erf_inv",
            &[(TensorType::new(DType::F64, &[8]), Domain::Values(vec![-0.99, -0.7, -0.2, 0.0, 0.1, 0.5, 0.9, 0.999]))],
            |x| vec![erf_inv(x[0])],
        ),
        traced("broadcasting_arithmetic", &[m(&[3, 1]), m(&[4])], |x| {
            vec![(x[0] * x[1] - x[1] / (x[0].square() + 1.0)).exp()]
        }),
        traced("matmul_batched", &[m(&[2, 3, 4]), m(&[2, 4, 2])], |x| vec![x[0].matmul(x[1])]),
        traced("shared_input_accumulates", &[m(&[3])], |x| vec![x[0].sin() * x[0].cos() + x[0]]),
        traced("forward_while_then_grad", &[m(&[3])], |x| {
            // A loop off the gradient path inside the differentiated function.
            let tr = x[0].tracer();
            let n = tr.scalar(3.0, DType::I32);
            let start = tr.full(0.5, &TensorType::new(DType::F64, &[3]));
            let out =
                tr.while_loop(&[tr.scalar(0.0, DType::I32), start], |c| c[0].lt(n), |c| vec![c[0] + 1.0, c[1].tanh()]);
            vec![out[1] * x[0]]
        }),
    ]
}

#[test]
fn every_differentiable_prim_and_composite_passes_the_gradient_check() {
    let runtime = Runtime::open_default(1).expect("CPU plugin");
    let mut cases: Vec<GradCase> = all_cases()
        .into_iter()
        .filter(|c| c.grad)
        .map(|c| GradCase { name: c.name.clone(), func: c.func().expect("case traces"), inputs: c.sample_inputs(3) })
        .collect();
    cases.extend(composite_cases());
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        for seed in [11, 12] {
            if let Err(e) = check(case, &runtime, seed + i as u64) {
                failures.push(format!("{} (seed {seed}): {e}", case.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} gradient checks failed:\n{}",
        failures.len(),
        2 * cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_differentiable_prim_has_a_gradient_case() {
    let cases = all_cases();
    let mut missing = Vec::new();
    for c in &cases {
        if c.prim.rules().differentiable() && !cases.iter().any(|g| g.grad && g.prim.name() == c.prim.name()) {
            missing.push(c.prim.name());
        }
    }
    missing.dedup();
    // while is differentiable in principle but has no VJP (see its file).
    missing.retain(|&p| p != "while");
    assert!(missing.is_empty(), "no gradient case for {missing:?}");
}

#[test]
fn stop_gradient_makes_a_value_a_constant() {
    // d/dx [x * stop_gradient(x)] = stop_gradient(x) = x, not 2x.
    let tr = Tracer::new("stop_gradient");
    let x = tr.param("x", TensorType::new(DType::F64, &[3]));
    let y = (x * x.stop_gradient()).sum_all();
    let g = ouro_autodiff::grad(y, &vec![x]);
    let f = tr.finish(&g).unwrap();
    let xs = HostArray::from_f64(DType::F64, &[3], &[1.0, -2.0, 0.5]);
    assert_eq!(interp::eval(&f, std::slice::from_ref(&xs)).unwrap()[0], xs);

    // A loop on the stop_gradient'ed value: the gradient flows only through the direct use.
    let tr = Tracer::new("while_after_stop_gradient");
    let x = tr.param("x", TensorType::new(DType::F64, &[3]));
    let n = tr.scalar(2.0, DType::I32);
    let out = tr.while_loop(
        &[tr.scalar(0.0, DType::I32), x.stop_gradient()],
        |c| c[0].lt(n),
        |c| vec![c[0] + 1.0, c[1] * 3.0],
    );
    let g = ouro_autodiff::grad((out[1] * x).sum_all(), &vec![x]);
    let f = tr.finish(&g).unwrap();
    let want = HostArray::from_f64(DType::F64, &[3], &[9.0, -18.0, 4.5]);
    assert_eq!(interp::eval(&f, &[xs]).unwrap()[0], want);
}

/// A rematerialised region gives the gradients of the plain trace, recomputing its values in
/// the backward pass behind an optimisation barrier instead of keeping them.
#[test]
fn remat_recomputes_a_region_and_keeps_the_gradients() {
    let trace_with = |remat: bool| {
        let tr = Tracer::new("remat");
        let x = tr.param("x", TensorType::new(DType::F64, &[4, 3]));
        let w = tr.param("w", TensorType::new(DType::F64, &[3, 3]));
        fn block<'t>(h: Tensor<'t>, w: Tensor<'t>) -> Tensor<'t> {
            (h.matmul(w).tanh() + h).sin()
        }
        // Two regions in a row, then a use of the first region's output outside it.
        let (h1, h2) = if remat {
            let h1 = tr.remat(|| block(x, w));
            (h1, tr.remat(|| block(h1, w)))
        } else {
            let h1 = block(x, w);
            (h1, block(h1, w))
        };
        let loss = (h2 * h1).sum_all();
        let g = ouro_autodiff::grad(loss, &vec![x, w]);
        tr.finish(&g).unwrap()
    };
    let (plain, remat) = (trace_with(false), trace_with(true));
    let count = |f: &Func, name: &str| f.eqns.iter().filter(|e| e.prim.name() == name).count();
    assert_eq!(count(&plain, "optimization_barrier"), 0);
    assert_eq!(count(&remat, "optimization_barrier"), 2, "one barrier per region");
    assert_eq!(count(&remat, "tanh"), 2 * count(&plain, "tanh"), "each region's forward is replayed once");
    let mut rng = Rng::new(3);
    let args = [
        sample(&TensorType::new(DType::F64, &[4, 3]), &Domain::Normal, &mut rng),
        sample(&TensorType::new(DType::F64, &[3, 3]), &Domain::Normal, &mut rng),
    ];
    // The same operations in the same order: identical on the interpreter.
    assert_eq!(interp::eval(&plain, &args).unwrap(), interp::eval(&remat, &args).unwrap());
    let runtime = Runtime::open_default(1).unwrap();
    let exe = runtime.compile(&remat, &LowerOptions::default()).unwrap();
    let on_plugin = exe.run_host(runtime.client(), &args).unwrap();
    for (a, b) in interp::eval(&plain, &args).unwrap().iter().zip(&on_plugin) {
        for (p, q) in a.to_f64_vec().iter().zip(b.to_f64_vec()) {
            assert!((p - q).abs() <= 1e-12 * (1.0 + p.abs()), "{p} vs {q}");
        }
    }
}

#[test]
fn a_gradient_through_while_is_a_clear_trace_error() {
    let tr = Tracer::new("grad_while");
    let x = tr.param("x", TensorType::scalar(DType::F64));
    let n = tr.scalar(3.0, DType::I32);
    let out = tr.while_loop(&[tr.scalar(0.0, DType::I32), x], |c| c[0].lt(n), |c| vec![c[0] + 1.0, c[1] * 2.0]);
    let g = ouro_autodiff::grad(out[1], &vec![x]);
    let err = tr.finish(&g).unwrap_err();
    assert!(err.message.contains("while") && err.message.contains("stop_gradient"), "{err}");
    assert!(err.location.file().ends_with("gradients.rs"), "the error points at the grad call: {err}");
}

/// `d/dx_i Σ_j log(s_j / S)` of the stablemax in closed form.
fn stablemax_gradient(x: &[f64]) -> Vec<f64> {
    let s = |v: f64| if v < 0.0 { 1.0 / (1.0 - v) } else { v + 1.0 };
    let ds = |v: f64| if v < 0.0 { 1.0 / ((1.0 - v) * (1.0 - v)) } else { 1.0 };
    let total: f64 = x.iter().map(|&v| s(v)).sum();
    x.iter().map(|&v| ds(v) / s(v) - x.len() as f64 * ds(v) / total).collect()
}

/// A logit of exactly 1 (common once logits are bf16) must not poison the f32 gradient through
/// the unselected reciprocal branch (it did on the CPU plugin: the first step of the paper's
/// Sudoku config in bf16 stopped as not finite).
#[test]
fn log_stablemax_has_a_finite_gradient_where_a_logit_is_exactly_one() {
    let runtime = Runtime::open_default(1).expect("CPU plugin");
    let tr = Tracer::new("stablemax");
    let x = tr.param("x", TensorType::new(DType::F32, &[1, 6]));
    let f = tr.finish(&[ouro_nn::loss::log_stablemax(x, 1).sum_all()]).unwrap();
    let grad = vjp_func(&f, &[0]).unwrap();
    let values = [1.0, 0.0, -2.0, 3.0, -0.5, 1.0];
    let args = [HostArray::from_f64(DType::F32, &[1, 6], &values), HostArray::scalar(DType::F32, 1.0)];
    let exe = runtime.compile(&grad, &LowerOptions::default()).unwrap();
    for (on, out) in [
        ("the interpreter", interp::eval(&grad, &args).unwrap()),
        ("the plugin", exe.run_host(runtime.client(), &args).unwrap()),
    ] {
        let got = out[1].to_f64_vec();
        for (g, want) in got.iter().zip(stablemax_gradient(&values)) {
            assert!(g.is_finite() && (g - want).abs() < 1e-6, "on {on}: {got:?}");
        }
    }
}
