//! Generalised matrix product with batch and contracting dimensions.
//! <https://openxla.org/stablehlo/spec#dot_general>

use crate::lowering::{LowerCx, MatmulPrecision, dim_list};
use crate::ops::DotDims;
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// `result[b..., l..., r...] = Σ_c lhs[b, l, c] · rhs[b, r, c]`: batch dimensions first, then
/// the free dimensions of lhs, then those of rhs, each in their operand's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DotGeneral {
    /// Batch and contracting dimensions.
    pub dims: DotDims,
    /// The result element type (accumulation type), if not the operands'.
    pub preferred: Option<DType>,
}

fn free_dims(rank: usize, batch: &[usize], contract: &[usize]) -> Vec<usize> {
    (0..rank).filter(|d| !batch.contains(d) && !contract.contains(d)).collect()
}

fn unique(v: &[usize]) -> bool {
    v.iter().collect::<std::collections::BTreeSet<_>>().len() == v.len()
}

impl Rules for DotGeneral {
    fn name(&self) -> &'static str {
        "dot_general"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        const P: &str = "dot_general";
        super::arity(P, inputs, 2)?;
        let (lhs, rhs) = (inputs[0], inputs[1]);
        let d = &self.dims;
        if d.lhs_batch.len() != d.rhs_batch.len() {
            return Err(TypeError::new(P, "c1", format!("expects lhs and rhs batch dimensions of equal length, got {:?} and {:?}", d.lhs_batch, d.rhs_batch)));
        }
        if d.lhs_contract.len() != d.rhs_contract.len() {
            return Err(TypeError::new(P, "c2", format!("expects lhs and rhs contracting dimensions of equal length, got {:?} and {:?}", d.lhs_contract, d.rhs_contract)));
        }
        if !unique(&[d.lhs_batch.as_slice(), &d.lhs_contract].concat()) {
            return Err(TypeError::new(P, "c3", format!("expects unique lhs batch and contracting dimensions, got {:?} and {:?}", d.lhs_batch, d.lhs_contract)));
        }
        if !unique(&[d.rhs_batch.as_slice(), &d.rhs_contract].concat()) {
            return Err(TypeError::new(P, "c4", format!("expects unique rhs batch and contracting dimensions, got {:?} and {:?}", d.rhs_batch, d.rhs_contract)));
        }
        for (c, dims, t, what) in [("c5", &d.lhs_batch, lhs, "lhs batch"), ("c6", &d.lhs_contract, lhs, "lhs contracting"), ("c7", &d.rhs_batch, rhs, "rhs batch"), ("c8", &d.rhs_contract, rhs, "rhs contracting")] {
            if let Some(x) = dims.iter().find(|&&x| x >= t.rank()) {
                return Err(TypeError::new(P, c, format!("expects {what} dimensions < rank {}, got {x} for {t}", t.rank())));
            }
        }
        for (&a, &b) in d.lhs_batch.iter().zip(&d.rhs_batch) {
            if lhs.shape[a] != rhs.shape[b] {
                return Err(TypeError::new(P, "c9", format!("expects equal batch dimension sizes, got lhs dimension {a} of {lhs} and rhs dimension {b} of {rhs}")));
            }
        }
        for (&a, &b) in d.lhs_contract.iter().zip(&d.rhs_contract) {
            if lhs.shape[a] != rhs.shape[b] {
                return Err(TypeError::new(P, "c10", format!("expects equal contracting dimension sizes, got lhs dimension {a} of {lhs} and rhs dimension {b} of {rhs}")));
            }
        }
        if lhs.dtype != rhs.dtype || lhs.dtype == DType::Pred {
            return Err(TypeError::other(P, format!("expects numeric operands of one element type, got {lhs} and {rhs}")));
        }
        let mut shape: Vec<usize> = d.lhs_batch.iter().map(|&a| lhs.shape[a]).collect();
        shape.extend(free_dims(lhs.rank(), &d.lhs_batch, &d.lhs_contract).iter().map(|&a| lhs.shape[a]));
        shape.extend(free_dims(rhs.rank(), &d.rhs_batch, &d.rhs_contract).iter().map(|&a| rhs.shape[a]));
        Ok(vec![TensorType::new(self.preferred.unwrap_or(lhs.dtype), &shape)])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        let d = &self.dims;
        let batching = if d.lhs_batch.is_empty() {
            String::new()
        } else {
            format!("batching_dims = {} x {}, ", dim_list(&d.lhs_batch), dim_list(&d.rhs_batch))
        };
        // DEFAULT is what no precision_config means: left out, the text stays as before.
        let precision = match cx.matmul_precision {
            MatmulPrecision::Default => String::new(),
            p => format!(", precision = [{0}, {0}]", p.stablehlo()),
        };
        let text = format!(
            "{} = stablehlo.dot_general {}, {}, {batching}contracting_dims = {} x {}{precision} : {}",
            cx.name,
            cx.inputs[0],
            cx.inputs[1],
            dim_list(&d.lhs_contract),
            dim_list(&d.rhs_contract),
            cx.functional_type()
        );
        cx.line(&text);
        Ok(vec![cx.name.to_string()])
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let (lhs, rhs) = (inputs[0], inputs[1]);
        let out = self.infer(&[&lhs.ty(), &rhs.ty()]).map_err(|e| e.to_string())?.remove(0);
        let d = &self.dims;
        let (ls, rs) = (super::strides(lhs.shape()), super::strides(rhs.shape()));
        let lfree = free_dims(lhs.shape().len(), &d.lhs_batch, &d.lhs_contract);
        let rfree = free_dims(rhs.shape().len(), &d.rhs_batch, &d.rhs_contract);
        let csizes: Vec<usize> = d.lhs_contract.iter().map(|&a| lhs.shape()[a]).collect();
        let (lv, rv) = (lhs.to_f64_vec(), rhs.to_f64_vec());
        let nb = d.lhs_batch.len();
        let mut values = Vec::with_capacity(out.num_elements());
        super::for_each_index(&out.shape, |idx| {
            let (b, rest) = idx.split_at(nb);
            let (l, r) = rest.split_at(lfree.len());
            let mut lbase = 0;
            let mut rbase = 0;
            for (k, &i) in b.iter().enumerate() {
                lbase += i * ls[d.lhs_batch[k]];
                rbase += i * rs[d.rhs_batch[k]];
            }
            lbase += l.iter().zip(&lfree).map(|(&i, &a)| i * ls[a]).sum::<usize>();
            rbase += r.iter().zip(&rfree).map(|(&i, &a)| i * rs[a]).sum::<usize>();
            let mut acc = 0.0;
            super::for_each_index(&csizes, |c| {
                let lo: usize = c.iter().zip(&d.lhs_contract).map(|(&i, &a)| i * ls[a]).sum();
                let ro: usize = c.iter().zip(&d.rhs_contract).map(|(&i, &a)| i * rs[a]).sum();
                acc += lv[lbase + lo] * rv[rbase + ro];
            });
            values.push(acc);
        });
        Ok(vec![HostArray::from_f64(out.dtype, &out.shape, &values)])
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        // Both cotangents are dot_generals of the output cotangent with the other operand,
        // batched over the same batch dimensions, in the operand's layout. The cotangent takes
        // the operand dtype first (bf16 operands, f32 result: bf16 gradients).
        let (lhs, rhs) = (cx.x(0), cx.x(1));
        let ct = cx.ct().cast(lhs.dtype());
        let d = &self.dims;
        let nb = d.lhs_batch.len();
        let lfree = free_dims(lhs.rank(), &d.lhs_batch, &d.lhs_contract);
        let rfree = free_dims(rhs.rank(), &d.rhs_batch, &d.rhs_contract);
        let batch: Vec<usize> = (0..nb).collect();
        let ct_lfree: Vec<usize> = (nb..nb + lfree.len()).collect();
        let ct_rfree: Vec<usize> = (nb + lfree.len()..nb + lfree.len() + rfree.len()).collect();

