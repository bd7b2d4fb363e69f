//! The tensor API model code is written in: one method per prim (strict, as `lax`), plus
//! numpy-style broadcasting for arithmetic and comparisons, and Rust operators.
//!
//! Every method is `#[track_caller]`, so a type error points at the model code that made the
//! call. Scalars in arithmetic (`x * 2.0`) take the tensor's dtype (JAX's weak typing); two
//! tensors of different dtypes are an error, never silently promoted.

use std::ops;

use crate::array::HostArray;
use crate::prims::*;
use crate::tracer::{Tensor, Tracer};
use crate::{DType, TensorType};

/// Dimension numbers of `dot_general`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DotDims {
    /// Batch dimensions of the left operand.
    pub lhs_batch: Vec<usize>,
    /// Batch dimensions of the right operand.
    pub rhs_batch: Vec<usize>,
    /// Contracted dimensions of the left operand.
    pub lhs_contract: Vec<usize>,
    /// Contracted dimensions of the right operand.
    pub rhs_contract: Vec<usize>,
}

impl Tracer {
    /// A constant.
    #[track_caller]
    pub fn constant(&self, value: HostArray) -> Tensor<'_> {
        self.emit1(Constant { value }, &[])
    }

    /// A scalar constant.
    #[track_caller]
    pub fn scalar(&self, value: f64, dtype: DType) -> Tensor<'_> {
        self.constant(HostArray::scalar(dtype, value))
    }

    /// A tensor of `ty` filled with `value` (a scalar constant broadcast, never a big literal).
    #[track_caller]
    pub fn full(&self, value: f64, ty: &TensorType) -> Tensor<'_> {
        let s = self.scalar(value, ty.dtype);
        if ty.rank() == 0 { s } else { s.broadcast_in_dim(&ty.shape, &[]) }
    }

    /// Zeros of `ty`.
    #[track_caller]
    pub fn zeros(&self, ty: &TensorType) -> Tensor<'_> {
        self.full(0.0, ty)
    }

    /// `0, 1, 2, ...` along `dimension` of `ty`.
    #[track_caller]
    pub fn iota(&self, ty: &TensorType, dimension: usize) -> Tensor<'_> {
        self.emit1(Iota { ty: ty.clone(), dimension }, &[])
    }

    /// Joins tensors along `dimension`.
    #[track_caller]
    pub fn concatenate<'t>(&'t self, parts: &[Tensor<'t>], dimension: usize) -> Tensor<'t> {
        self.emit1(Concatenate { dimension }, parts)
    }

    /// Prevents XLA from moving computation across this point; returns the same values.
    #[track_caller]
    pub fn optimization_barrier<'t>(&'t self, values: &[Tensor<'t>]) -> Vec<Tensor<'t>> {
        self.emit(OptimizationBarrier, values)
    }

    /// `while cond(carry) { carry = body(carry) }`; tensors of this frame used in the
    /// closures are captured as loop constants.
    #[track_caller]
    pub fn while_loop<'t>(
        &'t self,
        init: &[Tensor<'t>],
        cond: impl FnOnce(&[Tensor<'t>]) -> Tensor<'t>,
        body: impl FnOnce(&[Tensor<'t>]) -> Vec<Tensor<'t>>,
    ) -> Vec<Tensor<'t>> {
        let types: Vec<TensorType> = init.iter().map(Tensor::ty).collect();
        let cond = self.trace_body("while_cond", &types, |c| vec![cond(c)]);
        let body = self.trace_body("while_body", &types, body);
        let prim = While {
            num_carry: init.len(),
            num_cond_consts: cond.captures.len(),
            cond: Box::new(cond.func),
            body: Box::new(body.func),
        };
        let mut operands = init.to_vec();
        operands.extend(cond.captures);
        operands.extend(body.captures);
        self.emit(prim, &operands)
    }

    /// `for i in 0..n { carry = body(i, carry) }` as one `while` (not unrolled); `i` is an i32
    /// scalar. `n == 0` returns `init` unchanged without emitting a loop.
    #[track_caller]
    pub fn fori_loop<'t>(
        &'t self,
        n: usize,
        init: &[Tensor<'t>],
        body: impl FnOnce(Tensor<'t>, &[Tensor<'t>]) -> Vec<Tensor<'t>>,
    ) -> Vec<Tensor<'t>> {
        if n == 0 {
            return init.to_vec();
        }
        let mut carry = vec![self.scalar(0.0, DType::I32)];
        carry.extend_from_slice(init);
        let out = self.while_loop(
            &carry,
            |c| c[0].lt(n as f64),
            |c| {
                let mut next = vec![c[0] + 1.0];
                next.extend(body(c[0], &c[1..]));
                next
            },
        );
        out[1..].to_vec()
    }
}

/// numpy broadcasting of two shapes.
fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank { a[i + a.len() - rank] } else { 1 };
        let db = if i + b.len() >= rank { b[i + b.len() - rank] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// A right-hand side of arithmetic: a tensor, or a scalar that takes the tensor's dtype.
pub trait Operand<'t> {
    /// As a tensor of `like`'s tracer and dtype.
    fn to_tensor(self, like: Tensor<'t>) -> Tensor<'t>;
}

impl<'t> Operand<'t> for Tensor<'t> {
    fn to_tensor(self, _: Tensor<'t>) -> Tensor<'t> {
        self
    }
}

impl<'t> Operand<'t> for f64 {
    #[track_caller]
    fn to_tensor(self, like: Tensor<'t>) -> Tensor<'t> {
        like.tr.scalar(self, like.dtype())
    }
}

// `add`, `neg`, ... take any `Operand` (a tensor or a scalar), which the std operator traits
// (implemented below as well) cannot express; clippy's name-clash lint does not apply.
#[allow(clippy::should_implement_trait)]
impl<'t> Tensor<'t> {
    #[track_caller]
    fn unary(self, prim: impl Into<crate::prim::Prim>) -> Tensor<'t> {
        self.tr.emit1(prim, &[self])
    }

    /// Broadcasts two operands to their common shape (numpy rules).
    #[track_caller]
    pub fn broadcast_pair(self, other: Tensor<'t>) -> (Tensor<'t>, Tensor<'t>) {
        let (sa, sb) = (self.shape(), other.shape());
        if sa == sb {
            return (self, other);
        }
        match broadcast_shapes(&sa, &sb) {
            Some(shape) => (self.broadcast_to(&shape), other.broadcast_to(&shape)),
            None => {
                self.tr.error(format!("cannot broadcast shapes {sa:?} and {sb:?} together"));
                (self.tr.poison(&self.ty()), self.tr.poison(&self.ty()))
            }
        }
    }

    #[track_caller]
    fn binary(self, prim: impl Into<crate::prim::Prim>, rhs: impl Operand<'t>) -> Tensor<'t> {
        let rhs = rhs.to_tensor(self);
        let (a, b) = self.broadcast_pair(rhs);
        self.tr.emit1(prim, &[a, b])
    }

    /// numpy broadcasting to `shape` (trailing dimensions aligned).
    #[track_caller]
    pub fn broadcast_to(self, shape: &[usize]) -> Tensor<'t> {
        let rank = self.rank();
        if shape.len() < rank {
            self.tr.error(format!("cannot broadcast {:?} to the lower rank {shape:?}", self.shape()));
            return self.tr.poison(&self.ty());
        }
        let own = self.shape();
        if own == shape {
            return self;
        }
        // Size-1 dimensions that must grow are dropped first, then broadcast_in_dim places the rest.
        let offset = shape.len() - rank;
        let keep: Vec<usize> = (0..rank).filter(|&i| own[i] == shape[offset + i]).collect();
        let squeezed =
            if keep.len() == rank { self } else { self.reshape(&keep.iter().map(|&i| own[i]).collect::<Vec<_>>()) };
        let dims: Vec<usize> = keep.iter().map(|&i| offset + i).collect();
        squeezed.broadcast_in_dim(shape, &dims)
    }

    // ------------------------------------------------------------------ conversions

    /// Converts to another dtype (`convert`).
    #[track_caller]
    pub fn cast(self, dtype: DType) -> Tensor<'t> {
        if self.dtype() == dtype {
            return self;
        }
        self.unary(Convert { dtype })
    }

    /// Reinterprets the bits as another dtype of the same width (`bitcast_convert`).
    #[track_caller]
    pub fn bitcast(self, dtype: DType) -> Tensor<'t> {
        self.unary(BitcastConvert { dtype })
    }

    // ------------------------------------------------------------------ elementwise unary

    /// `-x`.
    #[track_caller]
    pub fn neg(self) -> Tensor<'t> {
        self.unary(Negate)
    }
    /// `|x|`.
    #[track_caller]
    pub fn abs(self) -> Tensor<'t> {
        self.unary(Abs)
    }
    /// `e^x`.
    #[track_caller]
    pub fn exp(self) -> Tensor<'t> {
        self.unary(Exponential)
    }
    /// Natural logarithm.
    #[track_caller]
    pub fn log(self) -> Tensor<'t> {
        self.unary(Log)
    }
    /// `log(1 + x)`, accurate near 0.
    #[track_caller]
    pub fn log1p(self) -> Tensor<'t> {
        self.unary(LogPlusOne)
    }
    /// Square root.
    #[track_caller]
    pub fn sqrt(self) -> Tensor<'t> {
        self.unary(Sqrt)
    }
    /// `1 / sqrt(x)`.
    #[track_caller]
    pub fn rsqrt(self) -> Tensor<'t> {
        self.unary(Rsqrt)
    }
    /// Hyperbolic tangent.
    #[track_caller]
    pub fn tanh(self) -> Tensor<'t> {
        self.unary(Tanh)
    }
    /// `1 / (1 + e^-x)`.
    #[track_caller]
    pub fn sigmoid(self) -> Tensor<'t> {
        self.unary(Logistic)
    }
    /// -1, 0 or 1 (NaN stays NaN).
    #[track_caller]
    pub fn sign(self) -> Tensor<'t> {
        self.unary(Sign)
    }
    /// Rounds down.
    #[track_caller]
    pub fn floor(self) -> Tensor<'t> {
        self.unary(Floor)
    }
    /// Rounds to the nearest integer, ties to even.
    #[track_caller]
    pub fn round(self) -> Tensor<'t> {
        self.unary(RoundNearestEven)
    }
    /// Logical (pred) or bitwise (integers) not.
    #[track_caller]
    pub fn not(self) -> Tensor<'t> {
        self.unary(Not)
    }
    /// Sine.
    #[track_caller]
    pub fn sin(self) -> Tensor<'t> {
        self.unary(Sine)
    }
    /// Cosine.
    #[track_caller]
    pub fn cos(self) -> Tensor<'t> {
        self.unary(Cosine)
    }
    /// True where the value is neither infinite nor NaN.
    #[track_caller]
    pub fn is_finite(self) -> Tensor<'t> {
        self.unary(IsFinite)
    }
    /// `x * x`.
    #[track_caller]
    pub fn square(self) -> Tensor<'t> {
        self.mul(self)
    }

    // ------------------------------------------------------------------ elementwise binary

    /// `self + rhs`, broadcasting.
    #[track_caller]
    pub fn add(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.binary(Add, rhs)
    }
    /// `self - rhs`, broadcasting.
    #[track_caller]
    pub fn sub(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.binary(Subtract, rhs)
    }
    /// `self * rhs`, broadcasting.
    #[track_caller]
    pub fn mul(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.binary(Multiply, rhs)
    }
    /// `self / rhs`, broadcasting (integer division truncates).
    #[track_caller]
    pub fn div(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.binary(Divide, rhs)
    }
    /// Remainder with the sign of the dividend, broadcasting.
    #[track_caller]
    pub fn rem(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.binary(Remainder, rhs)
    }
    /// `self ^ rhs`, broadcasting.
    #[track_caller]
    pub fn pow(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.binary(Power, rhs)
    }
    /// Elementwise maximum, broadcasting.
    #[track_caller]
    pub fn max(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.binary(Maximum, rhs)
    }
    /// Elementwise minimum, broadcasting.
    #[track_caller]
    pub fn min(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.binary(Minimum, rhs)
    }
    /// `atan2(self, rhs)`, broadcasting.
    #[track_caller]
    pub fn atan2(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.binary(Atan2, rhs)
    }
    /// Logical/bitwise and, broadcasting.
    #[track_caller]
    pub fn and(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.binary(And, rhs)
    }
    /// Logical/bitwise or, broadcasting.
    #[track_caller]
    pub fn or(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.binary(Or, rhs)
    }
    /// Logical/bitwise xor, broadcasting.
    #[track_caller]
    pub fn xor(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.binary(Xor, rhs)
    }
    /// Shift left, broadcasting.
    #[track_caller]
    pub fn shl(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.binary(ShiftLeft, rhs)
    }
    /// Logical shift right (zeros shifted in), broadcasting.
    #[track_caller]
    pub fn shr(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.binary(ShiftRightLogical, rhs)
    }
    /// Arithmetic shift right (sign shifted in), broadcasting.
    #[track_caller]
    pub fn shr_arith(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.binary(ShiftRightArithmetic, rhs)
    }

    // ------------------------------------------------------------------ comparisons and selection

    #[track_caller]
    fn compare(self, direction: Direction, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.binary(Compare { direction }, rhs)
    }
    /// `self == rhs`.
    #[track_caller]
    pub fn eq(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.compare(Direction::Eq, rhs)
    }
    /// `self != rhs`.
    #[track_caller]
    pub fn ne(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.compare(Direction::Ne, rhs)
    }
    /// `self < rhs`.
    #[track_caller]
    pub fn lt(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.compare(Direction::Lt, rhs)
    }
    /// `self <= rhs`.
    #[track_caller]
    pub fn le(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.compare(Direction::Le, rhs)
    }
    /// `self > rhs`.
    #[track_caller]
    pub fn gt(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.compare(Direction::Gt, rhs)
    }
    /// `self >= rhs`.
    #[track_caller]
    pub fn ge(self, rhs: impl Operand<'t>) -> Tensor<'t> {
        self.compare(Direction::Ge, rhs)
    }

    /// `self ? on_true : on_false` with `self` a pred, broadcasting all three.
    #[track_caller]
    pub fn select(self, on_true: impl Operand<'t>, on_false: impl Operand<'t>) -> Tensor<'t> {
        // A scalar branch takes the dtype of the other branch.
        let (t, f) = match (on_true.to_tensor(self), on_false.to_tensor(self)) {
            (t, f) if t.dtype() == DType::Pred && f.dtype() != DType::Pred && t.rank() == 0 => (t.cast(f.dtype()), f),
            (t, f) if f.dtype() == DType::Pred && t.dtype() != DType::Pred && f.rank() == 0 => (t, f.cast(t.dtype())),
            tf => tf,
        };
        let shape = broadcast_shapes(&self.shape(), &t.shape()).and_then(|s| broadcast_shapes(&s, &f.shape()));
        match shape {
            Some(shape) => {
                let (p, t, f) = (self.broadcast_to(&shape), t.broadcast_to(&shape), f.broadcast_to(&shape));
                self.tr.emit1(Select, &[p, t, f])
            }
            None => {
                self.tr.error(format!(
                    "select: cannot broadcast {:?}, {:?} and {:?} together",
                    self.shape(),
                    t.shape(),
                    f.shape()
                ));
                self.tr.poison(&t.ty())
            }
        }
    }

    /// Clamps to `[lo, hi]` (scalars or same-shape tensors).
    #[track_caller]
    pub fn clamp(self, lo: impl Operand<'t>, hi: impl Operand<'t>) -> Tensor<'t> {
        let (lo, hi) = (lo.to_tensor(self), hi.to_tensor(self));
        self.tr.emit1(Clamp, &[lo, self, hi])
    }

    // ------------------------------------------------------------------ shapes

    /// Same elements, new shape (row-major).
    #[track_caller]
    pub fn reshape(self, shape: &[usize]) -> Tensor<'t> {
        if self.shape() == shape {
            return self;
        }
        self.unary(Reshape { shape: shape.to_vec() })
    }

    /// Places operand dimension `i` at result dimension `dims[i]` of `shape`, repeating along the rest.
    #[track_caller]
    pub fn broadcast_in_dim(self, shape: &[usize], dims: &[usize]) -> Tensor<'t> {
        self.unary(BroadcastInDim { shape: shape.to_vec(), broadcast_dimensions: dims.to_vec() })
    }

    /// Permutes dimensions: result dimension `i` is operand dimension `perm[i]`.
    #[track_caller]
    pub fn transpose(self, perm: &[usize]) -> Tensor<'t> {
        if perm.iter().enumerate().all(|(i, &p)| i == p) && perm.len() == self.rank() {
            return self;
        }
        self.unary(Transpose { permutation: perm.to_vec() })
    }

    /// A static slice `[start, limit)` with `strides`.
    #[track_caller]
    pub fn slice(self, start: &[usize], limit: &[usize], strides: &[usize]) -> Tensor<'t> {
        self.unary(Slice { start_indices: start.to_vec(), limit_indices: limit.to_vec(), strides: strides.to_vec() })
    }

    /// Elements `[start, end)` of dimension `dim`.
    #[track_caller]
    pub fn slice_dim(self, dim: usize, start: usize, end: usize) -> Tensor<'t> {
        let shape = self.shape();
        let mut lo = vec![0; shape.len()];
        let mut hi = shape.clone();
        if dim < shape.len() {
            lo[dim] = start;
            hi[dim] = end;
        }
        self.slice(&lo, &hi, &vec![1; shape.len()])
    }

    /// A slice of `sizes` starting at run-time indices (clamped into range, as StableHLO does).
    #[track_caller]
    pub fn dynamic_slice(self, starts: &[Tensor<'t>], sizes: &[usize]) -> Tensor<'t> {
        let mut operands = vec![self];
        operands.extend_from_slice(starts);
        self.tr.emit1(DynamicSlice { slice_sizes: sizes.to_vec() }, &operands)
    }

    /// Writes `update` at run-time indices (clamped into range).
    #[track_caller]
    pub fn dynamic_update_slice(self, update: Tensor<'t>, starts: &[Tensor<'t>]) -> Tensor<'t> {
        let mut operands = vec![self, update];
        operands.extend_from_slice(starts);
        self.tr.emit1(DynamicUpdateSlice, &operands)
    }

    /// Pads with `value`: `low`/`high` elements at each end, `interior` between elements.
    #[track_caller]
    pub fn pad(self, value: impl Operand<'t>, low: &[i64], high: &[i64], interior: &[usize]) -> Tensor<'t> {
        let value = value.to_tensor(self);
        self.tr.emit1(Pad { low: low.to_vec(), high: high.to_vec(), interior: interior.to_vec() }, &[self, value])
    }

    /// Reverses the order of elements along `dims`.
    #[track_caller]
    pub fn reverse(self, dims: &[usize]) -> Tensor<'t> {
        self.unary(Reverse { dimensions: dims.to_vec() })
    }

    // ------------------------------------------------------------------ contractions and reductions

    /// `dot_general` with explicit dimension numbers; the result has the operand dtype.
    #[track_caller]
    pub fn dot_general(self, rhs: Tensor<'t>, dims: DotDims) -> Tensor<'t> {
        self.tr.emit1(DotGeneral { dims, preferred: None }, &[self, rhs])
    }

    /// `dot_general` accumulating into `dtype` (e.g. bf16 operands, f32 result).
    #[track_caller]
    pub fn dot_general_to(self, rhs: Tensor<'t>, dims: DotDims, dtype: DType) -> Tensor<'t> {
        self.tr.emit1(DotGeneral { dims, preferred: Some(dtype) }, &[self, rhs])
    }

    /// Matrix product over the last dimension of `self` and the second-to-last of `rhs`
    /// (the last if `rhs` is a vector); leading dimensions of `self` are kept, a 2-D `rhs` is
    /// shared, and a `rhs` of the same rank batches over the leading dimensions.
    #[track_caller]
    pub fn matmul(self, rhs: Tensor<'t>) -> Tensor<'t> {
        let (ra, rb) = (self.rank(), rhs.rank());
        if ra == 0 || rb == 0 {
            self.tr.error("matmul: expects operands of rank >= 1");
            return self.tr.poison(&self.ty());
        }
        if rb <= 2 {
            return self
                .dot_general(rhs, DotDims { lhs_contract: vec![ra - 1], rhs_contract: vec![0], ..DotDims::default() });
        }
        let batch: Vec<usize> = (0..rb - 2).collect();
        if ra != rb {
            self.tr.error(format!(
                "matmul: batched operands must have the same rank, got {:?} and {:?}",
                self.shape(),
                rhs.shape()
            ));
            return self.tr.poison(&self.ty());
        }
        self.dot_general(
            rhs,
            DotDims {
                lhs_batch: batch.clone(),
                rhs_batch: batch,
                lhs_contract: vec![ra - 1],
                rhs_contract: vec![rb - 2],
            },
        )
    }

    #[track_caller]
    fn reduce(self, kind: ReduceKind, axes: &[usize]) -> Tensor<'t> {
        let mut axes = axes.to_vec();
        axes.sort_unstable();
        axes.dedup();
        if axes.is_empty() {
            return self;
        }
        self.unary(Reduce { kind, dimensions: axes })
    }
    /// Sum over `axes` (removed from the shape).
    #[track_caller]
    pub fn sum(self, axes: &[usize]) -> Tensor<'t> {
        self.reduce(ReduceKind::Sum, axes)
    }
    /// Maximum over `axes`.
    #[track_caller]
    pub fn max_over(self, axes: &[usize]) -> Tensor<'t> {
        self.reduce(ReduceKind::Max, axes)
    }
    /// Minimum over `axes`.
    #[track_caller]
    pub fn min_over(self, axes: &[usize]) -> Tensor<'t> {
        self.reduce(ReduceKind::Min, axes)
    }
    /// Logical and over `axes` (pred).
    #[track_caller]
    pub fn all(self, axes: &[usize]) -> Tensor<'t> {
        self.reduce(ReduceKind::And, axes)
    }
    /// Logical or over `axes` (pred).
    #[track_caller]
    pub fn any(self, axes: &[usize]) -> Tensor<'t> {
        self.reduce(ReduceKind::Or, axes)
    }
    /// Sum over every dimension.
    #[track_caller]
    pub fn sum_all(self) -> Tensor<'t> {
        let axes: Vec<usize> = (0..self.rank()).collect();
        self.sum(&axes)
    }

    /// Slices of `self` at `indices` (StableHLO `gather`).
    #[track_caller]
    pub fn gather(self, indices: Tensor<'t>, dims: GatherDims, slice_sizes: &[usize]) -> Tensor<'t> {
        self.tr.emit1(Gather { dims, slice_sizes: slice_sizes.to_vec() }, &[self, indices])
    }

    /// Combines `updates` into `self` at `indices` (StableHLO `scatter`), adding or replacing.
    #[track_caller]
    pub fn scatter(self, indices: Tensor<'t>, updates: Tensor<'t>, dims: ScatterDims, mode: ScatterMode) -> Tensor<'t> {
        self.tr.emit1(Scatter { dims, mode }, &[self, indices, updates])
    }

    // ------------------------------------------------------------------ autodiff and sharding markers

    /// The same value with no gradient flowing back through it.
    #[track_caller]
    pub fn stop_gradient(self) -> Tensor<'t> {
        self.unary(StopGradient)
    }

    /// Constrains how XLA lays this value out over the mesh.
    #[track_caller]
    pub fn with_sharding(self, sharding: crate::Sharding) -> Tensor<'t> {
        self.unary(ShardingConstraint { sharding })
    }

    /// Zeros of this tensor's type.
    #[track_caller]
    pub fn zeros_like(self) -> Tensor<'t> {
        self.tr.zeros(&self.ty())
    }

    /// `value` in this tensor's type.
    #[track_caller]
    pub fn full_like(self, value: f64) -> Tensor<'t> {
        self.tr.full(value, &self.ty())
    }
}

