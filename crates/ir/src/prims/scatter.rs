//! Combines updates into an operand at indices. <https://openxla.org/stablehlo/spec#scatter>

use super::gather::{GatherDims, batch_shape, index_component};
use crate::lowering::{LowerCx, dim_list};
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// Dimension numbers of `scatter` (without operand batching dimensions).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ScatterDims {
    /// Dimensions of `updates` that hold a window.
    pub update_window_dims: Vec<usize>,
    /// Operand dimensions of window size 1 absent from the update windows.
    pub inserted_window_dims: Vec<usize>,
    /// Operand dimension of each component of an index vector.
    pub scatter_dims_to_operand_dims: Vec<usize>,
    /// The dimension of `indices` holding the index vectors.
    pub index_vector_dim: usize,
}

/// How an update combines with the operand element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScatterMode {
    /// `operand + update` (accumulates repeated indices).
    Add,
    /// `update` (the last write wins for repeated indices).
    Replace,
}

/// Writes each update window at its index vector; windows that do not fit are skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scatter {
    /// Dimension numbers.
    pub dims: ScatterDims,
    /// Add or replace.
    pub mode: ScatterMode,
}

impl Scatter {
    /// The operand window size in each dimension.
    fn window_sizes(&self, operand_rank: usize, updates: &[usize]) -> Vec<usize> {
        let mut w = self.dims.update_window_dims.iter().map(|&u| updates[u]);
        (0..operand_rank).map(|a| if self.dims.inserted_window_dims.contains(&a) { 1 } else { w.next().unwrap_or(1) }).collect()
    }
}

