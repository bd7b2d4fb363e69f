//! A loop with a condition and a body function. <https://openxla.org/stablehlo/spec#while>
//!
//! Operands are `carry ++ cond_consts ++ body_consts`: the constants are values of the
//! enclosing function the closures captured. The condition takes `carry ++ cond_consts`, the
//! body `carry ++ body_consts` and returns the next carry; the results are the final carry.
//! StableHLO's `while` carries every operand, so the constants ride along unchanged.

use crate::func::Func;
use crate::interp;
use crate::lowering::LowerCx;
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, Tracer, TypeError};

/// `while cond(carry) { carry = body(carry) }`.
#[derive(Clone, Debug)]
pub struct While {
    /// Carried values (leading operands and all results).
    pub num_carry: usize,
    /// Constants of the condition (the operands after the carry).
    pub num_cond_consts: usize,
    /// `(carry ++ cond_consts) -> pred[]`.
    pub cond: Box<Func>,
    /// `(carry ++ body_consts) -> carry`.
    pub body: Box<Func>,
}

impl Rules for While {
    fn name(&self) -> &'static str {
        "while"
    }

    fn num_outputs(&self, _: usize) -> usize {
        self.num_carry
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        const P: &str = "while";
        let n = self.num_carry;
        if inputs.len() < n + self.num_cond_consts {
            return Err(TypeError::other(P, format!("expects at least {} operands, got {}", n + self.num_cond_consts, inputs.len())));
        }
        let carry = &inputs[..n];
        let cond_consts = &inputs[n..n + self.num_cond_consts];
        let body_consts = &inputs[n + self.num_cond_consts..];
        let with = |consts: &[&TensorType]| -> Vec<TensorType> { carry.iter().chain(consts).map(|&t| t.clone()).collect() };
        if self.cond.param_types() != with(cond_consts) {
            return Err(TypeError::new(P, "c1", format!("expects the condition to take the carry and its constants, got {:?}", self.cond.param_types())));
        }
        if self.cond.output_types() != [TensorType::scalar(DType::Pred)] {
            return Err(TypeError::new(P, "c1", format!("expects the condition to return one pred[], got {:?}", self.cond.output_types())));
        }
        if self.body.param_types() != with(body_consts) {
            return Err(TypeError::new(P, "c2", format!("expects the body to take the carry and its constants, got {:?}", self.body.param_types())));
        }
        let carry_types: Vec<TensorType> = carry.iter().map(|&t| t.clone()).collect();
        if self.body.output_types() != carry_types {
            return Err(TypeError::new(P, "c2", format!("expects the body to return the carry types {carry_types:?}, got {:?}", self.body.output_types())));
        }
        Ok(carry_types)
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        let n = self.num_carry;
        let total = cx.inputs.len();
        let iter: Vec<String> = (0..total).map(|_| cx.regions.fresh()).collect();
        let bindings: Vec<String> = iter.iter().zip(cx.inputs).map(|(a, v)| format!("{a} = {v}")).collect();
        let types: Vec<String> = cx.input_types.iter().map(TensorType::mlir).collect();
        let (def, uses) = cx.results(total);
        let pad = " ".repeat(cx.indent);
        let mut text = format!("{def} = stablehlo.while({}) : {}\n", bindings.join(", "), types.join(", "));

        let cond_params: Vec<String> = iter[..n + self.num_cond_consts].to_vec();
        text.push_str(&format!("{pad}cond {{\n"));
        let outs = cx.regions.body(&self.cond, &cond_params, &mut text, cx.indent + 2)?;
        text.push_str(&format!("{pad}  stablehlo.return {} : tensor<i1>\n{pad}}} do {{\n", outs[0]));

        let mut body_params: Vec<String> = iter[..n].to_vec();
        body_params.extend_from_slice(&iter[n + self.num_cond_consts..]);
        let outs = cx.regions.body(&self.body, &body_params, &mut text, cx.indent + 2)?;
        // The constants are carried through unchanged.
        let returned: Vec<String> = outs.iter().chain(&iter[n..]).cloned().collect();
        text.push_str(&format!("{pad}  stablehlo.return {} : {}\n{pad}}}", returned.join(", "), types.join(", ")));
        cx.line(&text);
        Ok(uses[..n].to_vec())
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let n = self.num_carry;
        let mut carry: Vec<HostArray> = inputs[..n].iter().map(|&a| a.clone()).collect();
        let cond_consts = &inputs[n..n + self.num_cond_consts];
        let body_consts = &inputs[n + self.num_cond_consts..];
        loop {
            let args: Vec<HostArray> = carry.iter().cloned().chain(cond_consts.iter().map(|&a| a.clone())).collect();
            let go = interp::eval(&self.cond, &args).map_err(|e| e.to_string())?;
            if go[0].to_i64_vec()[0] == 0 {
                return Ok(carry);
            }
            let args: Vec<HostArray> = carry.into_iter().chain(body_consts.iter().map(|&a| a.clone())).collect();
            carry = interp::eval(&self.body, &args).map_err(|e| e.to_string())?;
        }
    }

    fn vjp<'t>(&self, _: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        Err("differentiating through a while loop is not supported: put stop_gradient on its inputs \
             (as TRM's no-gradient cycles do), or unroll the loop"
            .into())
    }

    fn sub_funcs(&self) -> Vec<&Func> {
        vec![&self.cond, &self.body]
    }
}

pub(crate) fn cases() -> Vec<Case> {
    // Counts i up to n while accumulating i * x; n and x are captured constants.
    let tr = Tracer::new("while_case");
    let n = tr.param("n", TensorType::scalar(DType::I32));
    let x = tr.param("x", TensorType::new(DType::F32, &[3]));
    let i0 = tr.scalar(0.0, DType::I32);
    let acc0 = tr.zeros(&TensorType::new(DType::F32, &[3]));
    let out = tr.while_loop(&[i0, acc0], |c| c[0].lt(n), |c| vec![c[0] + 1.0, c[1] + x * c[0].cast(DType::F32)]);
    let func = tr.finish(&out).expect("the while case traces");
    let Some(eqn) = func.eqns.iter().find(|e| e.prim.name() == "while") else { return Vec::new() };
    let types: Vec<TensorType> = eqn.inputs.iter().map(|&v| func.ty(v).clone()).collect();
    let domains = [Domain::Values(vec![0.0]), Domain::Values(vec![0.0; 3]), Domain::Values(vec![4.0]), Domain::Normal];
    vec![Case::new("while_count", eqn.prim.clone(), types.into_iter().zip(domains).collect(), false)]
}
