//! How values are laid out over a device mesh.

/// A logical device mesh: named axes and their sizes (`data=8`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mesh {
    /// Axis names and sizes, outermost first.
    pub axes: Vec<(String, usize)>,
}

impl Mesh {
    /// A one-axis mesh.
    pub fn new(axis: &str, size: usize) -> Mesh {
        Mesh { axes: vec![(axis.to_string(), size)] }
    }

    /// Devices in the mesh.
    pub fn num_devices(&self) -> usize {
        self.axes.iter().map(|(_, s)| s).product()
    }

    /// The size of a named axis.
    pub fn axis_size(&self, name: &str) -> Option<usize> {
        self.axes.iter().find(|(n, _)| n == name).map(|(_, s)| *s)
    }
}

/// The sharding of one value: for each dimension, the mesh axes it is split over (empty for
/// replicated along that dimension). No entry at all means fully replicated.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Sharding {
    /// Per dimension, mesh axis names (outermost first).
    pub dims: Vec<Vec<String>>,
}

impl Sharding {
    /// Replicated on every device (`rank` dimensions, none split).
    pub fn replicated(rank: usize) -> Sharding {
        Sharding { dims: vec![Vec::new(); rank] }
    }

    /// Dimension `dim` of a rank-`rank` value split over `axis`, the rest replicated.
    pub fn split(rank: usize, dim: usize, axis: &str) -> Sharding {
        let mut s = Sharding::replicated(rank);
        if let Some(d) = s.dims.get_mut(dim) {
            d.push(axis.to_string());
        }
        s
    }

    /// Whether no dimension is split.
    pub fn is_replicated(&self) -> bool {
        self.dims.iter().all(Vec::is_empty)
    }
}

impl Sharding {
    fn check(&self, mesh: &Mesh) -> Result<(), String> {
        let mut seen = Vec::new();
        for axis in self.dims.iter().flatten() {
            if mesh.axis_size(axis).is_none() {
                return Err(format!("sharding uses mesh axis '{axis}', which the mesh {:?} does not have", mesh.axes));
            }
            if seen.contains(&axis) {
                return Err(format!("sharding uses mesh axis '{axis}' twice"));
            }
            seen.push(axis);
        }
        Ok(())
    }

    /// The Shardy attribute, `#sdy.sharding<@mesh, [{"data"}, {}]>`.
    pub fn shardy(&self, mesh: &Mesh) -> Result<String, String> {
        self.check(mesh)?;
        let dims: Vec<String> = self
            .dims
            .iter()
            .map(|axes| format!("{{{}}}", axes.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ")))
            .collect();
        Ok(format!("#sdy.sharding<@mesh, [{}]>", dims.join(", ")))
    }

    /// The GSPMD (HloSharding) text, `{devices=[4,1]<=[4]}` or `{replicated}`.
    pub fn gspmd(&self, mesh: &Mesh) -> Result<String, String> {
        self.check(mesh)?;
        if self.is_replicated() {
            return Ok("{replicated}".into());
        }
        let index = |name: &String| mesh.axes.iter().position(|(n, _)| n == name).expect("checked above");
        let size = |name: &String| mesh.axes[index(name)].1;
        let mut tiles: Vec<usize> = self.dims.iter().map(|axes| axes.iter().map(size).product()).collect();
        // Devices are the mesh's iota; order its axes as the dimensions use them, unused last.
        let mut order: Vec<usize> = self.dims.iter().flatten().map(index).collect();
        let unused: Vec<usize> = (0..mesh.axes.len()).filter(|i| !order.contains(i)).collect();
        let replicate: usize = unused.iter().map(|&i| mesh.axes[i].1).product();
        order.extend(&unused);
        if replicate > 1 {
            tiles.push(replicate);
        }
        let list = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        let identity = order.iter().enumerate().all(|(i, &o)| i == o);
        let devices = if identity {
            format!("<=[{}]", mesh.num_devices())
        } else {
            let shape: Vec<usize> = mesh.axes.iter().map(|(_, s)| *s).collect();
            format!("<=[{}]T({})", list(&shape), list(&order))
        };
        let suffix = if replicate > 1 { " last_tile_dim_replicate" } else { "" };
        Ok(format!("{{devices=[{}]{devices}{suffix}}}", list(&tiles)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_sharding_in_both_dialects() {
        let mesh = Mesh::new("data", 4);
        let s = Sharding::split(2, 0, "data");
        assert_eq!(s.shardy(&mesh).unwrap(), r#"#sdy.sharding<@mesh, [{"data"}, {}]>"#);
        assert_eq!(s.gspmd(&mesh).unwrap(), "{devices=[4,1]<=[4]}");
        assert_eq!(Sharding::replicated(1).gspmd(&mesh).unwrap(), "{replicated}");
        assert_eq!(Sharding::replicated(0).shardy(&mesh).unwrap(), "#sdy.sharding<@mesh, []>");
    }

    #[test]
    fn two_axis_meshes_transpose_and_replicate() {
        let mesh = Mesh { axes: vec![("data".into(), 2), ("model".into(), 4)] };
        let on_model = Sharding::split(2, 1, "model");
        assert_eq!(on_model.gspmd(&mesh).unwrap(), "{devices=[1,4,2]<=[2,4]T(1,0) last_tile_dim_replicate}");
        let both = Sharding { dims: vec![vec!["data".into()], vec!["model".into()]] };
        assert_eq!(both.gspmd(&mesh).unwrap(), "{devices=[2,4]<=[8]}");
        assert!(Sharding::split(1, 0, "pipe").shardy(&mesh).unwrap_err().contains("pipe"));
    }
}
