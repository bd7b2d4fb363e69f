//! Tracing: running model code on [`Tensor`]s records equations into a [`Func`].
//!
//! A [`Tracer`] is an explicit object, never global state. Ops check their inputs with the
//! prim's type rule; the first failure is recorded with the caller's source location
//! (`#[track_caller]` all the way up), its outputs are poisoned, and every later op that uses a
//! poisoned value is a no-op, so [`Tracer::finish`] reports the root cause only.
//!
//! Loop bodies are traced in nested frames. A tensor of an enclosing frame used inside a body
//! is captured automatically: it becomes an extra parameter of the body and an operand of the
//! loop (closure conversion, as JAX does for `lax.while_loop`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::Location;

use crate::func::{Eqn, Func, OutputAttrs, ParamAttrs, ScopeId, ValueId, verify};
use crate::prim::Prim;
use crate::{DType, TensorType, TraceError};

/// A value being traced. Cheap to copy; only meaningful with its tracer.
#[derive(Clone, Copy)]
pub struct Tensor<'t> {
    pub(crate) tr: &'t Tracer,
    pub(crate) frame: u32,
    pub(crate) id: ValueId,
}

impl std::fmt::Debug for Tensor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor(%{} {})", self.id.0, self.ty())
    }
}

struct Frame {
    id: u32,
    func: Func,
    poisoned: Vec<bool>,
    captures: Vec<Capture>,
    scope_ids: HashMap<String, ScopeId>,
}

impl Frame {
    fn new(id: u32, name: &str) -> Frame {
        let func = Func { name: name.to_string(), scopes: vec![String::new()], ..Func::default() };
        let mut scope_ids = HashMap::new();
        scope_ids.insert(String::new(), ScopeId(0));
        Frame { id, func, poisoned: Vec::new(), captures: Vec::new(), scope_ids }
    }

    fn new_value(&mut self, ty: TensorType, poisoned: bool) -> ValueId {
        let id = ValueId(self.func.values.len() as u32);
        self.func.values.push(ty);
        self.poisoned.push(poisoned);
        id
    }
}

/// A value of an enclosing frame used in this one.
struct Capture {
    /// The original (frame id, value) the model code used.
    key: (u32, ValueId),
    /// The same value in the parent frame (itself a capture when it comes from further out).
    parent_value: ValueId,
    /// The parameter of this frame standing for it.
    inner: ValueId,
}

struct State {
    frames: Vec<Frame>,
    next_frame: u32,
    error: Option<TraceError>,
    scope: Vec<String>,
    /// Rematerialised regions: (frame id, equations), in order, never nested.
    remat: Vec<(u32, std::ops::Range<usize>)>,
    /// Whether a region is being recorded.
    in_remat: bool,
}

/// Records the equations of a function as model code runs on its tensors.
pub struct Tracer {
    state: RefCell<State>,
}

/// Pops a name scope when dropped.
pub struct ScopeGuard<'t> {
    tr: &'t Tracer,
}

impl Drop for ScopeGuard<'_> {
    fn drop(&mut self) {
        self.tr.state.borrow_mut().scope.pop();
    }
}

/// Restores the scope path replaced by [`Tracer::with_scope_path`] when dropped.
pub struct ScopePathGuard<'t> {
    tr: &'t Tracer,
    saved: Option<Vec<String>>,
}

impl Drop for ScopePathGuard<'_> {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            self.tr.state.borrow_mut().scope = saved;
        }
    }
}

/// A function traced in a nested frame, with the outer tensors it captured.
pub struct TracedBody<'t> {
    /// The function: the given parameters first, then one per capture.
    pub func: Func,
    /// The captured tensors of the enclosing frame, in parameter order.
    pub captures: Vec<Tensor<'t>>,
}

impl Default for Tracer {
    fn default() -> Self {
        Tracer::new("main")
    }
}

impl Tracer {
    /// A tracer for a function called `name`.
    pub fn new(name: &str) -> Tracer {
        Tracer {
            state: RefCell::new(State {
                frames: vec![Frame::new(0, name)],
                next_frame: 1,
                error: None,
                scope: Vec::new(),
                remat: Vec::new(),
                in_remat: false,
            }),
        }
    }