        // Each cotangent is one dot_general of ct and the other operand, in whichever operand
        // order lays the result out as the operand already is: then no transpose is emitted
        // (the weight gradient of `x · Wᵀ` is `ctᵀ · x`, not `(xᵀ · ct)ᵀ`). XLA's CPU backend
        // materialises a transpose left after a dot, so this saves a copy per weight per step.
        let mut rc_sorted: Vec<usize> = (0..d.rhs_contract.len()).collect();
        rc_sorted.sort_by_key(|&k| d.rhs_contract[k]);
        let mut lc_sorted: Vec<usize> = (0..d.lhs_contract.len()).collect();
        lc_sorted.sort_by_key(|&k| d.lhs_contract[k]);
        let lhs_partners: Vec<usize> = rc_sorted.iter().map(|&k| d.lhs_contract[k]).collect();
        let rhs_partners: Vec<usize> = lc_sorted.iter().map(|&k| d.rhs_contract[k]).collect();

        // d lhs. (a) ct · rhs: batch, lhs free, then rhs's contracting dims in ascending order
        // standing for their lhs partners. (b) rhs · ct: batch, those partners, lhs free.
        let a_layout: Vec<usize> = [&d.lhs_batch[..], &lfree, &lhs_partners].concat();
        let b_layout: Vec<usize> = [&d.lhs_batch[..], &lhs_partners, &lfree].concat();
        let d_lhs = if is_identity(&b_layout) && !is_identity(&a_layout) {
            rhs.dot_general(ct, DotDims { lhs_batch: d.rhs_batch.clone(), rhs_batch: batch.clone(), lhs_contract: rfree.clone(), rhs_contract: ct_rfree.clone() })
        } else {
            let t = ct.dot_general(rhs, DotDims { lhs_batch: batch.clone(), rhs_batch: d.rhs_batch.clone(), lhs_contract: ct_rfree, rhs_contract: rfree.clone() });
            t.transpose(&inverse(&a_layout))
        };

