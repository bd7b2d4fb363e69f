//! `ouro info`: what the PJRT plugin is and which devices it sees.

use anyhow::Result;
use clap::Args;

use crate::BackendArgs;

/// Arguments of `ouro info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// CPU devices to create (XLA CPU plugin only).
    #[arg(long, default_value_t = 1)]
    devices: usize,
}

pub fn run(backend: &BackendArgs, args: &InfoArgs) -> Result<()> {
    let client = backend.client(args.devices)?;
    let api = client.api();
    let (major, minor) = api.version();
    println!("plugin      {}", api.path().display());
    println!("PJRT API    {major}.{minor}");
    for (name, value) in api.attributes() {
        println!("  {name:<28} {value}");
    }
    println!("platform    {} ({})", client.platform_name(), client.platform_version());
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
