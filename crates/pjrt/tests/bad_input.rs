//! Bad input gets a clear error naming what and where: never a panic, a crash or a hang.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{compile, cpu_client};
use ouro_pjrt::plugin::{Provisioner, pinned};
use ouro_pjrt::{Api, ClientOptions, CompileOptions, ElementType, Error, OptionOverrideValue, Program};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ouro-bad-input-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Builds a shared library from C source with the system compiler (the Rust toolchain's linker).
fn shared_library(dir: &Path, name: &str, source: &str) -> PathBuf {
    let c = dir.join(format!("{name}.c"));
    let so = dir.join(format!("{name}.so"));
    std::fs::write(&c, source).unwrap();
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&c)
        .status()
        .expect("cc (needed to build test fixtures)");
    assert!(status.success());
    so
}

#[test]
fn a_missing_plugin_names_the_path_and_the_variable() {
    let err = Api::load("/nonexistent/dir/pjrt_plugin.so").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::PluginNotFound { .. }));
    assert!(msg.contains("/nonexistent/dir/pjrt_plugin.so") && msg.contains("OURO_PJRT_PLUGIN"), "{msg}");
}

#[test]
fn a_file_that_is_not_a_library_is_refused() {
    let dir = scratch("text");
    let path = dir.join("plugin.so");
    std::fs::write(&path, "this is not an ELF file").unwrap();
    let err = Api::load(&path).unwrap_err();
    assert!(matches!(err, Error::PluginLoad { .. }), "{err}");
    assert!(err.to_string().contains("plugin.so"), "{err}");
}

#[test]
fn a_library_without_get_pjrt_api_is_not_a_plugin() {
    let dir = scratch("nosymbol");
    let so = shared_library(&dir, "libnothing", "int answer(void) { return 42; }\n");
    let err = Api::load(&so).unwrap_err();
    assert!(matches!(err, Error::NotAPlugin { .. }), "{err}");
    assert!(err.to_string().contains("GetPjrtApi"), "{err}");
}

#[test]
fn a_plugin_of_another_major_version_is_refused() {
    let dir = scratch("major");
    let source = r#"
#include <stddef.h>
struct version { size_t struct_size; void* extension_start; int major_version; int minor_version; };
struct api { size_t struct_size; void* extension_start; struct version version; void* functions[4]; };
static struct api the_api = { sizeof(struct api), 0, { sizeof(struct version), 0, 1, 3 }, { 0, 0, 0, 0 } };
const struct api* GetPjrtApi(void) { return &the_api; }
"#;
    let so = shared_library(&dir, "libfuture", source);
    let err = Api::load(&so).unwrap_err();
    assert!(matches!(err, Error::ApiMajorMismatch { major: 1, minor: 3, .. }), "{err}");
    assert!(err.to_string().contains("1.3"), "{err}");
}

#[test]
fn invalid_stablehlo_reports_the_plugin_diagnostic_with_its_line() {
    let client = cpu_client(1);
    let text = "func.func public @main(%x: tensor<4xf32>) -> tensor<4xf32> {\n  %y = stablehlo.frobnicate %x : tensor<4xf32>\n  return %y : tensor<4xf32>\n}";
    let err = client.compile(&Program::text(text), &CompileOptions::single_device()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Pjrt { function: "PJRT_Client_Compile", .. }), "{msg}");
    assert!(msg.contains("frobnicate") && msg.contains(":2:"), "the diagnostic names the op and line 2: {msg}");

    let mistyped = "func.func public @main(%x: tensor<4xf32>) -> tensor<4xf32> {\n  %y = stablehlo.add %x, %x : tensor<4xf64>\n  return %y : tensor<4xf32>\n}";
    let msg = client.compile(&Program::text(mistyped), &CompileOptions::single_device()).unwrap_err().to_string();
    assert!(msg.contains(":2:"), "{msg}");
}

