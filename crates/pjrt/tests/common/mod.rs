//! Shared helpers of the plugin-backed tests: a client on the pinned CPU plugin.
#![allow(dead_code)]

use ouro_pjrt::{Client, ClientOptions, CompileOptions, LoadedExecutable, PluginChoice, Program, open_client};

/// A client on the pinned CPU plugin with `devices` CPU devices (fetched on first use).
pub fn cpu_client(devices: usize) -> Client {
    open_client(&PluginChoice::Default, ClientOptions::new().cpu_device_count(devices))
        .unwrap_or_else(|e| panic!("cannot open the CPU plugin: {e}"))
}

/// Compiles StableHLO text for one device.
pub fn compile(client: &Client, text: &str) -> LoadedExecutable {
    client
        .compile(&Program::text(text), &CompileOptions::single_device())
        .unwrap_or_else(|e| panic!("compile failed: {e}\n{text}"))
}
