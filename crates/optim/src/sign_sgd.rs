use ouro_ir::prims::{GatherDims, ScatterDims, ScatterMode};
use ouro_ir::{DType, DotDims, Tensor};

/// The official sparse SignSGD of the puzzle-embedding table: gradients of rows with the same
/// id are summed over the (global) batch, and only those rows change:
/// `w ← w·(1 − lr·wd) − lr·sign(Σ g)`. Rows absent from the batch are neither updated nor decayed.
///
/// `table: [N, D]`, `ids: i32 [B]`, `row_grads: [B, D]` (the gradient of each gathered row).
/// Summing by id is a `[B, B]` equality matrix times the gradients, so no `[N, D]` temporary
/// exists; duplicate ids then write identical rows.
pub fn sparse_sign_sgd<'t>(
    table: Tensor<'t>,
    ids: Tensor<'t>,
    row_grads: Tensor<'t>,
    lr: Tensor<'t>,
    weight_decay: f64,
) -> Tensor<'t> {
    let b = ids.shape()[0];
    let d = table.shape()[1];
    let same = ids.broadcast_in_dim(&[b, b], &[0]).eq(ids.broadcast_in_dim(&[b, b], &[1])).cast(DType::F32);
    let summed = same.dot_general(
        row_grads.cast(DType::F32),
        DotDims { lhs_contract: vec![1], rhs_contract: vec![0], ..DotDims::default() },
    );
    let index = ids.reshape(&[b, 1]);
    let rows = table.gather(
        index,
        GatherDims {
            offset_dims: vec![1],
            collapsed_slice_dims: vec![0],
            start_index_map: vec![0],
            index_vector_dim: 1,
        },
        &[1, d],
    );
    let updated = rows * (1.0 - lr * weight_decay) - summed.sign() * lr;
    table.scatter(
        index,
        updated,
        ScatterDims {
            update_window_dims: vec![1],
            inserted_window_dims: vec![0],
            scatter_dims_to_operand_dims: vec![0],
            index_vector_dim: 1,
        },
        ScatterMode::Replace,
    )
}