#[test]
fn host_data_of_the_wrong_length_is_refused() {
    let client = cpu_client(1);
    let dev = client.device(0).unwrap();
    let err = client.buffer_from_host(&[1.0f32; 5], &[2, 3], &dev).unwrap_err();
    assert!(matches!(err, Error::HostDataSize { expected: 24, actual: 20, .. }), "{err}");
    assert!(err.to_string().contains("[2, 3]"), "{err}");
    let err = client.buffer_from_bytes(&[0u8; 4], ElementType::F32, &[-1], &dev).unwrap_err();
    assert!(matches!(err, Error::InvalidShape { .. }), "{err}");
    // Reading back into a slice of the wrong size, or as the wrong type.
    let b = client.buffer_from_host(&[1i32, 2, 3], &[3], &dev).unwrap();
    assert!(matches!(b.to_host_into(&mut [0i32; 2]), Err(Error::HostDataSize { .. })));
    assert!(matches!(b.to_host::<f32>(), Err(Error::ElementTypeMismatch { .. })));
}

#[test]
fn wrong_arguments_are_refused_before_and_by_the_plugin() {
    let client = cpu_client(1);
    let text = "func.func public @main(%x: tensor<3xf32>, %y: tensor<3xf32>) -> tensor<3xf32> {\n  %z = stablehlo.add %x, %y : tensor<3xf32>\n  return %z : tensor<3xf32>\n}";
    let exe = compile(&client, text);
    let dev = client.device(0).unwrap();
    let f = client.buffer_from_host(&[1.0f32, 2.0, 3.0], &[3], &dev).unwrap();
    let i = client.buffer_from_host(&[1i32, 2, 3], &[3], &dev).unwrap();
    let long = client.buffer_from_host(&[1.0f32; 4], &[4], &dev).unwrap();

    let err = exe.execute(&[&f], &[]).unwrap_err();
    assert!(matches!(err, Error::ArgumentCount { expected: 2, actual: 1, .. }), "{err}");
    let err = exe.execute(&[&f, &i], &[]).unwrap_err();
    assert!(matches!(err, Error::ArgumentType { index: 1, .. }), "{err}");
    assert!(err.to_string().contains("f32[3]") && err.to_string().contains("i32[3]"), "{err}");
    let err = exe.execute(&[&long, &f], &[]).unwrap_err();
    assert!(matches!(err, Error::ArgumentType { index: 0, .. }), "{err}");

    // A deserialized executable keeps its signature, so the same checks apply (the plugin
    // itself would run an i32 buffer as f32 without complaint).
    let loaded = client.deserialize_executable(&exe.serialize().unwrap()).unwrap();
    assert_eq!(loaded.signature(), exe.signature());
    let err = loaded.execute(&[&f, &i], &[]).unwrap_err();
    assert!(matches!(err, Error::ArgumentType { index: 1, .. }), "{err}");

    // From the plugin's raw bytes there is no signature; a wrong count is still the plugin's error.
    let raw = client.deserialize_executable(&exe.serialize_raw().unwrap()).unwrap();
    assert!(raw.signature().is_none());
    let err = raw.execute(&[&f], &[]).unwrap_err();
    assert!(err.code().is_some() && err.to_string().contains("PJRT_LoadedExecutable_Execute"), "{err}");
}

#[test]
fn provisioning_without_python_says_what_to_install() {
    let dir = scratch("nopython");
    let provisioner =
        Provisioner { cache_dir: dir.clone(), python: "/nonexistent/python3".into(), pip_env: Vec::new() };
    let msg = provisioner.fetch(&pinned::CPU).unwrap_err().to_string();
    assert!(msg.contains("/nonexistent/python3") && msg.contains("pip") && msg.contains("OURO_PJRT_PLUGIN"), "{msg}");
    assert!(!provisioner.dir(&pinned::CPU).join(pinned::CPU.main_file()).exists(), "nothing half-written");
}

#[test]
fn provisioning_offline_fails_with_pips_reason() {
    let dir = scratch("offline");
    // An index on a loopback port nobody listens on: pip fails at once, as offline.
    let pip_env = vec![
        ("PIP_INDEX_URL".to_string(), "http://127.0.0.1:9/simple".to_string()),
        ("PIP_FIND_LINKS".to_string(), String::new()),
        ("PIP_NO_INDEX".to_string(), String::new()),
        ("PIP_RETRIES".to_string(), "0".to_string()),
        ("PIP_CONFIG_FILE".to_string(), "/dev/null".to_string()),
    ];
    let provisioner = Provisioner { cache_dir: dir.clone(), python: "python3".into(), pip_env };
    let msg = provisioner.fetch(&pinned::LIBTPU).unwrap_err().to_string();
    assert!(msg.contains("pip download libtpu==0.0.52") && msg.contains("network"), "{msg}");
    assert!(!provisioner.dir(&pinned::LIBTPU).join(pinned::LIBTPU.main_file()).exists(), "nothing half-written");
}

