//! Every constraint a type rule checks has a case here that violates it; the trace must fail
//! with the constraint's id, the prim, and the location of the offending call in this file.
//! `every_constraint_in_the_source_is_exercised` keeps the table complete.

use ouro_ir::prims::*;
use ouro_ir::{DType, DotDims, HostArray, Sharding, TensorType, TraceError, Tracer};

fn t(d: DType, s: &[usize]) -> TensorType {
    TensorType::new(d, s)
}

/// Traces `f` and returns its error (it must fail).
fn error_of(f: impl for<'t> FnOnce(&'t Tracer)) -> TraceError {
    let tr = Tracer::new("negative");
    f(&tr);
    let out = tr.scalar(0.0, DType::F32);
    tr.finish(&[out]).expect_err("the trace must fail")
}

type Case = (&'static str, Box<dyn for<'t> Fn(&'t Tracer)>);

fn case(id: &'static str, f: impl for<'t> Fn(&'t Tracer) + 'static) -> Case {
    (id, Box::new(f))
}

fn cases() -> Vec<Case> {
    let f32 = DType::F32;
    vec![
        case("add_c1", move |tr| {
            let a = tr.param("a", t(f32, &[2]));
            let b = tr.param("b", t(f32, &[3]));
            tr.emit(Add, &[a, b]);
        }),
        case("iota_c1", move |tr| {
            tr.iota(&t(DType::I32, &[3]), 1);
        }),
        case("compare_c1", move |tr| {
            let a = tr.param("a", t(f32, &[2]));
            let b = tr.param("b", t(DType::I32, &[2]));
            tr.emit(Compare { direction: Direction::Lt }, &[a, b]);
        }),
        case("select_c1", move |tr| {
            let p = tr.param("p", t(DType::Pred, &[3]));
            let a = tr.param("a", t(f32, &[2]));
            tr.emit(Select, &[p, a, a]);
        }),
        case("select_c2", move |tr| {
            let p = tr.param("p", t(DType::Pred, &[2]));
            let a = tr.param("a", t(f32, &[2]));
            let b = tr.param("b", t(DType::F64, &[2]));
            tr.emit(Select, &[p, a, b]);
        }),
        case("clamp_c1", move |tr| {
            let x = tr.param("x", t(f32, &[3]));
            let lo = tr.param("lo", t(f32, &[2]));
            tr.emit(Clamp, &[lo, x, x]);
        }),
        case("clamp_c2", move |tr| {
            let x = tr.param("x", t(f32, &[3]));
            let lo = tr.param("lo", t(DType::F64, &[]));
            tr.emit(Clamp, &[lo, x, x]);
        }),
        case("reshape_c1", move |tr| {
            tr.param("x", t(f32, &[2, 3])).reshape(&[4]);
        }),
        case("broadcast_in_dim_c2", move |tr| {
            tr.param("x", t(f32, &[2])).broadcast_in_dim(&[2, 2], &[]);
        }),
        case("broadcast_in_dim_c3", move |tr| {
            tr.param("x", t(f32, &[2, 2])).broadcast_in_dim(&[2, 2, 2], &[1, 1]);
        }),
        case("broadcast_in_dim_c4", move |tr| {
            tr.param("x", t(f32, &[2])).broadcast_in_dim(&[2, 2], &[2]);
        }),
        case("broadcast_in_dim_c5", move |tr| {
            tr.param("x", t(f32, &[3])).broadcast_in_dim(&[2, 2], &[0]);
        }),
        case("transpose_c2", move |tr| {
            tr.param("x", t(f32, &[2, 3])).transpose(&[0, 0]);
        }),
        case("slice_c2", move |tr| {
            tr.param("x", t(f32, &[4])).slice(&[0, 0], &[1, 1], &[1, 1]);
        }),
        case("slice_c3", move |tr| {
            tr.param("x", t(f32, &[4])).slice(&[1], &[5], &[1]);
        }),
        case("slice_c4", move |tr| {
            tr.param("x", t(f32, &[4])).slice(&[0], &[4], &[0]);
        }),
        case("dynamic_slice_c2", move |tr| {
            let i = tr.scalar(0.0, DType::I32);
            tr.param("x", t(f32, &[4, 4])).dynamic_slice(&[i], &[1, 1]);
        }),
        case("dynamic_slice_c3", move |tr| {
            let i = tr.scalar(0.0, f32);
            tr.param("x", t(f32, &[4])).dynamic_slice(&[i], &[1]);
        }),
        case("dynamic_slice_c4", move |tr| {
            let i = tr.scalar(0.0, DType::I32);
            tr.param("x", t(f32, &[4])).dynamic_slice(&[i], &[5]);
        }),
        case("dynamic_update_slice_c3", move |tr| {
            let i = tr.scalar(0.0, DType::I32);
            let u = tr.param("u", t(f32, &[5]));
            tr.param("x", t(f32, &[4])).dynamic_update_slice(u, &[i]);
        }),
        case("dynamic_update_slice_c2", move |tr| {
            let u = tr.param("u", t(f32, &[2]));
            tr.param("x", t(f32, &[4])).dynamic_update_slice(u, &[]);
        }),
        case("concatenate_c1", move |tr| {
            tr.concatenate(&[], 0);
        }),
        case("concatenate_c2", move |tr| {
            let a = tr.param("a", t(f32, &[2, 3]));
            let b = tr.param("b", t(f32, &[3, 3]));
            tr.concatenate(&[a, b], 1);
        }),
        case("concatenate_c4", move |tr| {
            let a = tr.param("a", t(f32, &[2]));
            tr.concatenate(&[a, a], 1);
        }),
        case("pad_c1", move |tr| {
            let x = tr.param("x", t(f32, &[2]));
            let v = tr.param("v", t(DType::F64, &[]));
            x.pad(v, &[0], &[0], &[0]);
        }),
        case("pad_c2", move |tr| {
            tr.param("x", t(f32, &[2])).pad(0.0, &[0, 0], &[0], &[0]);
        }),
        case("pad_c4", move |tr| {
            tr.param("x", t(f32, &[2])).pad(0.0, &[-3], &[0], &[0]);
        }),
        case("reverse_c2", move |tr| {
            tr.param("x", t(f32, &[2, 2])).reverse(&[1, 1]);
        }),
        case("reverse_c3", move |tr| {
            tr.param("x", t(f32, &[2, 2])).reverse(&[2]);
        }),
        case("dot_general_c1", move |tr| {
            let a = tr.param("a", t(f32, &[2, 3]));
            a.dot_general(a, DotDims { lhs_batch: vec![0], ..DotDims::default() });
        }),
        case("dot_general_c2", move |tr| {
            let a = tr.param("a", t(f32, &[2, 3]));
            a.dot_general(a, DotDims { lhs_contract: vec![1], ..DotDims::default() });
        }),
        case("dot_general_c3", move |tr| {
            let a = tr.param("a", t(f32, &[3, 3]));
            a.dot_general(
                a,
                DotDims { lhs_batch: vec![0], rhs_batch: vec![0], lhs_contract: vec![0], rhs_contract: vec![1] },
            );
        }),
        case("dot_general_c4", move |tr| {
            let a = tr.param("a", t(f32, &[3, 3]));
            a.dot_general(
                a,
                DotDims { lhs_batch: vec![0], rhs_batch: vec![1], lhs_contract: vec![1], rhs_contract: vec![1] },
            );
        }),
        case("dot_general_c5", move |tr| {
            let a = tr.param("a", t(f32, &[3]));
            a.dot_general(a, DotDims { lhs_batch: vec![1], rhs_batch: vec![0], ..DotDims::default() });
        }),
        case("dot_general_c6", move |tr| {
            let a = tr.param("a", t(f32, &[3]));
            a.dot_general(a, DotDims { lhs_contract: vec![2], rhs_contract: vec![0], ..DotDims::default() });
        }),
        case("dot_general_c7", move |tr| {
            let a = tr.param("a", t(f32, &[3]));
            a.dot_general(a, DotDims { lhs_batch: vec![0], rhs_batch: vec![3], ..DotDims::default() });
        }),
        case("dot_general_c8", move |tr| {
            let a = tr.param("a", t(f32, &[3]));
            a.dot_general(a, DotDims { lhs_contract: vec![0], rhs_contract: vec![1], ..DotDims::default() });
        }),
        case("dot_general_c9", move |tr| {
            let a = tr.param("a", t(f32, &[2, 3]));
            let b = tr.param("b", t(f32, &[4, 3]));
            a.dot_general(
                b,
                DotDims { lhs_batch: vec![0], rhs_batch: vec![0], lhs_contract: vec![1], rhs_contract: vec![1] },
            );
        }),
        case("dot_general_c10", move |tr| {
            let a = tr.param("a", t(f32, &[2, 3]));
            let b = tr.param("b", t(f32, &[4, 2]));
            a.matmul(b);
        }),
        case("reduce_c4", move |tr| {
            tr.param("x", t(f32, &[2])).sum(&[1]);
        }),
        case("gather_c1", move |tr| {
            let x = tr.param("x", t(f32, &[4, 3]));
            let i = tr.param("i", t(DType::I32, &[2]));
            x.gather(
                i,
                GatherDims {
                    offset_dims: vec![1],
                    start_index_map: vec![0],
                    index_vector_dim: 1,
                    ..GatherDims::default()
                },
                &[1, 3],
            );
        }),
        case("gather_c2", move |tr| {
            let x = tr.param("x", t(f32, &[4, 3]));
            let i = tr.param("i", t(DType::I32, &[2]));
            x.gather(
                i,
                GatherDims {
                    offset_dims: vec![1],
                    collapsed_slice_dims: vec![0],
                    start_index_map: vec![0],
                    index_vector_dim: 3,
                },
                &[1, 3],
            );
        }),
        case("gather_c3", move |tr| {
            let x = tr.param("x", t(f32, &[4, 3]));
            let i = tr.param("i", t(DType::I32, &[2, 2]));
            x.gather(
                i,
                GatherDims {
                    offset_dims: vec![1],
                    collapsed_slice_dims: vec![0],
                    start_index_map: vec![0],
                    index_vector_dim: 1,
                },
                &[1, 3],
            );
        }),
        case("gather_c4", move |tr| {
            let x = tr.param("x", t(f32, &[4, 3]));
            let i = tr.param("i", t(DType::I32, &[2]));
            x.gather(
                i,
                GatherDims {
                    offset_dims: vec![5],
                    collapsed_slice_dims: vec![0],
                    start_index_map: vec![0],
                    index_vector_dim: 1,
                },
                &[1, 3],
            );
        }),
        case("gather_c6", move |tr| {
            let x = tr.param("x", t(f32, &[4, 3]));
            let i = tr.param("i", t(DType::I32, &[2]));
            x.gather(
                i,
                GatherDims {
                    offset_dims: vec![1],
                    collapsed_slice_dims: vec![2],
                    start_index_map: vec![0],
                    index_vector_dim: 1,
                },
                &[1, 3],
            );
        }),
        case("gather_c8", move |tr| {
            let x = tr.param("x", t(f32, &[4, 3]));
            let i = tr.param("i", t(DType::I32, &[2]));
            x.gather(
                i,
                GatherDims {
                    offset_dims: vec![1],
                    collapsed_slice_dims: vec![0],
                    start_index_map: vec![0],
                    index_vector_dim: 1,
                },
                &[2, 3],
            );
        }),
        case("gather_c9", move |tr| {
            let x = tr.param("x", t(f32, &[4, 3]));
            let i = tr.param("i", t(DType::I32, &[2, 2]));
            x.gather(
                i,
                GatherDims {
                    offset_dims: vec![],
                    collapsed_slice_dims: vec![0, 1],
                    start_index_map: vec![0, 0],
                    index_vector_dim: 1,
                },
                &[1, 1],
            );
        }),
        case("gather_c12", move |tr| {
            let x = tr.param("x", t(f32, &[4, 3]));
            let i = tr.param("i", t(DType::I32, &[2]));
            x.gather(
                i,
                GatherDims {
                    offset_dims: vec![1],
                    collapsed_slice_dims: vec![0],
                    start_index_map: vec![0],
                    index_vector_dim: 1,
                },
                &[1, 4],
            );
        }),
        case("scatter_c4", move |tr| {
            let x = tr.param("x", t(f32, &[4, 3]));
            let i = tr.param("i", t(DType::I32, &[2]));
            let u = tr.param("u", t(f32, &[3, 3]));
            x.scatter(i, u, rows(), ScatterMode::Add);
        }),
        case("scatter_c5", move |tr| {
            let x = tr.param("x", t(f32, &[4, 3, 1]));
            let i = tr.param("i", t(DType::I32, &[2]));
            let u = tr.param("u", t(f32, &[2, 3]));
            x.scatter(i, u, rows(), ScatterMode::Add);
        }),
        case("scatter_c7", move |tr| {
            let x = tr.param("x", t(f32, &[4, 3]));
            let i = tr.param("i", t(DType::I32, &[2]));
            let u = tr.param("u", t(f32, &[2, 3]));
            x.scatter(i, u, ScatterDims { update_window_dims: vec![2], ..rows() }, ScatterMode::Add);
        }),
        case("scatter_c8", move |tr| {
            let x = tr.param("x", t(f32, &[4, 3]));
            let i = tr.param("i", t(DType::I32, &[2]));
            let u = tr.param("u", t(f32, &[2, 3]));
            x.scatter(i, u, ScatterDims { inserted_window_dims: vec![3], ..rows() }, ScatterMode::Add);
        }),
        case("scatter_c11", move |tr| {
            let x = tr.param("x", t(f32, &[4, 3]));
            let i = tr.param("i", t(DType::I32, &[2]));
            let u = tr.param("u", t(f32, &[2, 3]));
            x.scatter(i, u, ScatterDims { index_vector_dim: 2, ..rows() }, ScatterMode::Add);
        }),
        case("scatter_c13", move |tr| {
            let x = tr.param("x", t(f32, &[4, 3]));
            let i = tr.param("i", t(DType::I32, &[2]));
            let u = tr.param("u", t(f32, &[2, 3]));
            x.scatter(i, u, ScatterDims { scatter_dims_to_operand_dims: vec![0, 1], ..rows() }, ScatterMode::Add);
        }),
        case("scatter_c16", move |tr| {
            let x = tr.param("x", t(f32, &[4, 3]));
            let i = tr.param("i", t(DType::I32, &[2]));
            let u = tr.param("u", t(DType::F64, &[2, 3]));
            x.scatter(i, u, rows(), ScatterMode::Add);
        }),
        case("rng_bit_generator_c2", move |tr| {
            let state = tr.param("state", t(DType::U32, &[2]));
            tr.emit(RngBitGenerator { algorithm: RngAlgorithm::ThreeFry, ty: t(DType::U32, &[4]) }, &[state]);
        }),
        case("while_c1", move |tr| {
            let x = tr.param("x", t(f32, &[]));
            // The condition returns an f32 instead of a pred.
            let cond = tr.trace_body("cond", &[x.ty()], |c| vec![c[0]]);
            let body = tr.trace_body("body", &[x.ty()], |c| vec![c[0]]);
            tr.emit(
                While { num_carry: 1, num_cond_consts: 0, cond: Box::new(cond.func), body: Box::new(body.func) },
                &[x],
            );
        }),
        case("while_c2", move |tr| {
            let x = tr.param("x", t(f32, &[]));
            // The body changes the carry's type.
            tr.while_loop(&[x], |c| c[0].lt(1.0), |c| vec![c[0].cast(DType::F64)]);
        }),
    ]
}

fn rows() -> ScatterDims {
    ScatterDims {
        update_window_dims: vec![1],
        inserted_window_dims: vec![0],
        scatter_dims_to_operand_dims: vec![0],
        index_vector_dim: 1,
    }
}

#[test]
fn each_constraint_is_refused_with_its_id_and_the_callers_location() {
    let mut failures = Vec::new();
    for (id, f) in cases() {
        let err = error_of(|tr| f(tr));
        let prim = id.rsplit_once("_c").map_or(id, |(p, _)| p);
        if !err.message.contains(id) || !err.message.starts_with(prim) {
            failures.push(format!("{id}: got '{}'", err.message));
        }
        if !err.location.file().ends_with("type_rules.rs") {
            failures.push(format!("{id}: located at {}, not at the offending call", err.location));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_constraint_in_the_source_is_exercised() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/prims");
    let tested: Vec<&str> = cases().iter().map(|(id, _)| *id).collect();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        // Constraint ids appear as `TypeError::new(P, "cN"` or `TypeError::new("<prim>", "cN"`.
        for (i, _) in text.match_indices("TypeError::new(") {
            let rest = &text[i..];
            let Some(c) = rest
                .split('"')
                .find(|s| s.starts_with('c') && s[1..].chars().all(|ch| ch.is_ascii_digit()) && s.len() > 1)
            else {
                continue;
            };
            // Shared checks live in one file but serve several prims (elementwise, starts).
            let prim = match file.as_str() {
                "mod" => "add".to_string(),
                "while_loop" => "while".to_string(),
                _ if rest.starts_with("TypeError::new(prim") => continue,
                name => name.to_string(),
            };
            let id = format!("{prim}_{c}");
            if !tested.contains(&id.as_str()) && !missing.contains(&id) {
                missing.push(id);
            }
        }
    }
    assert!(missing.is_empty(), "constraints without a negative case: {missing:?}");
}

#[test]
fn only_the_first_error_is_reported_and_poison_propagates() {
    let err = error_of(|tr| {
        let a = tr.param("a", t(DType::F32, &[2, 3]));
        let bad = a.reshape(&[7]); // the root cause
        let worse = bad.transpose(&[5, 5, 5]); // would fail too, but its input is poisoned
        let _ = worse + 1.0;
    });
    assert!(err.message.contains("reshape_c1"), "{err}");
}

#[test]
fn broadcasting_and_dtype_mismatches_are_trace_errors() {
    let err = error_of(|tr| {
        let a = tr.param("a", t(DType::F32, &[2, 3]));
        let b = tr.param("b", t(DType::F32, &[4]));
        let _ = a + b;
    });
    assert!(err.message.contains("cannot broadcast") && err.message.contains("[2, 3]"), "{err}");
    let err = error_of(|tr| {
        let a = tr.param("a", t(DType::F32, &[2]));
        let b = tr.param("b", t(DType::BF16, &[2]));
        let _ = a * b;
    });
    assert!(err.message.contains("multiply_c1") && err.message.contains("bf16"), "{err}");
    let err = error_of(|tr| {
        let _ = tr.param("a", t(DType::I32, &[2])).exp();
    });
    assert!(err.message.contains("exponential: expects floating-point operands"), "{err}");
}

#[test]
fn a_scope_is_part_of_the_error() {
    let err = error_of(|tr| {
        let _s = tr.scope("trm");
        let _b = tr.scope("block0");
        let _ = tr.param("x", t(DType::F32, &[2])).reshape(&[3]);
    });
    assert_eq!(err.scope, "trm/block0");
    assert!(err.to_string().contains("in trm/block0: reshape"), "{err}");
}

#[test]
fn tensors_of_a_finished_loop_body_cannot_be_used() {
    let err = error_of(|tr| {
        let x = tr.param("x", t(DType::F32, &[]));
        let mut leaked = None;
        tr.while_loop(
            &[x],
            |c| c[0].lt(1.0),
            |c| {
                leaked = Some(c[0] + 1.0);
                vec![c[0] + 1.0]
            },
        );
        let _ = leaked.unwrap() * 2.0;
    });
    assert!(err.message.contains("after the loop was traced"), "{err}");
}

#[test]
fn constants_keep_their_values() {
    let tr = Tracer::new("c");
    let c = tr.constant(HostArray::from_f64(DType::F32, &[2], &[1.5, -2.0]));
    let f = tr.finish(&[c]).unwrap();
    assert_eq!(ouro_ir::interp::eval(&f, &[]).unwrap()[0].to_f64_vec(), [1.5, -2.0]);
}

#[test]
fn sharding_constraints_check_their_rank() {
    let err = error_of(|tr| {
        let _ = tr.param("x", t(DType::F32, &[4, 2])).with_sharding(Sharding::split(1, 0, "data"));
    });
    assert!(err.message.contains("sharding of rank 2"), "{err}");
}
