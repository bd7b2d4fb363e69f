//! Slices of an operand at indices given by a tensor. <https://openxla.org/stablehlo/spec#gather>

use super::scatter::{ScatterDims, ScatterMode};
use crate::lowering::{LowerCx, dim_list, i64_array};
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// Dimension numbers of `gather` (without operand batching dimensions).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct GatherDims {
    /// Result dimensions that hold the slices' (non-collapsed) dimensions.
    pub offset_dims: Vec<usize>,
    /// Operand dimensions of slice size 1 that do not appear in the result.
    pub collapsed_slice_dims: Vec<usize>,
    /// Operand dimension of each component of an index vector.
    pub start_index_map: Vec<usize>,
    /// The dimension of `indices` holding the index vectors (`rank(indices)` for scalars).
    pub index_vector_dim: usize,
}

/// Reads a `slice_sizes` block of the operand at each index vector; starts are clamped so the
/// block fits, as the spec says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gather {
    /// Dimension numbers.
    pub dims: GatherDims,
    /// The block read at each index.
    pub slice_sizes: Vec<usize>,
}

/// Sizes of the batch dimensions of `indices` (all but the index vector dimension).
pub(crate) fn batch_shape(indices: &[usize], index_vector_dim: usize) -> Vec<usize> {
    indices.iter().enumerate().filter(|&(d, _)| d != index_vector_dim).map(|(_, &s)| s).collect()
}

/// Reads index vector `k` of the batch position `batch` from flattened `indices`.
pub(crate) fn index_component(indices: &[i64], shape: &[usize], index_vector_dim: usize, batch: &[usize], k: usize) -> i64 {
    let st = super::strides(shape);
    let mut flat = 0;
    let mut b = batch.iter();
    for (d, s) in st.iter().enumerate() {
        let i = if d == index_vector_dim { k } else { *b.next().unwrap_or(&0) };
        flat += i * s;
    }
    indices[flat]
}