#[test]
fn using_a_device_of_another_client_is_refused() {
    let a = cpu_client(1);
    let b = cpu_client(1);
    let err = a.buffer_from_host(&[1.0f32], &[1], &b.device(0).unwrap()).unwrap_err();
    assert!(matches!(err, Error::ForeignObject(_)), "{err}");
    let err = a.device(3).unwrap_err();
    assert!(matches!(err, Error::NoSuchDevice { index: 3, count: 1 }), "{err}");
}

#[test]
fn a_newer_plugin_refusing_our_layout_names_both_versions() {
    let dir = scratch("skew");
    // PJRT 0.200, whose Plugin_Initialize refuses our argument struct as a newer plugin would.
    let source = r#"
#include <stddef.h>
#include <string.h>
static const char* refusal = "Unexpected PJRT_Plugin_Initialize_Args size: expected 24, got 16";
static int the_error;
struct destroy_args { size_t struct_size; void* extension_start; void* error; };
struct message_args { size_t struct_size; void* extension_start; const void* error; const char* message; size_t message_size; };
struct code_args { size_t struct_size; void* extension_start; const void* error; unsigned code; };
static void destroy(struct destroy_args* a) { (void)a; }
static void message(struct message_args* a) { a->message = refusal; a->message_size = strlen(refusal); }
static void* get_code(struct code_args* a) { a->code = 3; return 0; }
static void* initialize(void* a) { (void)a; return &the_error; }
struct version { size_t struct_size; void* extension_start; int major_version; int minor_version; };
struct api { size_t struct_size; void* extension_start; struct version version; void* functions[5]; };
static struct api the_api = { sizeof(struct api), 0, { sizeof(struct version), 0, 0, 200 },
    { (void*)destroy, (void*)message, (void*)get_code, (void*)initialize, 0 } };
const struct api* GetPjrtApi(void) { return &the_api; }
"#;
    let so = shared_library(&dir, "libnewer", source);
    let err = Api::load(&so).unwrap_err();
    assert!(matches!(err, Error::ApiSkew { plugin_minor: 200, ours: 114, .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("PJRT_Plugin_Initialize") && msg.contains("0.200") && msg.contains("0.114"), "{msg}");
    assert!(msg.contains("expected 24, got 16"), "{msg}");
}

#[test]
fn a_client_sets_its_compile_options_on_every_compile_and_a_compile_overrides_them() {
    let text = "func.func public @main(%x: tensor<4xf32>) -> tensor<4xf32> {\n  return %x : tensor<4xf32>\n}";
    let options =
        ClientOptions::new().cpu_device_count(1).compile_option("xla_no_such_option", OptionOverrideValue::Bool(true));
    let client = ouro_pjrt::open_client(&ouro_pjrt::PluginChoice::Default, options).unwrap();
    assert_eq!(client.compile_overrides().len(), 1);
    let msg = client.compile(&Program::text(text), &CompileOptions::single_device()).unwrap_err().to_string();
    assert!(msg.contains("xla_no_such_option"), "the client's option reaches the plugin: {msg}");

    // A real option, overridden by the compile's own value of it: the program still compiles.
    let options = ClientOptions::new()
        .cpu_device_count(1)
        .compile_option("xla_cpu_use_onednn", OptionOverrideValue::String("not a bool".into()));
    let client = ouro_pjrt::open_client(&ouro_pjrt::PluginChoice::Default, options).unwrap();
    assert!(client.compile(&Program::text(text), &CompileOptions::single_device()).is_err());
    let mut own = CompileOptions::single_device();
    own.env_option_overrides.push(("xla_cpu_use_onednn".into(), OptionOverrideValue::Bool(false)));
    client.compile(&Program::text(text), &own).unwrap();
}