macro_rules! operator {
    ($trait:ident, $method:ident, $op:ident) => {
        impl<'t> ops::$trait<Tensor<'t>> for Tensor<'t> {
            type Output = Tensor<'t>;
            #[track_caller]
            fn $method(self, rhs: Tensor<'t>) -> Tensor<'t> {
                Tensor::$op(self, rhs)
            }
        }
        impl<'t> ops::$trait<f64> for Tensor<'t> {
            type Output = Tensor<'t>;
            #[track_caller]
            fn $method(self, rhs: f64) -> Tensor<'t> {
                Tensor::$op(self, rhs)
            }
        }
        impl<'t> ops::$trait<Tensor<'t>> for f64 {
            type Output = Tensor<'t>;
            #[track_caller]
            fn $method(self, rhs: Tensor<'t>) -> Tensor<'t> {
                Tensor::$op(rhs.tr.full(self, &TensorType::scalar(rhs.dtype())), rhs)
            }
        }
    };
}
operator!(Add, add, add);
operator!(Sub, sub, sub);
operator!(Mul, mul, mul);
operator!(Div, div, div);

impl<'t> ops::Neg for Tensor<'t> {
    type Output = Tensor<'t>;
    #[track_caller]
    fn neg(self) -> Tensor<'t> {
        Tensor::neg(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_broadcasting() {
        assert_eq!(broadcast_shapes(&[3, 1], &[4]), Some(vec![3, 4]));
        assert_eq!(broadcast_shapes(&[2, 3], &[3]), Some(vec![2, 3]));
        assert_eq!(broadcast_shapes(&[], &[5]), Some(vec![5]));
        assert_eq!(broadcast_shapes(&[2], &[3]), None);
    }
}
