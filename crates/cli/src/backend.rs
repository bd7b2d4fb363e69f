//! Which PJRT plugin a command runs on, the client options its platform takes, and joining a
//! multi-process job.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use ouro_pjrt::plugin::{self, Purpose};
use ouro_pjrt::{Client, ClientOptions, NamedValue, OptionOverrideValue, Platform, PluginChoice, PluginLocation};

/// Which PJRT plugin to run on.
#[derive(Args, Debug, Clone, Default)]
pub struct BackendArgs {
    /// Path of a PJRT plugin (.so). Overrides OURO_PJRT_PLUGIN and --platform; its platform is
    /// read from the plugin itself.
    #[arg(long, global = true, value_name = "PATH")]
    plugin: Option<PathBuf>,
    /// cpu (the pinned XLA CPU plugin, fetched on first use), gpu or tpu. Default: OURO_PLATFORM, else cpu.
    #[arg(long, global = true, value_name = "PLATFORM")]
    platform: Option<Platform>,
    /// GPU: the fraction of each GPU's memory the allocator may take (default
    /// OURO_GPU_MEMORY_FRACTION, XLA_PYTHON_CLIENT_MEM_FRACTION, else the plugin's 0.75).
    #[arg(long, global = true, value_name = "FRACTION", help_heading = "GPU")]
    gpu_memory_fraction: Option<f32>,
    /// GPU: allocate that fraction up front, true or false (default OURO_GPU_PREALLOCATE,
    /// XLA_PYTHON_CLIENT_PREALLOCATE, else true).
    #[arg(long, global = true, value_name = "BOOL", help_heading = "GPU")]
    gpu_preallocate: Option<bool>,
    /// GPU: the allocator, default, platform, bfc or cuda_async (default OURO_GPU_ALLOCATOR,
    /// XLA_PYTHON_CLIENT_ALLOCATOR).
    #[arg(long, global = true, value_name = "NAME", help_heading = "GPU")]
    gpu_allocator: Option<String>,
    /// GPU: the local GPUs this process uses, e.g. 0,1, counted among those CUDA_VISIBLE_DEVICES
    /// leaves visible (default OURO_GPU_DEVICES, else all).
    #[arg(long, global = true, value_name = "LIST", value_delimiter = ',', help_heading = "GPU")]
    gpu_devices: Option<Vec<i64>>,
    /// Any option of the plugin's PJRT_Client_Create, NAME=VALUE (integers, floats, true/false,
    /// [1,2] lists, else a string); repeatable. OURO_PJRT_CLIENT_OPTIONS holds more, `;`-separated.
    #[arg(long = "client-option", global = true, value_name = "NAME=VALUE")]
    client_options: Vec<String>,
    /// An XLA option every compile sets, deviceless ones (`ouro compile --target`) too,
    /// NAME=VALUE (integers, floats, true/false, else a string: `xla_cpu_use_onednn=false`);
    /// repeatable, after ouro's own CPU options.
    #[arg(long = "compile-option", global = true, value_name = "NAME=VALUE")]
    compile_options: Vec<String>,
    /// Several hosts: this process's id, 0 to N-1 (default: OURO_PROCESS_ID, the TPU
    /// environment, SLURM with --slurm, a TPU VM's metadata).
    #[arg(long, global = true, value_name = "ID", help_heading = "Several hosts")]
    process_id: Option<usize>,
    /// Several hosts: how many processes the job has (default: OURO_NUM_PROCESSES, ...).
    #[arg(long, global = true, value_name = "N", help_heading = "Several hosts")]
    num_processes: Option<usize>,
    /// Several hosts: process 0's address, host[:port] (default port 8479, 8476 on Cloud TPU;
    /// OURO_COORDINATOR, ...).
    #[arg(long, global = true, value_name = "HOST[:PORT]", help_heading = "Several hosts")]
    coordinator: Option<String>,
    /// Several hosts: take this process's place from SLURM's variables (SLURM_PROCID,
    /// SLURM_NTASKS, SLURM_STEP_NODELIST, SLURM_LOCALID); also OURO_SLURM=1.
    #[arg(long, global = true, help_heading = "Several hosts")]
    slurm: bool,
    /// Several hosts: seconds to wait for every process to join.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 300, help_heading = "Several hosts")]
    join_timeout: u64,
}