        // d rhs. (a) lhs · ct: batch, lhs's contracting dims in ascending order standing for
        // their rhs partners, rhs free. (b) ct · lhs: batch, rhs free, those partners.
        let a_layout: Vec<usize> = [&d.rhs_batch[..], &rhs_partners, &rfree].concat();
        let b_layout: Vec<usize> = [&d.rhs_batch[..], &rfree, &rhs_partners].concat();
        let d_rhs = if is_identity(&b_layout) && !is_identity(&a_layout) {
            ct.dot_general(lhs, DotDims { lhs_batch: batch, rhs_batch: d.lhs_batch.clone(), lhs_contract: ct_lfree, rhs_contract: lfree })
        } else {
            let t = lhs.dot_general(ct, DotDims { lhs_batch: d.lhs_batch.clone(), rhs_batch: batch, lhs_contract: lfree, rhs_contract: ct_lfree });
            t.transpose(&inverse(&a_layout))
        };
        Ok(vec![Some(d_lhs), Some(d_rhs)])
    }
}

fn is_identity(layout: &[usize]) -> bool {
    layout.iter().enumerate().all(|(i, &d)| i == d)
}

/// `perm` with `perm[operand_dim] = result position`, for a result whose position `p` holds
/// operand dimension `of_result[p]`.
fn inverse(of_result: &[usize]) -> Vec<usize> {
    let mut perm = vec![0; of_result.len()];
    for (p, &dim) in of_result.iter().enumerate() {
        perm[dim] = p;
    }
    perm
}

pub(crate) fn cases() -> Vec<Case> {
    let t = |d, s: &[usize]| (TensorType::new(d, s), Domain::Normal);
    let dims = |lb: &[usize], rb: &[usize], lc: &[usize], rc: &[usize]| DotDims {
        lhs_batch: lb.to_vec(),
        rhs_batch: rb.to_vec(),
        lhs_contract: lc.to_vec(),
        rhs_contract: rc.to_vec(),
    };
    let dg = |d| DotGeneral { dims: d, preferred: None };
    vec![
        Case::new("dot_general_matmul", dg(dims(&[], &[], &[1], &[0])), vec![t(DType::F64, &[2, 3]), t(DType::F64, &[3, 4])], true),
        Case::new("dot_general_batched", dg(dims(&[0], &[0], &[2], &[1])), vec![t(DType::F64, &[2, 3, 4]), t(DType::F64, &[2, 4, 5])], true),
        // Attention's q·kᵀ: batch over (batch, head), contract the head dim, keys' sequence last.
        Case::new("dot_general_attention", dg(dims(&[0, 2], &[0, 2], &[3], &[3])), vec![t(DType::F64, &[2, 3, 2, 4]), t(DType::F64, &[2, 5, 2, 4])], true),
        // Unsorted, interleaved contracting dims.
        Case::new("dot_general_shuffled", dg(dims(&[1], &[2], &[2, 0], &[0, 1])), vec![t(DType::F64, &[3, 2, 4]), t(DType::F64, &[4, 3, 2, 5])], true),
        // A linear layer's x · Wᵀ (W stored [out, in]) and a product of a transposed lhs: the
        // cotangents' operand order that needs no transpose.
        Case::new("dot_general_linear", dg(dims(&[], &[], &[1], &[1])), vec![t(DType::F64, &[2, 3]), t(DType::F64, &[4, 3])], true),
        Case::new("dot_general_lhs_transposed", dg(dims(&[], &[], &[0], &[0])), vec![t(DType::F64, &[3, 2]), t(DType::F64, &[3, 4])], true),
        Case::new("dot_general_outer", dg(dims(&[], &[], &[], &[])), vec![t(DType::F64, &[3]), t(DType::F64, &[2])], true),
        Case::new("dot_general_f32", dg(dims(&[], &[], &[1], &[0])), vec![t(DType::F32, &[4, 8]), t(DType::F32, &[8, 2])], false),
        Case::new("dot_general_bf16_to_f32", DotGeneral { dims: dims(&[], &[], &[1], &[0]), preferred: Some(DType::F32) }, vec![t(DType::BF16, &[4, 8]), t(DType::BF16, &[8, 2])], false),
        Case::new("dot_general_i32", dg(dims(&[], &[], &[1], &[0])), vec![t(DType::I32, &[2, 3]), t(DType::I32, &[3, 2])], false),
    ]
}
