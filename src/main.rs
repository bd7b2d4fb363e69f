//! The `ouro` binary; everything lives in the `ouro-cli` crate but the process's policy: its
//! allocator.

/// jemalloc for Rust's allocations too, the heap the plugins' `malloc` already uses (see
/// `ouro_pjrt::host_allocator`).
#[cfg(target_os = "linux")]
#[global_allocator]
static GLOBAL: ouro_pjrt::host_allocator::HostAllocator = ouro_pjrt::host_allocator::HostAllocator;

fn main() -> std::process::ExitCode {
    ouro_cli::main()
}
