//! Several processes on this machine, as far as the CPU plugin lets them go: they find each
//! other from the flags and the environment, join through the coordinator's key-value service
//! (real TCP between real processes), and then the CPU plugin's lack of cross-process
//! collectives is reported plainly instead of each process silently training alone. What
//! happens past that point needs the TPU or GPU plugin (docs/training.md, "Several hosts").

mod common;

use std::process::{Command, Stdio};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn two_processes_join_then_the_cpu_plugin_is_refused_by_name() {
    let coordinator = format!("127.0.0.1:{}", free_port());
    // Process 1 from the flags, process 0 from the environment; 1 starts first and waits.
    let spawn = |args: &[&str], env: &[(&str, &str)]| {
        Command::new(env!("CARGO_BIN_EXE_ouro"))
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let one = spawn(
        &["info", "--num-processes", "2", "--process-id", "1", "--coordinator", &coordinator, "--join-timeout", "60"],
        &[],
    );
    let zero = spawn(
        &["info", "--join-timeout", "60"],
        &[("OURO_PROCESS_ID", "0"), ("OURO_NUM_PROCESSES", "2"), ("OURO_COORDINATOR", &coordinator)],
    );
    for (id, child) in [(1, one), (0, zero)] {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "process {id}: {stderr}");
        assert!(stderr.contains("joined the job"), "process {id}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "process {id} of 2 joined the job, but the XLA CPU plugin cannot run one program across processes"
            )),
            "process {id}: {stderr}"
        );
    }
}

#[test]
fn a_lone_process_names_what_it_waited_for() {
    let coordinator = format!("127.0.0.1:{}", free_port());
    // Process 0 runs the coordinator but nobody else comes.
    let (ok, _, stderr) = common::ouro(&[
        "info",
        "--num-processes",
        "3",
        "--process-id",
        "0",
        "--coordinator",
        &coordinator,
        "--join-timeout",
        "1",
    ]);
    assert!(!ok);
    assert!(stderr.contains("for processes [1, 2] of 3 to join"), "{stderr}");
    // Process 1 with no coordinator listening.
    let (ok, _, stderr) = common::ouro(&[
        "info",
        "--num-processes",
        "2",
        "--process-id",
        "1",
        "--coordinator",
        &coordinator,
        "--join-timeout",
        "1",
    ]);
    assert!(!ok);
    assert!(stderr.contains(&format!("cannot reach the coordinator's key-value service at {coordinator}")), "{stderr}");
    // Half a description.
    let (ok, _, stderr) = common::ouro(&["info", "--process-id", "1"]);
    assert!(!ok);
    assert!(stderr.contains("the number of processes is missing"), "{stderr}");
}
