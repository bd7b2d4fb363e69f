use ouro_ir::prims::GatherDims;
use ouro_ir::{DType, Tensor};

/// `CastedEmbedding`: rows of `table: [N, D]` at `ids: [...]` (any integer dtype), cast to
/// `dtype`. Ids are expected in range (callers validate data on the host; gather clamps).
#[track_caller]
pub fn embedding<'t>(table: Tensor<'t>, ids: Tensor<'t>, dtype: DType) -> Tensor<'t> {
    let width = table.shape()[1];
    let rank = ids.rank();
    let dims = GatherDims {
        offset_dims: vec![rank],
        collapsed_slice_dims: vec![0],
        start_index_map: vec![0],
        index_vector_dim: rank,
    };
    table.cast(dtype).gather(ids.cast(DType::I32), dims, &[1, width])
}
