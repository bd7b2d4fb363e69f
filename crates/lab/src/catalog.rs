//! Experiments by name: the `*.yaml` files directly in a catalog directory
//! (`configs/experiments/` by default), named by their file stem.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A directory of experiment configs.
#[derive(Clone, Debug)]
pub struct Catalog {
    /// The directory.
    pub dir: PathBuf,
}

impl Catalog {
    /// The catalog at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Catalog {
        Catalog { dir: dir.into() }
    }

    /// Every experiment's name, sorted.
    pub fn names(&self) -> Result<Vec<String>> {
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| Error::io(format!("reading the experiment catalog {}", self.dir.display()), e))?;
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml"))
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        names.sort();
        Ok(names)
    }

    /// The config file of `name`: a catalog entry, or a path to a YAML file.
    pub fn find(&self, name: &str) -> Result<PathBuf> {
        let entry = self.dir.join(format!("{name}.yaml"));
        if entry.is_file() {
            return Ok(entry);
        }
        let path = Path::new(name);
        if path.is_file() {
            return Ok(path.to_path_buf());
        }
        let names = self.names().unwrap_or_default();
        let near: Vec<&String> =
            names.iter().filter(|n| n.contains(name) || name.contains(n.as_str())).take(8).collect();
        if near.is_empty() {
            return Err(Error::NotFound(format!(
                "no experiment {name:?} in {} (`ouro batch --list` lists them)",
                self.dir.display()
            )));
        }
        Err(Error::NotFound(format!("no experiment {name:?} in {}; did you mean one of {near:?}?", self.dir.display())))
    }

    /// The experiments whose name contains `pattern` (`*` matches any run of characters), in
    /// name order.
    pub fn matching(&self, pattern: &str) -> Result<Vec<String>> {
        let found: Vec<String> = self.names()?.into_iter().filter(|n| matches(pattern, n)).collect();
        if found.is_empty() {
            return Err(Error::NotFound(format!("no experiment in {} matches {pattern:?}", self.dir.display())));
        }
        Ok(found)
    }
}

/// Whether `name` contains `pattern`, where `*` in the pattern matches any run of characters.
fn matches(pattern: &str, name: &str) -> bool {
    let mut rest = name;
    for part in pattern.split('*') {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_inside_names_with_stars_for_any_text() {
        let table = [
            ("exp01", "exp01a", true),
            ("exp01", "exp10a", false),
            ("exp1", "exp10a", true),
            ("exp04a_1", "exp04a_1000", true),
            ("exp0*_a", "exp06_a", true),
            ("exp0*_a", "exp06_b", false),
            ("*", "anything", true),
            ("tiny", "tiny-b", true),
        ];
        for (pattern, name, want) in table {
            assert_eq!(matches(pattern, name), want, "{pattern} vs {name}");
        }
    }

    #[test]
    fn names_find_and_unknown_names_are_explained() {
        let dir = std::env::temp_dir().join(format!("ouro-catalog-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("groups")).unwrap();
        for n in ["exp01a", "exp01b", "exp02a"] {
            std::fs::write(dir.join(format!("{n}.yaml")), "x: 1\n").unwrap();
        }
        std::fs::write(dir.join("groups/exp01.yaml"), "x: 1\n").unwrap();
        let c = Catalog::new(&dir);
        assert_eq!(c.names().unwrap(), ["exp01a", "exp01b", "exp02a"], "group bases are not experiments");
        assert_eq!(c.matching("exp01").unwrap(), ["exp01a", "exp01b"]);
        assert!(c.find("exp02a").unwrap().ends_with("exp02a.yaml"));
        let e = c.find("exp01").unwrap_err().to_string();
        assert!(e.contains("did you mean") && e.contains("exp01a"), "{e}");
        assert!(c.matching("exp99").is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
