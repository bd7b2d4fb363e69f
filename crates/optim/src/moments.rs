//! A dense rule's state over a parameter set, as optax keeps an optimizer's state beside the
//! parameters: for each slot of the rule, one leaf per parameter.

use ouro_ir::tree::Named;

/// For each slot (`m`, `v`), a leaf per parameter, in the parameters' order.
#[derive(Clone, Debug, PartialEq)]
pub struct Moments<T> {
    slots: Vec<(&'static str, Named<T>)>,
}

impl<T> Moments<T> {
    /// The state of `slots` over `params`, each leaf made by `f(slot, parameter name, parameter)`.
    pub fn new<P>(slots: &[&'static str], params: &Named<P>, mut f: impl FnMut(&str, &str, &P) -> T) -> Moments<T> {
        Moments { slots: slots.iter().map(|&slot| (slot, params.map(|name, p| f(slot, name, p)))).collect() }
    }

    /// The state from each parameter's slot values (`per_param[i]` in slot order).
    pub fn from_params(slots: &[&'static str], per_param: Vec<(String, Vec<T>)>) -> Moments<T> {
        let mut out: Vec<(&'static str, Named<T>)> = slots.iter().map(|&s| (s, Named::new())).collect();
        for (name, values) in per_param {
            assert_eq!(values.len(), slots.len(), "{name}: one value per slot");
            for ((_, named), value) in out.iter_mut().zip(values) {
                named.push(name.clone(), value);
            }
        }
        Moments { slots: out }
    }

    /// The slot values of the parameter `name`, in slot order.
    pub fn of(&self, name: &str) -> Option<Vec<&T>> {
        self.slots.iter().map(|(_, named)| named.get(name)).collect()
    }

    /// Calls `f(slot, parameter, leaf)` for every leaf: slot by slot, parameters in order.
    pub fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a str, &'a str, &'a T)) {
        for (slot, named) in &self.slots {
            for (name, leaf) in named.iter() {
                f(slot, name, leaf);
            }
        }
    }

    /// The leaves in [`Moments::visit`] order, to replace in place.
    pub fn leaves_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.slots.iter_mut().flat_map(|(_, named)| named.values_mut())
    }

    /// The leaves by value, in [`Moments::visit`] order.
    pub fn into_leaves(self) -> Vec<T> {
        self.slots.into_iter().flat_map(|(_, named)| named.into_entries().into_iter().map(|(_, t)| t)).collect()
    }

    /// The same slots and parameters with leaves mapped by `f(slot, parameter, leaf)`.
    pub fn map<U>(&self, mut f: impl FnMut(&str, &str, &T) -> U) -> Moments<U> {
        Moments {
            slots: self.slots.iter().map(|(slot, named)| (*slot, named.map(|name, t| f(slot, name, t)))).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_go_slot_by_slot_and_rebuild_per_parameter() {
        let mut params = Named::new();
        params.push("a", 1.0);
        params.push("b", 2.0);
        let state = Moments::new(&["m", "v"], &params, |slot, _, p| if slot == "m" { *p } else { -p });
        let mut seen = Vec::new();
        state.visit(&mut |slot, name, v| seen.push(format!("{slot}/{name}={v}")));
        assert_eq!(seen, ["m/a=1", "m/b=2", "v/a=-1", "v/b=-2"]);
        assert_eq!(state.of("b"), Some(vec![&2.0, &-2.0]));
        assert_eq!(state.of("c"), None);
        let rebuilt =
            Moments::from_params(&["m", "v"], vec![("a".into(), vec![1.0, -1.0]), ("b".into(), vec![2.0, -2.0])]);
        assert_eq!(rebuilt, state);
    }
}
