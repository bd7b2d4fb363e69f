//! Constrains how an intermediate is laid out over the mesh: `sdy.sharding_constraint` with
//! Shardy, `custom_call @Sharding` with GSPMD, nothing on one device.

use crate::lowering::{LowerCx, ShardingMode};
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Sharding, Tensor, TensorType, TypeError};

/// The identity, with a layout for XLA's SPMD partitioner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardingConstraint {
    /// The requested sharding.
    pub sharding: Sharding,
}

impl Rules for ShardingConstraint {
    fn name(&self) -> &'static str {
        "sharding_constraint"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        super::arity("sharding_constraint", inputs, 1)?;
        if self.sharding.dims.len() != inputs[0].rank() {
            return Err(TypeError::other("sharding_constraint", format!("expects a sharding of rank {}, got {:?}", inputs[0].rank(), self.sharding.dims)));
        }
        Ok(vec![inputs[0].clone()])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        let ty = cx.output_types[0].mlir();
        let text = match cx.sharding {
            ShardingMode::None => return Ok(vec![cx.inputs[0].clone()]),
            ShardingMode::Shardy(mesh) => {
                let s = self.sharding.shardy(mesh)?;
                let inner = s.trim_start_matches("#sdy.sharding");
                format!("{} = sdy.sharding_constraint {} {inner} : {ty}", cx.name, cx.inputs[0])
            }
            ShardingMode::Gspmd(mesh) => format!(
                "{} = stablehlo.custom_call @Sharding({}) {{mhlo.sharding = \"{}\"}} : ({ty}) -> {ty}",
                cx.name,
                cx.inputs[0],
                self.sharding.gspmd(mesh)?
            ),
        };
        cx.line(&text);
        Ok(vec![cx.name.to_string()])
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        Ok(vec![inputs[0].clone()])
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        // The identity; the cotangent gets the same layout.
        Ok(vec![Some(cx.ct().with_sharding(self.sharding.clone()))])
    }
}

pub(crate) fn cases() -> Vec<Case> {
    vec![Case::new(
        "sharding_constraint",
        ShardingConstraint { sharding: Sharding::split(2, 0, "data") },
        vec![(TensorType::new(DType::F64, &[4, 3]), Domain::Normal)],
        true,
    )]
}