/// An environment variable, if set to something.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The first of `names` that is set, parsed; a value that does not parse names its variable.
fn env_parsed<T: std::str::FromStr>(names: &[&str]) -> Result<Option<T>> {
    for name in names {
        if let Some(text) = env(name) {
            return text.trim().parse().map(Some).map_err(|_| anyhow!("{name}={text:?} cannot be read"));
        }
    }
    Ok(None)
}

/// A boolean as JAX's variables spell it (true/false, 1/0).
fn env_bool(names: &[&str]) -> Result<Option<bool>> {
    for name in names {
        if let Some(text) = env(name) {
            return match text.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => Ok(Some(true)),
                "0" | "false" | "no" => Ok(Some(false)),
                _ => bail!("{name}={text:?} must be true or false"),
            };
        }
    }
    Ok(None)
}

/// `NAME=VALUE` as a PJRT named value: an integer, a float, a bool, an `[a,b]` integer list,
/// else a string.
fn named_value(option: &str, from: &str) -> Result<(String, NamedValue)> {
    let (name, value) = split_option(option, from)?;
    let parsed = if let Ok(i) = value.parse::<i64>() {
        NamedValue::Int64(i)
    } else if let Ok(x) = value.parse::<f32>() {
        NamedValue::Float(x)
    } else if let Ok(b) = value.parse::<bool>() {
        NamedValue::Bool(b)
    } else if let Some(list) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        let items: Result<Vec<i64>, _> =
            list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::parse).collect();
        NamedValue::Int64List(items.map_err(|_| anyhow!("{from}: {option:?}: a list holds integers"))?)
    } else {
        NamedValue::String(value.to_string())
    };
    Ok((name.to_string(), parsed))
}

/// One `--compile-option NAME=VALUE`, typed as XLA's options take it (a string is parsed by
/// XLA as in `XLA_FLAGS`).
fn compile_value(option: &str) -> Result<(String, OptionOverrideValue)> {
    let (name, value) = split_option(option, "--compile-option")?;
    let parsed = if let Ok(i) = value.parse::<i64>() {
        OptionOverrideValue::Int(i)
    } else if let Ok(x) = value.parse::<f64>() {
        OptionOverrideValue::Double(x)
    } else if let Ok(b) = value.parse::<bool>() {
        OptionOverrideValue::Bool(b)
    } else {
        OptionOverrideValue::String(value.to_string())
    };
    Ok((name.to_string(), parsed))
}

/// `NAME=VALUE`, trimmed, with a non-empty name.
fn split_option<'a>(option: &'a str, from: &str) -> Result<(&'a str, &'a str)> {
    let (name, value) = option.split_once('=').ok_or_else(|| anyhow!("{from}: {option:?} must be NAME=VALUE"))?;
    let (name, value) = (name.trim(), value.trim());
    if name.is_empty() {
        bail!("{from}: {option:?} has no option name");
    }
    Ok((name, value))
}

impl BackendArgs {
    fn choice(&self) -> PluginChoice {
        match (&self.plugin, self.platform) {
            (Some(path), _) => PluginChoice::Path(path.clone()),
            (None, Some(platform)) => PluginChoice::Platform(platform),
            (None, None) => PluginChoice::Default,
        }
    }

    /// The plugin the flags and environment choose, and its platform (read from the plugin
    /// when it was named by path).
    pub fn locate(&self) -> Result<(PluginLocation, Platform)> {
        let location = plugin::locate(&self.choice())?;
        let platform = plugin::platform_of(&location).with_context(|| {
            format!("reading the PJRT plugin {} (from {})", location.path.display(), location.source)
        })?;
        Ok((location, platform))
    }

