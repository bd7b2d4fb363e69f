//! `ouro info`: what the PJRT plugin is and which devices it sees. The plugin's own facts
//! (API version, attributes, extensions) are shown even where no client can be made (libtpu
//! off a TPU VM, the CUDA plugin without a GPU), followed by why not.

use anyhow::{Context, Result};
use clap::Args;
use ouro_pjrt::plugin::{self, Purpose};

use crate::BackendArgs;

/// Arguments of `ouro info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// CPU devices to create (XLA CPU plugin only).
    #[arg(long, default_value_t = 1)]
    devices: usize,
}

pub fn run(backend: &BackendArgs, args: &InfoArgs) -> Result<()> {
    let (location, platform) = backend.locate()?;
    let api = plugin::load(&location, Purpose::Compile)
        .with_context(|| format!("loading the PJRT plugin {} (from {})", location.path.display(), location.source))?;
    let (major, minor) = api.version();
    println!("plugin      {} (from {})", api.path().display(), location.source);
    println!("platform    {platform} (read from the plugin)");
    let declared = ouro_pjrt::sys::PJRT_API_MINOR;
    let skew = match minor.cmp(&declared) {
        std::cmp::Ordering::Greater => {
            format!(" (newer than the 0.{declared} ouro declares: its newer fields are not sent)")
        }
        std::cmp::Ordering::Less => format!(" (older than the 0.{declared} ouro declares)"),
        std::cmp::Ordering::Equal => String::new(),
    };
    println!("PJRT API    {major}.{minor}{skew}");
    for (name, value) in api.attributes() {
        println!("  {name:<28} {value}");
    }
    println!("extensions  {}", api.extensions().join(", "));
    let client = backend.client(args.devices).context("no client on this machine")?;
    println!("client      {} ({})", client.platform_name(), client.platform_version());
    println!("process     {}", client.process_index());
    let devices = client.addressable_devices();
    println!("devices     {} addressable of {}", devices.len(), client.devices().len());
    for device in &devices {
        let d = device.description()?;
        let memory = match device.memory_stats() {
            Ok(m) => match m.bytes_limit {
                Some(limit) => format!("{:.2} GiB in use of {:.2} GiB", gib(m.bytes_in_use), gib(limit)),
                None => format!("{:.2} GiB in use", gib(m.bytes_in_use)),
            },
            Err(_) => "memory stats not reported".into(),
        };
        println!("  #{:<3} {:<24} process {}  {memory}", d.id, d.kind, d.process_index);
    }
    Ok(())
}

fn gib(bytes: i64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}
