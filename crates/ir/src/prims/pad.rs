//! Pads (or crops, with negative edges) and dilates an operand. <https://openxla.org/stablehlo/spec#pad>

use crate::lowering::LowerCx;
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// `low`/`high` padding values at each edge (negative crops), `interior` between elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pad {
    /// Elements before each dimension.
    pub low: Vec<i64>,
    /// Elements after each dimension.
    pub high: Vec<i64>,
    /// Elements between neighbours in each dimension.
    pub interior: Vec<usize>,
}

fn i64_list(v: &[i64]) -> String {
    let s: Vec<String> = v.iter().map(i64::to_string).collect();
    if s.is_empty() { "array<i64>".into() } else { format!("array<i64: {}>", s.join(", ")) }
}

impl Rules for Pad {
    fn name(&self) -> &'static str {
        "pad"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        super::arity("pad", inputs, 2)?;
        let (x, value) = (inputs[0], inputs[1]);
        if value.rank() != 0 || value.dtype != x.dtype {
            return Err(TypeError::new("pad", "c1", format!("expects a scalar padding value of the operand's element type, got {value} for {x}")));
        }
        let r = x.rank();
        if self.low.len() != r || self.high.len() != r || self.interior.len() != r {
            return Err(TypeError::new("pad", "c2", format!("expects low, high and interior of rank {r}, got {:?}, {:?}, {:?}", self.low, self.high, self.interior)));
        }
        let mut shape = Vec::with_capacity(r);
        for d in 0..r {
            let n = x.shape[d] as i64;
            let size = self.low[d] + self.high[d] + n + (n - 1).max(0) * self.interior[d] as i64;
            if size < 0 {
                return Err(TypeError::new("pad", "c4", format!("expects a non-negative result size in dimension {d}, got {size}")));
            }
            shape.push(size as usize);
        }
        Ok(vec![TensorType::new(x.dtype, &shape)])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        let interior: Vec<i64> = self.interior.iter().map(|&v| v as i64).collect();
        let attrs = format!(
            "edge_padding_high = {}, edge_padding_low = {}, interior_padding = {}",
            i64_list(&self.high),
            i64_list(&self.low),
            i64_list(&interior)
        );
        Ok(cx.generic("pad", &attrs))
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let x = inputs[0];
        let out = self.infer(&[&x.ty(), &inputs[1].ty()]).map_err(|e| e.to_string())?.remove(0);
        let fill = inputs[1].to_f64_vec()[0];
        let st = super::strides(x.shape());
        let shape = x.shape().to_vec();
        Ok(vec![super::rearrange(&inputs[..1], &out, fill, |idx| {
            let mut flat = 0;
            for (d, &i) in idx.iter().enumerate() {
                let p = i as i64 - self.low[d];
                let step = self.interior[d] as i64 + 1;
                if p < 0 || p % step != 0 || p / step >= shape[d] as i64 {
                    return super::Source::Fill;
                }
                flat += (p / step) as usize * st[d];
            }
            super::Source::Input(0, flat)
        })])
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        // Undo the edges (negated padding), take every (interior+1)-th element; the padding
        // value receives the cotangent of every position it filled.
        let ct = cx.ct();
        let low: Vec<i64> = self.low.iter().map(|v| -v).collect();
        let high: Vec<i64> = self.high.iter().map(|v| -v).collect();
        let unpadded = ct.pad(0.0, &low, &high, &vec![0; low.len()]);
        let shape = unpadded.shape();
        let strides: Vec<usize> = self.interior.iter().map(|i| i + 1).collect();
        let t_operand = unpadded.slice(&vec![0; shape.len()], &shape, &strides);
        let t_value = ct.sum_all() - t_operand.sum_all();
        Ok(vec![Some(t_operand), Some(t_value)])
    }
}

pub(crate) fn cases() -> Vec<Case> {
    let value = |v: f64| (TensorType::scalar(DType::F64), Domain::Values(vec![v]));
    vec![
        Case::new("pad_edges", Pad { low: vec![1, 0], high: vec![0, 2], interior: vec![0, 1] }, vec![(TensorType::new(DType::F64, &[2, 3]), Domain::Normal), value(0.5)], true),
        Case::new("pad_crop", Pad { low: vec![-1, 1], high: vec![1, -1], interior: vec![1, 0] }, vec![(TensorType::new(DType::F64, &[3, 3]), Domain::Normal), value(-1.0)], true),
        Case::new("pad", Pad { low: vec![2], high: vec![1], interior: vec![0] }, vec![(TensorType::new(DType::I32, &[3]), Domain::Normal), (TensorType::scalar(DType::I32), Domain::Values(vec![7.0]))], false),
    ]
}