    /// The create options a client of `platform` gets: the CPU plugin's device count, the CUDA
    /// plugin's memory and device settings, and any `--client-option`.
    pub fn client_options(
        &self,
        platform: Platform,
        cpu_devices: usize,
        job: Option<&ouro_cluster::ProcessSpec>,
    ) -> Result<ClientOptions> {
        let mut options = ClientOptions::new();
        match platform {
            Platform::Cpu => {
                options = options.cpu_device_count(cpu_devices);
                for (name, value) in cpu_compile_options() {
                    options = options.compile_option(name, value);
                }
            }
            Platform::Gpu => {
                let fraction = match self.gpu_memory_fraction {
                    Some(f) => Some(f),
                    None => env_parsed::<f32>(&["OURO_GPU_MEMORY_FRACTION", "XLA_PYTHON_CLIENT_MEM_FRACTION"])?,
                };
                if let Some(f) = fraction {
                    if !(f > 0.0 && f <= 1.0) {
                        bail!("the GPU memory fraction must be in (0, 1], got {f}");
                    }
                    options = options.gpu_memory_fraction(f);
                }
                let preallocate = match self.gpu_preallocate {
                    Some(p) => Some(p),
                    None => env_bool(&["OURO_GPU_PREALLOCATE", "XLA_PYTHON_CLIENT_PREALLOCATE"])?,
                };
                if let Some(p) = preallocate {
                    options = options.gpu_preallocate(p);
                }
                let allocator = self
                    .gpu_allocator
                    .clone()
                    .or_else(|| env("OURO_GPU_ALLOCATOR").or_else(|| env("XLA_PYTHON_CLIENT_ALLOCATOR")));
                if let Some(a) = allocator {
                    if !["default", "platform", "bfc", "cuda_async"].contains(&a.as_str()) {
                        bail!("unknown GPU allocator {a:?}: expected default, platform, bfc or cuda_async");
                    }
                    options = options.gpu_allocator(&a);
                }
                if let Some(devices) = self.gpu_devices(job)? {
                    options = options.visible_devices(&devices);
                }
            }
            // libtpu takes its settings from its environment (TPU_*, LIBTPU_INIT_ARGS).
            Platform::Tpu => {}
        }
        let from_env = env("OURO_PJRT_CLIENT_OPTIONS").unwrap_or_default();
        let extra = from_env.split(';').filter(|o| !o.trim().is_empty()).map(|o| (o, "OURO_PJRT_CLIENT_OPTIONS"));
        for (option, from) in extra.chain(self.client_options.iter().map(|o| (o.as_str(), "--client-option"))) {
            let (name, value) = named_value(option, from)?;
            options = options.option(&name, value);
        }
        for option in &self.compile_options {
            let (name, value) = compile_value(option)?;
            options = options.compile_option(&name, value);
        }
        Ok(options)
    }

    /// The GPUs this process uses: `--gpu-devices`, `OURO_GPU_DEVICES`, else, for one of several
    /// SLURM tasks on a host that did not get its own `CUDA_VISIBLE_DEVICES`, its local task's
    /// GPU; `None` leaves every visible GPU to the plugin.
    fn gpu_devices(&self, job: Option<&ouro_cluster::ProcessSpec>) -> Result<Option<Vec<i64>>> {
        if let Some(d) = &self.gpu_devices {
            return Ok(Some(d.clone()));
        }
        if let Some(text) = env("OURO_GPU_DEVICES") {
            let list: Result<Vec<i64>, _> = text.split(',').map(|d| d.trim().parse()).collect();
            return list.map(Some).map_err(|_| anyhow!("OURO_GPU_DEVICES={text:?} must list GPU ordinals, e.g. 0,1"));
        }
        let shared_host =
            env("SLURM_NTASKS_PER_NODE").and_then(|n| n.trim().parse::<usize>().ok()).is_some_and(|n| n > 1);
        match job.and_then(|spec| spec.local_id) {
            Some(local) if shared_host && env("CUDA_VISIBLE_DEVICES").is_none() => Ok(Some(vec![local as i64])),
            _ => Ok(None),
        }
    }

