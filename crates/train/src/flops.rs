//! FLOPs of a traced program, counted from its `dot_general`s (2 per multiply-add): the matmuls
//! are all but ~1% of a TRM step. Count an unrolled trace (`Trm::unroll`): a `while` body is
//! counted once, whatever its trip count.

use ouro_ir::{Func, Prim};

/// Matmul FLOPs of `func`, `while` bodies counted once.
pub fn matmul_flops(func: &Func) -> u64 {
    let mut total = 0u64;
    for e in &func.eqns {
        match &e.prim {
            Prim::DotGeneral(d) => {
                let lhs = func.ty(e.inputs[0]);
                let contracted: u64 = d.dims.lhs_contract.iter().map(|&c| lhs.shape[c] as u64).product();
                total += 2 * func.ty(e.outputs[0]).num_elements() as u64 * contracted;
            }
            Prim::While(w) => total += matmul_flops(&w.body) + matmul_flops(&w.cond),
            _ => {}
        }
    }
    total
}