impl Rules for Gather {
    fn name(&self) -> &'static str {
        "gather"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        const P: &str = "gather";
        super::arity(P, inputs, 2)?;
        let (x, idx) = (inputs[0], inputs[1]);
        let d = &self.dims;
        if !idx.dtype.is_int() {
            return Err(TypeError::other(P, format!("expects integer start indices, got {idx}")));
        }
        if x.rank() != d.offset_dims.len() + d.collapsed_slice_dims.len() {
            return Err(TypeError::new(P, "c1", format!("expects rank(operand) = size(offset_dims) + size(collapsed_slice_dims), got {x}, {:?}, {:?}", d.offset_dims, d.collapsed_slice_dims)));
        }
        if d.index_vector_dim > idx.rank() {
            return Err(TypeError::new(P, "c2", format!("expects index_vector_dim <= rank(indices) = {}, got {}", idx.rank(), d.index_vector_dim)));
        }
        let vector = if d.index_vector_dim < idx.rank() { idx.shape[d.index_vector_dim] } else { 1 };
        if d.start_index_map.len() != vector {
            return Err(TypeError::new(P, "c3", format!("expects size(start_index_map) = index vector size {vector}, got {:?}", d.start_index_map)));
        }
        let batch = batch_shape(&idx.shape, d.index_vector_dim);
        let rank = batch.len() + d.offset_dims.len();
        if !super::sorted_unique(&d.offset_dims) || d.offset_dims.iter().any(|&o| o >= rank) {
            return Err(TypeError::new(P, "c4", format!("expects sorted unique offset_dims < rank(result) = {rank}, got {:?}", d.offset_dims)));
        }
        if !super::sorted_unique(&d.collapsed_slice_dims) || d.collapsed_slice_dims.iter().any(|&c| c >= x.rank()) {
            return Err(TypeError::new(P, "c6", format!("expects sorted unique collapsed_slice_dims < rank(operand), got {:?}", d.collapsed_slice_dims)));
        }
        if d.start_index_map.iter().collect::<std::collections::BTreeSet<_>>().len() != d.start_index_map.len() || d.start_index_map.iter().any(|&m| m >= x.rank()) {
            return Err(TypeError::new(P, "c9", format!("expects unique start_index_map < rank(operand), got {:?}", d.start_index_map)));
        }
        if self.slice_sizes.len() != x.rank() || self.slice_sizes.iter().zip(&x.shape).any(|(s, n)| s > n) {
            return Err(TypeError::new(P, "c12", format!("expects one slice size per operand dimension, each <= its size, got {:?} for {x}", self.slice_sizes)));
        }
        if let Some(&c) = d.collapsed_slice_dims.iter().find(|&&c| self.slice_sizes[c] > 1) {
            return Err(TypeError::new(P, "c8", format!("expects slice size <= 1 in collapsed dimension {c}, got {}", self.slice_sizes[c])));
        }
        let offsets: Vec<usize> = (0..x.rank()).filter(|a| !d.collapsed_slice_dims.contains(a)).map(|a| self.slice_sizes[a]).collect();
        let (mut b, mut o) = (batch.iter(), offsets.iter());
        let shape: Vec<usize> = (0..rank).map(|r| if d.offset_dims.contains(&r) { *o.next().expect("counted") } else { *b.next().expect("counted") }).collect();
        Ok(vec![TensorType::new(x.dtype, &shape)])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        let d = &self.dims;
        let mut fields = Vec::new();
        if !d.offset_dims.is_empty() {
            fields.push(format!("offset_dims = {}", dim_list(&d.offset_dims)));
        }
        if !d.collapsed_slice_dims.is_empty() {
            fields.push(format!("collapsed_slice_dims = {}", dim_list(&d.collapsed_slice_dims)));
        }
        fields.push(format!("start_index_map = {}", dim_list(&d.start_index_map)));
        fields.push(format!("index_vector_dim = {}", d.index_vector_dim));
        let attrs = format!(
            "dimension_numbers = #stablehlo.gather<{}>, indices_are_sorted = false, slice_sizes = {}",
            fields.join(", "),
            i64_array(&self.slice_sizes)
        );
        Ok(cx.generic("gather", &attrs))
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let (x, idx) = (inputs[0], inputs[1]);
        let out = self.infer(&[&x.ty(), &idx.ty()]).map_err(|e| e.to_string())?.remove(0);
        let d = &self.dims;
        let xs = x.shape().to_vec();
        let st = super::strides(&xs);
        let indices = idx.to_i64_vec();
        let ishape = idx.shape().to_vec();
        let non_collapsed: Vec<usize> = (0..xs.len()).filter(|a| !d.collapsed_slice_dims.contains(a)).collect();
        Ok(vec![super::rearrange(&inputs[..1], &out, 0.0, |o| {
            let batch: Vec<usize> = (0..o.len()).filter(|r| !d.offset_dims.contains(r)).map(|r| o[r]).collect();
            let mut start = vec![0i64; xs.len()];
            for (k, &a) in d.start_index_map.iter().enumerate() {
                start[a] = index_component(&indices, &ishape, d.index_vector_dim, &batch, k);
            }
            let mut flat = 0;
            for a in 0..xs.len() {
                let s = start[a].clamp(0, (xs[a] - self.slice_sizes[a]) as i64) as usize;
                let offset = non_collapsed.iter().position(|&n| n == a).map_or(0, |j| o[d.offset_dims[j]]);
                flat += (s + offset) * st[a];
            }
            super::Source::Input(0, flat)
        })])
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        // The transpose of a gather scatter-adds the cotangent back. Gather clamps starts while
        // scatter skips out-of-bounds windows, so the indices are clamped first.
        let (x, idx) = (cx.x(0), cx.x(1));
        let d = &self.dims;
        let shape = x.shape();
        let bounds: Vec<f64> = d.start_index_map.iter().map(|&a| (shape[a] - self.slice_sizes[a]) as f64).collect();
        let tr = x.tracer();
        let bound = if d.index_vector_dim < idx.rank() {
            let v = tr.constant(HostArray::from_f64(idx.dtype(), &[bounds.len()], &bounds));
            v.broadcast_in_dim(&idx.shape(), &[d.index_vector_dim])
        } else {
            tr.full(bounds[0], &idx.ty())
        };
        let clamped = idx.max(0.0).min(bound);
        let dims = ScatterDims {
            update_window_dims: d.offset_dims.clone(),
            inserted_window_dims: d.collapsed_slice_dims.clone(),
            scatter_dims_to_operand_dims: d.start_index_map.clone(),
            index_vector_dim: d.index_vector_dim,
        };
        Ok(vec![Some(x.zeros_like().scatter(clamped, cx.ct(), dims, ScatterMode::Add)), None])
    }
}

pub(crate) fn cases() -> Vec<Case> {
    // Embedding lookup: rows of a [5, 3] table at ids [2, 2] (index vector dim last, implicit).
    let lookup = Gather {
        dims: GatherDims { offset_dims: vec![2], collapsed_slice_dims: vec![0], start_index_map: vec![0], index_vector_dim: 2 },
        slice_sizes: vec![1, 3],
    };
    let ids = (TensorType::new(DType::I32, &[2, 2]), Domain::Values(vec![4.0, 0.0, 4.0, 7.0]));
    // 2-D windows at explicit (row, col) vectors, out-of-range starts clamped.
    let windows = Gather {
        dims: GatherDims { offset_dims: vec![1, 2], collapsed_slice_dims: vec![], start_index_map: vec![0, 1], index_vector_dim: 1 },
        slice_sizes: vec![2, 2],
    };
    let starts = (TensorType::new(DType::I32, &[3, 2]), Domain::Values(vec![0.0, 1.0, 3.0, 3.0, -1.0, 0.0]));
    vec![
        Case::new("gather_rows", lookup.clone(), vec![(TensorType::new(DType::F64, &[5, 3]), Domain::Normal), ids.clone()], true),
        Case::new("gather_rows", lookup, vec![(TensorType::new(DType::BF16, &[5, 3]), Domain::Normal), ids], false),
        Case::new("gather_windows", windows.clone(), vec![(TensorType::new(DType::F64, &[4, 4]), Domain::Normal), starts.clone()], true),
        Case::new("gather_windows", windows, vec![(TensorType::new(DType::I32, &[4, 4]), Domain::Normal), starts], false),
    ]
}