    /// Passes these flags on to a child `ouro` (the runs of `ouro batch`).
    pub fn forward(&self, cmd: &mut std::process::Command) {
        if let Some(plugin) = &self.plugin {
            cmd.arg("--plugin").arg(plugin);
        }
        if let Some(platform) = self.platform {
            cmd.arg("--platform").arg(platform.to_string());
        }
        if let Some(f) = self.gpu_memory_fraction {
            cmd.arg("--gpu-memory-fraction").arg(f.to_string());
        }
        if let Some(p) = self.gpu_preallocate {
            cmd.arg("--gpu-preallocate").arg(p.to_string());
        }
        if let Some(a) = &self.gpu_allocator {
            cmd.arg("--gpu-allocator").arg(a);
        }
        if let Some(d) = &self.gpu_devices {
            cmd.arg("--gpu-devices").arg(d.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
        }
        for option in &self.client_options {
            cmd.arg("--client-option").arg(option);
        }
    }

    /// Opens a client; `cpu_devices` sets the XLA CPU plugin's device count.
    ///
    /// When this process is one of several (flags, environment), it first joins the job, and
    /// the client exchanges its topology with the others through the job's key-value store.
    pub fn client(&self, cpu_devices: usize) -> Result<Client> {
        Ok(self.client_in_job(cpu_devices)?.0)
    }

    /// This process's place in a job of several, from the flags and the environment (`None`
    /// alone); `tpu_vm` reads a TPU VM's environment too.
    pub fn process_spec(&self, tpu_vm: bool) -> Result<Option<ouro_cluster::ProcessSpec>> {
        let flags = ouro_cluster::Flags {
            process_id: self.process_id,
            num_processes: self.num_processes,
            coordinator: self.coordinator.clone(),
            slurm: self.slurm,
        };
        Ok(ouro_cluster::discover(&flags, &|name| std::env::var(name).ok(), tpu_vm)?)
    }

    /// [`BackendArgs::client`], and the job it joined when this process is one of several.
    pub fn client_in_job(&self, cpu_devices: usize) -> Result<(Client, Option<Arc<ouro_cluster::Cluster>>)> {
        let (plugin, platform) = self.locate()?;
        let job = self.process_spec(platform == Platform::Tpu)?;
        let options = self.client_options(platform, cpu_devices, job.as_ref())?;
        let join_timeout = Duration::from_secs(self.join_timeout);
        Ok(ouro_runtime::ClientStart { plugin, platform, options, job, join_timeout }.start()?)
    }

    /// The plugin that compiles for `platform` without its devices (`--plugin`, which must be
    /// of that platform, else [`plugin::locate_compiler`]), and the compile options it needs
    /// (the CUDA toolchain's directory for GPUs).
    pub fn compiler(&self, platform: Platform) -> Result<Compiler> {
        let location = match &self.plugin {
            Some(path) => PluginLocation { path: path.clone(), platform: None, source: "--plugin".into() },
            None => plugin::locate_compiler(platform)?,
        };
        let found = plugin::platform_of(&location)?;
        if found != platform {
            bail!(
                "{} is a {found} plugin, and this target needs a {platform} one (leave out --plugin to use the \
                 pinned {})",
                location.path.display(),
                if platform == Platform::Tpu { plugin::pinned::LIBTPU.dir } else { plugin::pinned::CUDA.dir }
            );
        }
        let api = plugin::load(&location, Purpose::Compile)
            .with_context(|| format!("loading {} (from {})", location.path.display(), location.source))?;
        let mut overrides = Vec::new();
        if platform == Platform::Gpu {
            let dir = plugin::cuda_data_dir()?;
            overrides
                .push(("xla_gpu_cuda_data_dir".to_string(), OptionOverrideValue::String(dir.display().to_string())));
        }
        for option in &self.compile_options {
            overrides.push(compile_value(option)?);
        }
        Ok(Compiler { api, overrides })
    }
}

/// The XLA options every CPU compile sets: oneDNN for the dots that YNNPACK leaves as single
/// dots. XLA:CPU hands YNNPACK each reduction with the elementwise ops and dots around it (the
/// `mlp_t` token mixer of a no-grad cycle becomes one library call) and, by default, every
/// other dot alone; oneDNN's bf16 kernels run those alone-standing dots 3-27 % faster on
/// AVX-512 (docs/performance.md, "XLA:CPU's matmul libraries"). Each dot alone: oneDNN's dot
/// fusions would take the adds after a dot too (a weight's gradient summed over its uses),
/// which changes their rounding order, and AdamATan2's first steps turn that into runs that
/// differ between one batch and its micro-batches. These win over `XLA_FLAGS`;
/// `--compile-option xla_cpu_use_onednn=false` turns oneDNN off.
fn cpu_compile_options() -> [(&'static str, OptionOverrideValue); 2] {
    [
        ("xla_cpu_use_onednn", OptionOverrideValue::Bool(true)),
        (
            "xla_cpu_experimental_onednn_fusion_type",
            OptionOverrideValue::String("LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT".into()),
        ),
    ]
}

/// A plugin loaded to compile for devices this machine does not have.
pub struct Compiler {
    /// The plugin.
    pub api: Arc<ouro_pjrt::Api>,
    /// XLA options its compiles need (the CUDA toolchain's directory) and `--compile-option`s.
    pub overrides: Vec<(String, OptionOverrideValue)>,
}

/// Off a TPU VM, libtpu waits minutes for a metadata server that is not there, then complains
/// of the worker environment it found none of: say this is one host with no metadata, unless
/// the user said otherwise. Called first thing in `main`, before any thread exists.
pub fn tpu_environment_off_tpu() {
    if plugin::has_tpu_chip() {
        return;
    }
    // With no chip to share, several processes may compile with libtpu at once (its lock file
    // otherwise refuses the second: parallel tests, dry runs next to a compile).
    let settings = [
        ("TPU_SKIP_MDS_QUERY", "1"),
        ("TPU_WORKER_ID", "0"),
        ("TPU_WORKER_HOSTNAMES", "localhost"),
        ("ALLOW_MULTIPLE_LIBTPU_LOAD", "1"),
    ];
    for (name, value) in settings {
        if std::env::var_os(name).is_none() {
            // SAFETY: called before any thread is started (see the doc).
            unsafe { std::env::set_var(name, value) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_options_are_parsed_by_type() {
        let cases = [
            ("n=3", NamedValue::Int64(3)),
            ("f=0.5", NamedValue::Float(0.5)),
            ("b=false", NamedValue::Bool(false)),
            ("l=[1, 2]", NamedValue::Int64List(vec![1, 2])),
            ("s=bfc", NamedValue::String("bfc".into())),
        ];
        for (text, want) in cases {
            assert_eq!(named_value(text, "t").unwrap().1, want, "{text}");
        }
        for bad in ["noequals", "=3", "l=[a]"] {
            let e = named_value(bad, "--client-option").unwrap_err().to_string();
            assert!(e.contains("--client-option") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn options_follow_the_platform() {
        let args = BackendArgs {
            gpu_memory_fraction: Some(0.5),
            gpu_preallocate: Some(false),
            gpu_allocator: Some("platform".into()),
            gpu_devices: Some(vec![1]),
            client_options: vec!["extra=7".into()],
            compile_options: vec!["xla_cpu_use_onednn=false".into(), "xla_dump_to=/tmp/x".into()],
            ..BackendArgs::default()
        };
        let names =
            |p| args.client_options(p, 4, None).unwrap().values().iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(Platform::Cpu), ["cpu_device_count", "extra"]);
        assert_eq!(names(Platform::Gpu), ["memory_fraction", "preallocate", "allocator", "visible_devices", "extra"]);
        assert_eq!(names(Platform::Tpu), ["extra"]);
        // The CPU's own compile options come first; a --compile-option of the same name replaces it.
        let compile = |p| args.client_options(p, 4, None).unwrap().compile_overrides().to_vec();
        let cpu = compile(Platform::Cpu);
        let names: Vec<&str> = cpu.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["xla_cpu_experimental_onednn_fusion_type", "xla_cpu_use_onednn", "xla_dump_to"]);
        assert_eq!(cpu[1].1, OptionOverrideValue::Bool(false));
        assert_eq!(cpu[2].1, OptionOverrideValue::String("/tmp/x".into()));
        assert_eq!(compile(Platform::Gpu).len(), 2, "no CPU options on a GPU");
        let bad = BackendArgs { compile_options: vec!["novalue".into()], ..BackendArgs::default() };
        assert!(bad.client_options(Platform::Cpu, 1, None).unwrap_err().to_string().contains("--compile-option"));
        let bad = BackendArgs { gpu_memory_fraction: Some(1.5), ..BackendArgs::default() };
        assert!(bad.client_options(Platform::Gpu, 1, None).unwrap_err().to_string().contains("1.5"));
        let bad = BackendArgs { gpu_allocator: Some("magic".into()), ..BackendArgs::default() };
        assert!(bad.client_options(Platform::Gpu, 1, None).unwrap_err().to_string().contains("magic"));
    }
}