    /// Adds a parameter to the function being traced.
    #[track_caller]
    pub fn param(&self, name: &str, ty: TensorType) -> Tensor<'_> {
        self.param_with(ParamAttrs { name: name.to_string(), ..ParamAttrs::default() }, ty)
    }

    /// Adds a parameter with attributes (sharding, donation).
    #[track_caller]
    pub fn param_with(&self, attrs: ParamAttrs, ty: TensorType) -> Tensor<'_> {
        let location = Location::caller();
        let mut st = self.state.borrow_mut();
        if st.frames.len() != 1 {
            let scope = st.scope.join("/");
            st.error.get_or_insert(TraceError {
                message: "parameters can only be added to the top-level function, not inside a loop body".into(),
                location,
                scope,
            });
        }
        let frame = st.frames.last_mut().expect("a frame");
        let id = frame.new_value(ty, false);
        frame.func.params.push(id);
        frame.func.param_attrs.push(attrs);
        Tensor { tr: self, frame: frame.id, id }
    }

    /// Enters a name scope until the guard drops (`let _s = tr.scope("attn");`).
    pub fn scope(&self, name: &str) -> ScopeGuard<'_> {
        self.state.borrow_mut().scope.push(name.to_string());
        ScopeGuard { tr: self }
    }

    /// Replaces the whole scope path (`a/b/c`) until the guard drops, then restores it.
    pub fn with_scope_path(&self, path: &str) -> ScopePathGuard<'_> {
        let parts: Vec<String> = path.split('/').filter(|p| !p.is_empty()).map(String::from).collect();
        let saved = std::mem::replace(&mut self.state.borrow_mut().scope, parts);
        ScopePathGuard { tr: self, saved: Some(saved) }
    }

    /// The scope path equation `i` of the current frame was traced in.
    pub fn eqn_scope(&self, i: usize) -> String {
        let st = self.state.borrow();
        let f = &st.frames.last().expect("a frame").func;
        f.scope(&f.eqns[i]).to_string()
    }

    /// The current scope path.
    pub fn scope_path(&self) -> String {
        self.state.borrow().scope.join("/")
    }

    /// Whether an error has been recorded.
    pub fn has_error(&self) -> bool {
        self.state.borrow().error.is_some()
    }

    /// Records an error (kept only if it is the first) at the caller's location.
    #[track_caller]
    pub fn error(&self, message: impl Into<String>) {
        let location = Location::caller();
        let mut st = self.state.borrow_mut();
        let scope = st.scope.join("/");
        st.error.get_or_insert(TraceError { message: message.into(), location, scope });
    }

    /// A value standing for the result of an operation that failed (the error is already
    /// recorded): ops on it are no-ops.
    pub fn poison(&self, ty: &TensorType) -> Tensor<'_> {
        let mut st = self.state.borrow_mut();
        let frame = st.frames.last_mut().expect("a frame");
        let id = frame.new_value(ty.clone(), true);
        Tensor { tr: self, frame: frame.id, id }
    }

    /// Records an error at `location` (kept only if it is the first).
    pub fn error_at(&self, message: impl Into<String>, location: &'static Location<'static>) {
        let mut st = self.state.borrow_mut();
        let scope = st.scope.join("/");
        st.error.get_or_insert(TraceError { message: message.into(), location, scope });
    }

    /// Values defined so far in the current frame.
    pub fn num_values(&self) -> usize {
        self.state.borrow().frames.last().map_or(0, |f| f.func.values.len())
    }

    /// The type of a tensor.
    pub fn ty(&self, t: Tensor<'_>) -> TensorType {
        let st = self.state.borrow();
        match st.frames.iter().find(|f| f.id == t.frame) {
            Some(f) => f.func.values[t.id.index()].clone(),
            None => TensorType::scalar(DType::F32),
        }
    }

    fn is_poisoned(&self, t: Tensor<'_>) -> bool {
        let st = self.state.borrow();
        st.frames.iter().find(|f| f.id == t.frame).is_none_or(|f| f.poisoned[t.id.index()])
    }

    /// The value of `t` in the innermost frame, capturing it through enclosing frames.
    fn resolve(&self, st: &mut State, t: Tensor<'_>) -> Result<ValueId, String> {
        if !std::ptr::eq(t.tr, self) {
            return Err("a tensor of another tracer was used".into());
        }
        let top = st.frames.len() - 1;
        Self::resolve_in(st, top, t.frame, t.id)
    }

    fn resolve_in(st: &mut State, fi: usize, frame: u32, id: ValueId) -> Result<ValueId, String> {
        if st.frames[fi].id == frame {
            return Ok(id);
        }
        if let Some(c) = st.frames[fi].captures.iter().find(|c| c.key == (frame, id)) {
            return Ok(c.inner);
        }
        if fi == 0 || !st.frames[..fi].iter().any(|f| f.id == frame) {
            return Err("a tensor of a loop body was used after the loop was traced".into());
        }
        let outer = Self::resolve_in(st, fi - 1, frame, id)?;
        let parent = &st.frames[fi - 1];
        let (ty, poisoned) = (parent.func.values[outer.index()].clone(), parent.poisoned[outer.index()]);
        let f = &mut st.frames[fi];
        let inner = f.new_value(ty, poisoned);
        f.func.params.push(inner);
        f.func.param_attrs.push(ParamAttrs { name: format!("capture{}", f.captures.len()), ..ParamAttrs::default() });
        f.captures.push(Capture { key: (frame, id), parent_value: outer, inner });
        Ok(inner)
    }

    /// Applies `prim` to `inputs` in the current frame and returns its outputs.
    #[track_caller]
    pub fn emit(&self, prim: impl Into<Prim>, inputs: &[Tensor<'_>]) -> Vec<Tensor<'_>> {
        let prim = prim.into();
        let location = Location::caller();
        let poisoned_input = inputs.iter().any(|&t| self.is_poisoned(t));
        let mut st = self.state.borrow_mut();
        let mut ids = Vec::with_capacity(inputs.len());
        let mut failure = None;
        for &t in inputs {
            match self.resolve(&mut st, t) {
                Ok(id) => ids.push(id),
                Err(e) => {
                    failure = Some(format!("{}: {e}", prim.name()));
                    break;
                }
            }
        }
        let frame_index = st.frames.len() - 1;
        let outputs_types = if failure.is_some() || poisoned_input {
            None
        } else {
            let frame = &st.frames[frame_index];
            let types: Vec<&TensorType> = ids.iter().map(|v| &frame.func.values[v.index()]).collect();
            match prim.infer(&types) {
                Ok(t) => Some(t),
                Err(e) => {
                    failure = Some(e.to_string());
                    None
                }
            }
        };
        if let Some(message) = failure {
            let scope = st.scope.join("/");
            st.error.get_or_insert(TraceError { message, location, scope });
        }
        let scope_path = st.scope.join("/");
        let frame = &mut st.frames[frame_index];
        let outputs: Vec<ValueId> = match outputs_types {
            Some(types) => types.into_iter().map(|ty| frame.new_value(ty, false)).collect(),
            None => {
                // Poisoned results: a plausible type, never emitted as an equation.
                let n = prim.rules().num_outputs(inputs.len());
                let guess =
                    ids.first().map_or(TensorType::scalar(DType::F32), |v| frame.func.values[v.index()].clone());
                return (0..n)
                    .map(|_| Tensor { tr: self, frame: frame.id, id: frame.new_value(guess.clone(), true) })
                    .collect();
            }
        };
        let next_scope = ScopeId(frame.func.scopes.len() as u32);
        let scope = *frame.scope_ids.entry(scope_path.clone()).or_insert(next_scope);
        if scope == next_scope {
            frame.func.scopes.push(scope_path);
        }
        frame.func.eqns.push(Eqn { prim, inputs: ids, outputs: outputs.clone(), scope });
        outputs.into_iter().map(|id| Tensor { tr: self, frame: frame.id, id }).collect()
    }

    /// Applies a one-output prim.
    #[track_caller]
    pub fn emit1(&self, prim: impl Into<Prim>, inputs: &[Tensor<'_>]) -> Tensor<'_> {
        self.emit(prim, inputs)[0]
    }

    /// Traces `body` in a nested frame whose parameters have `param_types`; tensors of
    /// enclosing frames that it uses become further parameters ([`TracedBody::captures`]).
    #[track_caller]
    pub fn trace_body<'t>(
        &'t self,
        name: &str,
        param_types: &[TensorType],
        body: impl FnOnce(&[Tensor<'t>]) -> Vec<Tensor<'t>>,
    ) -> TracedBody<'t> {
        let params: Vec<Tensor<'t>> = {
            let mut st = self.state.borrow_mut();
            let id = st.next_frame;
            st.next_frame += 1;
            let mut frame = Frame::new(id, name);
            let params = param_types
                .iter()
                .enumerate()
                .map(|(i, ty)| {
                    let v = frame.new_value(ty.clone(), false);
                    frame.func.params.push(v);
                    frame.func.param_attrs.push(ParamAttrs { name: format!("arg{i}"), ..ParamAttrs::default() });
                    Tensor { tr: self, frame: id, id: v }
                })
                .collect();
            st.frames.push(frame);
            params
        };
        let results = body(&params);
        let mut outputs = Vec::with_capacity(results.len());
        {
            let mut st = self.state.borrow_mut();
            for &r in &results {
                match self.resolve(&mut st, r) {
                    Ok(v) => outputs.push(v),
                    Err(e) => {
                        let scope = st.scope.join("/");
                        st.error.get_or_insert(TraceError {
                            message: format!("{name}: {e}"),
                            location: Location::caller(),
                            scope,
                        });
                    }
                }
            }
        }
        let poisoned = results.iter().any(|&r| self.is_poisoned(r));
        let mut st = self.state.borrow_mut();
        let mut frame = st.frames.pop().expect("the body's frame");
        if poisoned && st.error.is_none() {
            let scope = st.scope.join("/");
            st.error = Some(TraceError {
                message: format!("{name}: its result is invalid"),
                location: Location::caller(),
                scope,
            });
        }
        frame.func.output_attrs = vec![OutputAttrs::default(); outputs.len()];
        frame.func.outputs = outputs;
        let parent_id = st.frames.last().expect("an enclosing frame").id;
        let captures =
            frame.captures.iter().map(|c| Tensor { tr: self, frame: parent_id, id: c.parent_value }).collect();
        TracedBody { func: frame.func, captures }
    }

    /// A tensor of the current frame by value id (for transformations such as autodiff).
    pub fn tensor(&self, id: ValueId) -> Tensor<'_> {
        let st = self.state.borrow();
        Tensor { tr: self, frame: st.frames.last().expect("a frame").id, id }
    }

    /// The value id of `t` in the current frame, if it belongs to it.
    pub fn value_id(&self, t: Tensor<'_>) -> Option<ValueId> {
        let st = self.state.borrow();
        (std::ptr::eq(t.tr, self) && st.frames.last().is_some_and(|f| f.id == t.frame)).then_some(t.id)
    }

    /// Runs `f`, marking the equations it records as *rematerialised*: reverse mode keeps only
    /// the region's inputs and recomputes its values when the backward pass reaches it (trading
    /// FLOPs for activation memory, as `jax.checkpoint`). A region inside a region is part of
    /// the outer one.
    pub fn remat<R>(&self, f: impl FnOnce() -> R) -> R {
        let (frame, start, nested) = {
            let mut st = self.state.borrow_mut();
            let nested = std::mem::replace(&mut st.in_remat, true);
            let frame = st.frames.last().expect("a frame");
            (frame.id, frame.func.eqns.len(), nested)
        };
        let out = f();
        if !nested {
            let mut st = self.state.borrow_mut();
            st.in_remat = false;
            let end = st.frames.last().map_or(start, |f| f.func.eqns.len());
            if end > start {
                st.remat.push((frame, start..end));
            }
        }
        out
    }

    /// The rematerialised regions of the current frame: disjoint ranges of equations, in order.
    pub fn remat_regions(&self) -> Vec<std::ops::Range<usize>> {
        let st = self.state.borrow();
        let id = st.frames.last().expect("a frame").id;
        st.remat.iter().filter(|(f, _)| *f == id).map(|(_, r)| r.clone()).collect()
    }

    /// Equations recorded so far in the current frame.
    pub fn num_eqns(&self) -> usize {
        self.state.borrow().frames.last().map_or(0, |f| f.func.eqns.len())
    }

    /// A copy of equation `i` of the current frame.
    pub fn eqn(&self, i: usize) -> Eqn {
        self.state.borrow().frames.last().expect("a frame").func.eqns[i].clone()
    }

    /// Runs `f` on the equations of the current frame.
    pub fn with_eqns<R>(&self, f: impl FnOnce(&[Eqn]) -> R) -> R {
        f(&self.state.borrow().frames.last().expect("a frame").func.eqns)
    }

    /// Finishes the trace: the function with `outputs`, or the first error. The tracer is
    /// empty afterwards.
    #[track_caller]
    pub fn finish(&self, outputs: &[Tensor<'_>]) -> Result<Func, TraceError> {
        let attrs = (0..outputs.len()).map(|i| OutputAttrs { name: format!("out{i}"), sharding: None }).collect();
        self.finish_with(outputs, attrs)
    }

    /// Finishes the trace with output attributes (names, shardings).
    #[track_caller]
    pub fn finish_with(&self, outputs: &[Tensor<'_>], attrs: Vec<OutputAttrs>) -> Result<Func, TraceError> {
        let location = Location::caller();
        let mut ids = Vec::with_capacity(outputs.len());
        for &t in outputs {
            if self.is_poisoned(t) && !self.has_error() {
                self.error("an output is the result of a failed operation");
            }
            match self.value_id(t) {
                Some(id) => ids.push(id),
                None => self.error("an output does not belong to this trace's top-level function"),
            }
        }
        let mut st = self.state.borrow_mut();
        if let Some(e) = st.error.take() {
            return Err(e);
        }
        let err = |message: String| TraceError { message, location, scope: String::new() };
        if st.frames.len() != 1 {
            return Err(err("finish was called inside a loop body".into()));
        }
        if attrs.len() != ids.len() {
            return Err(err(format!("{} outputs but {} output attributes", ids.len(), attrs.len())));
        }
        let name = st.frames[0].func.name.clone();
        let mut func = std::mem::replace(&mut st.frames[0], Frame::new(u32::MAX, &name)).func;
        // The tracer is spent: further use records an error instead of extending a finished function.
        st.error = Some(err("this tracer has already finished".into()));
        func.outputs = ids;
        func.output_attrs = attrs;
        verify(&func).map_err(|e| err(e.to_string()))?;
        Ok(func)
    }
}

/// Traces `f` into a function named `name`: `f` adds parameters and returns the outputs.
#[track_caller]
pub fn trace(name: &str, f: impl for<'t> FnOnce(&'t Tracer) -> Vec<Tensor<'t>>) -> Result<Func, TraceError> {
    let tracer = Tracer::new(name);
    let outputs = f(&tracer);
    tracer.finish(&outputs)
}

impl<'t> Tensor<'t> {
    /// The tracer this tensor belongs to.
    pub fn tracer(&self) -> &'t Tracer {
        self.tr
    }

    /// The type.
    pub fn ty(&self) -> TensorType {
        self.tr.ty(*self)
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.ty().dtype
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        self.ty().shape
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.ty().rank()
    }

    /// Same tracer, frame and value.
    pub fn same(&self, other: &Tensor<'_>) -> bool {
        std::ptr::eq(self.tr, other.tr) && self.frame == other.frame && self.id == other.id
    }
}