impl Rules for Scatter {
    fn name(&self) -> &'static str {
        "scatter"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        const P: &str = "scatter";
        super::arity(P, inputs, 3)?;
        let (x, idx, up) = (inputs[0], inputs[1], inputs[2]);
        let d = &self.dims;
        if !idx.dtype.is_int() {
            return Err(TypeError::other(P, format!("expects integer indices, got {idx}")));
        }
        if up.dtype != x.dtype {
            return Err(TypeError::new(P, "c16", format!("expects updates of the operand's element type, got {up} for {x}")));
        }
        if d.index_vector_dim > idx.rank() {
            return Err(TypeError::new(P, "c11", format!("expects index_vector_dim <= rank(indices) = {}, got {}", idx.rank(), d.index_vector_dim)));
        }
        let batch = batch_shape(&idx.shape, d.index_vector_dim);
        if up.rank() != batch.len() + d.update_window_dims.len() {
            return Err(TypeError::new(P, "c4", format!("expects rank(updates) = {} batch + {} window dimensions, got {up}", batch.len(), d.update_window_dims.len())));
        }
        if !super::sorted_unique(&d.update_window_dims) || d.update_window_dims.iter().any(|&u| u >= up.rank()) {
            return Err(TypeError::new(P, "c7", format!("expects sorted unique update_window_dims < rank(updates), got {:?}", d.update_window_dims)));
        }
        if !super::sorted_unique(&d.inserted_window_dims) || d.inserted_window_dims.iter().any(|&i| i >= x.rank()) {
            return Err(TypeError::new(P, "c8", format!("expects sorted unique inserted_window_dims < rank(operand), got {:?}", d.inserted_window_dims)));
        }
        if x.rank() != d.update_window_dims.len() + d.inserted_window_dims.len() {
            return Err(TypeError::new(P, "c5", format!("expects rank(operand) = size(update_window_dims) + size(inserted_window_dims), got {x}")));
        }
        let vector = if d.index_vector_dim < idx.rank() { idx.shape[d.index_vector_dim] } else { 1 };
        if d.scatter_dims_to_operand_dims.len() != vector || d.scatter_dims_to_operand_dims.iter().any(|&m| m >= x.rank()) {
            return Err(TypeError::new(P, "c13", format!("expects {vector} scatter_dims_to_operand_dims < rank(operand), got {:?}", d.scatter_dims_to_operand_dims)));
        }
        let scatter_dims: Vec<usize> = (0..up.rank()).filter(|u| !d.update_window_dims.contains(u)).map(|u| up.shape[u]).collect();
        if scatter_dims != batch {
            return Err(TypeError::new(P, "c4", format!("expects the update scatter dimensions {scatter_dims:?} to equal the indices' batch dimensions {batch:?}")));
        }
        let window = self.window_sizes(x.rank(), &up.shape);
        if window.iter().zip(&x.shape).any(|(w, n)| w > n) {
            return Err(TypeError::new(P, "c4", format!("expects update windows {window:?} no larger than the operand {x}")));
        }
        Ok(vec![x.clone()])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        let d = &self.dims;
        let scalar = TensorType::scalar(cx.input_types[0].dtype).mlir();
        let (a, b, s) = (cx.regions.fresh(), cx.regions.fresh(), cx.regions.fresh());
        let pad = " ".repeat(cx.indent);
        let body = match self.mode {
            ScatterMode::Add => format!("{pad}    {s} = stablehlo.add {a}, {b} : {scalar}\n{pad}    stablehlo.return {s} : {scalar}\n"),
            ScatterMode::Replace => format!("{pad}    stablehlo.return {b} : {scalar}\n"),
        };
        let mut fields = Vec::new();
        if !d.update_window_dims.is_empty() {
            fields.push(format!("update_window_dims = {}", dim_list(&d.update_window_dims)));
        }
        if !d.inserted_window_dims.is_empty() {
            fields.push(format!("inserted_window_dims = {}", dim_list(&d.inserted_window_dims)));
        }
        fields.push(format!("scatter_dims_to_operand_dims = {}", dim_list(&d.scatter_dims_to_operand_dims)));
        fields.push(format!("index_vector_dim = {}", d.index_vector_dim));
        let text = format!(
            "{} = \"stablehlo.scatter\"({}) ({{\n{pad}  ^bb0({a}: {scalar}, {b}: {scalar}):\n{body}{pad}}}) {{indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<{}>, unique_indices = false}} : {}",
            cx.name,
            cx.inputs.join(", "),
            fields.join(", "),
            cx.functional_type()
        );
        cx.line(&text);
        Ok(vec![cx.name.to_string()])
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let (x, idx, up) = (inputs[0], inputs[1], inputs[2]);
        let d = &self.dims;
        let xs = x.shape().to_vec();
        let st = super::strides(&xs);
        let indices = idx.to_i64_vec();
        let ishape = idx.shape().to_vec();
        let window_operand_dims: Vec<usize> = (0..xs.len()).filter(|a| !d.inserted_window_dims.contains(a)).collect();
        let float = x.dtype().is_float();
        let (mut fv, mut iv) = (x.to_f64_vec(), x.to_i64_vec());
        let (uf, ui) = (up.to_f64_vec(), up.to_i64_vec());
        let mut k = 0;
        super::for_each_index(up.shape(), |u| {
            let batch: Vec<usize> = (0..u.len()).filter(|a| !d.update_window_dims.contains(a)).map(|a| u[a]).collect();
            let mut target = vec![0i64; xs.len()];
            for (c, &a) in d.scatter_dims_to_operand_dims.iter().enumerate() {
                target[a] = index_component(&indices, &ishape, d.index_vector_dim, &batch, c);
            }
            for (j, &w) in d.update_window_dims.iter().enumerate() {
                target[window_operand_dims[j]] += u[w] as i64;
            }
            let inside = target.iter().zip(&xs).all(|(&t, &n)| t >= 0 && (t as usize) < n);
            if inside {
                let flat: usize = target.iter().zip(&st).map(|(&t, &s)| t as usize * s).sum();
                match (self.mode, float) {
                    (ScatterMode::Add, true) => fv[flat] += uf[k],
                    (ScatterMode::Add, false) => iv[flat] = iv[flat].wrapping_add(ui[k]),
                    (ScatterMode::Replace, true) => fv[flat] = uf[k],
                    (ScatterMode::Replace, false) => iv[flat] = ui[k],
                }
            }
            k += 1;
        });
        Ok(vec![if float { HostArray::from_f64(x.dtype(), &xs, &fv) } else { HostArray::from_i64(x.dtype(), &xs, &iv) }])
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        // Updates read their cotangent back with the matching gather (in-bounds windows). An
        // added-into operand passes its cotangent through; a replaced one loses it where written.
        let (x, idx, up, ct) = (cx.x(0), cx.x(1), cx.x(2), cx.ct());
        let d = &self.dims;
        let gather = GatherDims {
            offset_dims: d.update_window_dims.clone(),
            collapsed_slice_dims: d.inserted_window_dims.clone(),
            start_index_map: d.scatter_dims_to_operand_dims.clone(),
            index_vector_dim: d.index_vector_dim,
        };
        let t_updates = ct.gather(idx, gather, &self.window_sizes(x.rank(), &up.shape()));
        let t_operand = match self.mode {
            ScatterMode::Add => ct,
            ScatterMode::Replace => ct.scatter(idx, up.zeros_like(), d.clone(), ScatterMode::Replace),
        };
        Ok(vec![Some(t_operand), None, Some(t_updates)])
    }
}

pub(crate) fn cases() -> Vec<Case> {
    // Sparse row updates: rows of [3, 2] updates into a [5, 2] table at ids (repeated id 1).
    let rows = ScatterDims { update_window_dims: vec![1], inserted_window_dims: vec![0], scatter_dims_to_operand_dims: vec![0], index_vector_dim: 1 };
    let ids = (TensorType::new(DType::I32, &[3]), Domain::Values(vec![1.0, 4.0, 1.0]));
    let unique_ids = (TensorType::new(DType::I32, &[3]), Domain::Values(vec![1.0, 4.0, 0.0]));
    let table = |d| (TensorType::new(d, &[5, 2]), Domain::Normal);
    let updates = |d| (TensorType::new(d, &[3, 2]), Domain::Normal);
    vec![
        Case::new("scatter_add_rows", Scatter { dims: rows.clone(), mode: ScatterMode::Add }, vec![table(DType::F64), ids.clone(), updates(DType::F64)], true),
        Case::new("scatter_replace_rows", Scatter { dims: rows.clone(), mode: ScatterMode::Replace }, vec![table(DType::F64), unique_ids, updates(DType::F64)], true),
        Case::new("scatter_add_rows", Scatter { dims: rows.clone(), mode: ScatterMode::Add }, vec![table(DType::F32), ids.clone(), updates(DType::F32)], false),
        Case::new("scatter_add_rows", Scatter { dims: rows, mode: ScatterMode::Add }, vec![table(DType::I32), ids, updates(DType::I32)], false),
    ]
}
