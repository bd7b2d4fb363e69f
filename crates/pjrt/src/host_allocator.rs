//! The process's host allocator: jemalloc, with large freed blocks kept mapped for reuse.
//!
//! XLA:CPU mallocs each execution's temporaries (hundreds of MB for a TRM train step) and frees
//! them when the execution ends. glibc serves any block over 32 MiB with a fresh `mmap` and
//! hands it back with `munmap`, so every step faults its whole working set in again, zeroing
//! each page: on the small benchmark config 123k page faults per step, about a quarter of the
//! step's time. jemalloc keeps freed pages mapped and, with `oversize_threshold:0`, serves large
//! blocks from the same arenas instead of a dedicated arena that purges them at once. Its
//! default decay still returns pages that sit unused for 10 s, which a step that long (the
//! baseline on 2 CPU cores) meets every time: its temporaries were faulted in again each step,
//! 12.6 % of the step in the kernel's page zeroing. `dirty_decay_ms:-1` never purges: a training
//! process repeats one step, so its high-water mark is its working set.
//!
//! The plugin's `malloc` is resolved by the dynamic linker against the executable, so jemalloc
//! is built unprefixed (`unprefixed_malloc_on_supported_platforms`): it is `malloc` for the
//! whole process, C code included, not only Rust's global allocator. The `MALLOC_CONF`
//! environment variable still overrides these options. Linux only; the `jemalloc` feature
//! (default) turns it off for programs that bring their own allocator.
//!
//! Which allocator Rust's own allocations use is the program's choice: a binary that loads a
//! plugin installs [`HostAllocator`] as its global allocator (`ouro`'s `main.rs` and the
//! benchmarks do), so Rust and C share one heap.

/// jemalloc as a Rust global allocator:
/// `#[global_allocator] static GLOBAL: HostAllocator = HostAllocator;`.
pub use tikv_jemallocator::Jemalloc as HostAllocator;

// This crate's own tests measure the allocator as the binary installs it.
#[cfg(test)]
#[global_allocator]
static GLOBAL: HostAllocator = HostAllocator;

/// jemalloc's compile-in configuration: it reads the C string that the symbol `malloc_conf`
/// points to at its first allocation (its own definition is weak; this one wins).
#[used]
#[unsafe(export_name = "malloc_conf")]
static MALLOC_CONF: &u8 = &CONF[0];
const CONF: &[u8] = b"oversize_threshold:0,dirty_decay_ms:-1\0";

/// The allocator in use and its options that matter here, for logs: `jemalloc
/// (oversize_threshold 0, dirty_decay_ms -1)`.
pub fn describe() -> String {
    // Reading the configuration through the symbol keeps it linked into every binary that
    // loads a plugin.
    let conf = std::hint::black_box(MALLOC_CONF) as *const u8;
    debug_assert_eq!(conf, CONF.as_ptr());
    match (oversize_threshold(), dirty_decay_ms()) {
        (Some(bytes), Some(ms)) => format!("jemalloc (oversize_threshold {bytes}, dirty_decay_ms {ms})"),
        _ => "jemalloc".into(),
    }
}

/// jemalloc's `opt.oversize_threshold` as the allocator read it, None if it cannot say.
pub fn oversize_threshold() -> Option<usize> {
    option::<usize>(c"opt.oversize_threshold")
}

/// jemalloc's `opt.dirty_decay_ms` (−1: freed pages are never purged), None if it cannot say.
pub fn dirty_decay_ms() -> Option<isize> {
    option::<isize>(c"opt.dirty_decay_ms")
}

/// A jemalloc option of C type `T` (`size_t`, `ssize_t`), read with `mallctl`.
fn option<T: Copy + Default>(name: &std::ffi::CStr) -> Option<T> {
    let mut value = T::default();
    let mut len = size_of::<T>();
    // SAFETY: the options read here have exactly `T`'s size; `value` and `len` describe that
    // buffer, and no new value is written.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(name.as_ptr(), (&raw mut value).cast(), &mut len, std::ptr::null_mut(), 0)
    };
    (rc == 0 && len == size_of::<T>()).then_some(value)
}

#[cfg(test)]
mod tests {
    #[test]
    fn large_blocks_are_served_by_the_ordinary_arenas() {
        // Zero unless MALLOC_CONF overrides it: this fails if the configuration is not linked.
        if std::env::var_os("MALLOC_CONF").is_none() {
            assert_eq!(super::oversize_threshold(), Some(0));
            assert_eq!(super::dirty_decay_ms(), Some(-1), "freed pages are kept however long a step takes");
        }
    }

    #[test]
    fn a_freed_large_block_is_reused_without_new_page_faults() {
        // What XLA:CPU does each step: malloc a large block (uninitialised, not calloc), write
        // every page, free it.
        fn touch_a_fresh_block() {
            let mut block = Vec::<u8>::with_capacity(256 << 20);
            for page in block.spare_capacity_mut().chunks_mut(4096) {
                page[0].write(1);
            }
            std::hint::black_box(&block);
        }
        fn minor_faults() -> u64 {
            // SAFETY: getrusage fills the struct it is given; all-zero is a valid rusage.
            let usage = unsafe {
                let mut usage = std::mem::zeroed::<libc::rusage>();
                libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
                usage
            };
            usage.ru_minflt as u64
        }
        touch_a_fresh_block();
        let before = minor_faults();
        touch_a_fresh_block();
        let faults = minor_faults() - before;
        // 65,536 pages; glibc faults in every one of them again.
        assert!(faults < 1000, "{faults} page faults touching a reused 256 MiB block");
    }
}
