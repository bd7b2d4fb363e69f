//! Pytrees: containers of leaves (tensors while tracing, device buffers or host arrays at run
//! time) with a fixed order and a name for every leaf.
//!
//! The names are the paths users see (`L_level.layers.0.mlp.down_proj.weight`) and checkpoints
//! store, so a parameter set is usually a [`Named`] list. Plain structs whose fields are all
//! leaves get [`Tree`] from [`tree_struct!`](crate::tree_struct).

use std::collections::BTreeMap;

/// A container of leaves of type `T` with a fixed order and leaf names.
pub trait Tree<T>: Sized {
    /// Calls `f` with every leaf and its name, in order.
    fn visit<'a>(&'a self, f: &mut dyn FnMut(&str, &'a T));

    /// The same structure with its leaves taken in order from `leaves`; `None` if they run out.
    fn rebuild(&self, leaves: &mut dyn Iterator<Item = T>) -> Option<Self>;

    /// The leaves, in order.
    fn leaves(&self) -> Vec<&T> {
        let mut out = Vec::new();
        self.visit(&mut |_, leaf| out.push(leaf));
        out
    }

    /// The leaf names, in order.
    fn names(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.visit(&mut |name, _| out.push(name.to_string()));
        out
    }
}

/// An ordered list of named leaves: the parameter dict of a model.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Named<T> {
    entries: Vec<(String, T)>,
}

impl<T> Named<T> {
    /// An empty list.
    pub fn new() -> Named<T> {
        Named { entries: Vec::new() }
    }

    /// Appends a leaf (names should be unique; [`Named::get`] finds the first).
    pub fn push(&mut self, name: impl Into<String>, leaf: T) {
        self.entries.push((name.into(), leaf));
    }

    /// The leaf called `name`.
    pub fn get(&self, name: &str) -> Option<&T> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.entries.iter().map(|(n, t)| (n.as_str(), t))
    }

    /// The leaves in order, to replace in place.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.entries.iter_mut().map(|(_, t)| t)
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no leaves.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The same names with leaves mapped by `f`.
    pub fn map<U>(&self, mut f: impl FnMut(&str, &T) -> U) -> Named<U> {
        Named { entries: self.entries.iter().map(|(n, t)| (n.clone(), f(n, t))).collect() }
    }

    /// The same names with leaves mapped by a fallible `f`.
    pub fn try_map<U, E>(&self, mut f: impl FnMut(&str, &T) -> Result<U, E>) -> Result<Named<U>, E> {
        Ok(Named { entries: self.entries.iter().map(|(n, t)| Ok((n.clone(), f(n, t)?))).collect::<Result<_, E>>()? })
    }

    /// Consumes the list into its entries.
    pub fn into_entries(self) -> Vec<(String, T)> {
        self.entries
    }
}

impl<T> FromIterator<(String, T)> for Named<T> {
    fn from_iter<I: IntoIterator<Item = (String, T)>>(iter: I) -> Named<T> {
        Named { entries: iter.into_iter().collect() }
    }
}

impl<T> Tree<T> for Named<T> {
    fn visit<'a>(&'a self, f: &mut dyn FnMut(&str, &'a T)) {
        for (n, t) in &self.entries {
            f(n, t);
        }
    }

    fn rebuild(&self, leaves: &mut dyn Iterator<Item = T>) -> Option<Named<T>> {
        self.entries
            .iter()
            .map(|(n, _)| Some((n.clone(), leaves.next()?)))
            .collect::<Option<Vec<_>>>()
            .map(|entries| Named { entries })
    }
}

impl<T> Tree<T> for Vec<T> {
    fn visit<'a>(&'a self, f: &mut dyn FnMut(&str, &'a T)) {
        for (i, t) in self.iter().enumerate() {
            f(&i.to_string(), t);
        }
    }

    fn rebuild(&self, leaves: &mut dyn Iterator<Item = T>) -> Option<Vec<T>> {
        (0..self.len()).map(|_| leaves.next()).collect()
    }
}

impl<T> Tree<T> for BTreeMap<String, T> {
    fn visit<'a>(&'a self, f: &mut dyn FnMut(&str, &'a T)) {
        for (n, t) in self {
            f(n, t);
        }
    }

    fn rebuild(&self, leaves: &mut dyn Iterator<Item = T>) -> Option<BTreeMap<String, T>> {
        self.keys().map(|k| Some((k.clone(), leaves.next()?))).collect()
    }
}

/// Declares a struct of leaves generic over the leaf type, with [`Tree`] and `map`:
///
/// ```
/// ouro_ir::tree_struct! {
///     /// An MLP's parameters.
///     pub struct Mlp<T> { w1, b1, w2, b2 }
/// }
/// let host = Mlp { w1: 1.0, b1: 2.0, w2: 3.0, b2: 4.0 };
/// use ouro_ir::tree::Tree;
/// assert_eq!(host.names(), ["w1", "b1", "w2", "b2"]);
/// assert_eq!(host.map(|_, v| v * 2.0).b2, 8.0);
/// ```
#[macro_export]
macro_rules! tree_struct {
    ($(#[$meta:meta])* $vis:vis struct $name:ident<$t:ident> { $($(#[$fmeta:meta])* $field:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        $vis struct $name<$t> { $($(#[$fmeta])* pub $field: $t),* }

        impl<$t> $crate::tree::Tree<$t> for $name<$t> {
            fn visit<'a>(&'a self, f: &mut dyn FnMut(&str, &'a $t)) {
                $(f(stringify!($field), &self.$field);)*
            }

            fn rebuild(&self, leaves: &mut dyn Iterator<Item = $t>) -> Option<Self> {
                Some($name { $($field: leaves.next()?),* })
            }
        }

        impl<$t> $name<$t> {
            /// The fields' names, in order.
            #[allow(dead_code)]
            pub fn fields() -> &'static [&'static str] {
                &[$(stringify!($field)),*]
            }

            /// The same fields with leaves mapped by `f` (given each field's name).
            #[allow(dead_code)]
            pub fn map<U>(&self, mut f: impl FnMut(&str, &$t) -> U) -> $name<U> {
                $name { $($field: f(stringify!($field), &self.$field)),* }
            }
        }
    };
}
