//! Repository chores, run as `cargo xtask <command>`.
//!
//! * `plugin` — fetch (if needed) and print the pinned XLA CPU plugin, as CI does before testing;
//!   `plugin --accelerators` also libtpu, the CUDA plugin and CUDA's ptxas/libdevice (what
//!   `ouro compile --target` and the accelerator tests use).
//! * `loc` — line counts per crate, failing if the compiler core (ir + autodiff + lower) grows
//!   past its budget: a new prim must earn its lines.

use std::path::Path;
use std::process::ExitCode;

/// Lines of Rust allowed in the compiler core crates together.
const CORE_BUDGET: usize = 8_000;
const CORE_CRATES: [&str; 3] = ["ir", "autodiff", "lower"];

fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_default();
    let result = match command.as_str() {
        "plugin" => plugin(),
        "loc" => loc(),
        _ => Err("usage: cargo xtask plugin [--accelerators] | loc".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn plugin() -> Result<(), String> {
    use ouro_pjrt::plugin::{Provisioner, pinned};
    let path = ouro_pjrt::plugin::pinned_cpu_plugin().map_err(|e| e.to_string())?;
    println!("{}", path.display());
    if std::env::args().nth(2).as_deref() == Some("--accelerators") {
        let provisioner = Provisioner::from_env().map_err(|e| e.to_string())?;
        for bundle in [pinned::LIBTPU, pinned::CUDA, pinned::CUDA_TOOLS] {
            let dir = provisioner.fetch(&bundle).map_err(|e| e.to_string())?;
            println!("{}", dir.join(bundle.main_file()).display());
        }
    }
    Ok(())
}

/// Non-blank, non-comment lines of the `.rs` files under `dir`.
fn rust_lines(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                rust_lines(&path)
            } else if path.extension().is_some_and(|x| x == "rs") {
                std::fs::read_to_string(&path)
                    .map(|s| s.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("//")).count())
                    .unwrap_or(0)
            } else {
                0
            }
        })
        .sum()
}

fn loc() -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("no workspace root")?;
    let crates = root.join("crates");
    let mut names: Vec<String> = std::fs::read_dir(&crates)
        .map_err(|e| format!("{}: {e}", crates.display()))?
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut core = 0;
    for name in &names {
        let src = rust_lines(&crates.join(name).join("src"));
        let tests = rust_lines(&crates.join(name).join("tests"));
        println!("{name:<12} {src:>7} src {tests:>7} tests");
        if CORE_CRATES.contains(&name.as_str()) {
            core += src;
        }
    }
    println!("compiler core (ir + autodiff + lower): {core} of {CORE_BUDGET} lines");
    if core > CORE_BUDGET {
        return Err(format!("the compiler core has {core} lines, over its budget of {CORE_BUDGET}"));
    }
    Ok(())
}
