//! The `ouro` binary; everything lives in the `ouro-cli` crate.

fn main() -> std::process::ExitCode {
    ouro_cli::main()
}
