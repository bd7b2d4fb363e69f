//! Several processes on this machine, as far as the CPU plugin lets them go: they find each
//! other from the flags and the environment, join through the coordinator's key-value service
//! (real TCP between real processes), and then the CPU plugin's lack of cross-process
//! collectives is reported plainly instead of each process silently training alone. What
//! happens past that point needs the TPU or GPU plugin (docs/training.md, "Several hosts").

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

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

/// One writer process of [`two_writer_processes_save_one_step`], chosen by the environment:
/// it joins the job, writes its half of the split tensor (host 0 also the replicated one) and
/// saves together with the other.
fn checkpoint_writer(id: usize, port: u16, dir: &str, scenario: &str) {
    use ouro_ckpt::{Layout, Retention, SaveJob, TensorData, save_on_hosts};
    let spec = ouro_cluster::ProcessSpec {
        process_id: id,
        num_processes: 2,
        coordinator: format!("127.0.0.1:{port}"),
        source: "the test",
        local_id: None,
    };
    let cluster = std::sync::Arc::new(ouro_cluster::Cluster::join(spec, Duration::from_secs(60)).unwrap());
    if scenario == "vanish" && id == 1 {
        return; // joined, then gone before saving: a preempted host
    }
    let hosts = ouro_cli::JobHosts::new(cluster, Some(Duration::from_secs(if scenario == "vanish" { 3 } else { 60 })));
    let rows: Vec<u8> = (0..32u8).map(|b| b + 32 * id as u8).collect();
    // Host 1 claims a range past the tensor's end in the "fail" scenario: its write fails.
    let start = if scenario == "fail" && id == 1 { 64 } else { 32 * id as u64 };
    let mut tensors = vec![TensorData {
        name: "carry/z_H".into(),
        dtype: "u8".into(),
        shape: vec![8, 8],
        bytes: 64,
        parts: vec![(start, rows)],
    }];
    if id == 0 {
        tensors.push(TensorData {
            name: "step".into(),
            dtype: "i32".into(),
            shape: vec![],
            bytes: 4,
            parts: vec![(0, vec![7, 0, 0, 0])],
        });
    }
    let loc = ouro_store::Location::open(dir).unwrap();
    let layout = Layout { max_piece: 8, file_target: 16, ..Layout::default() };
    let job = SaveJob { step: 7, tensors, run: serde_json::json!({ "by": "two processes" }) };
    let retention = Retention { keep_last: 2, keep_every: 0 };
    if let Err(e) = save_on_hosts(&loc, layout, retention, &hosts, job) {
        eprintln!("save failed: {e}");
        std::process::exit(3);
    }
}

#[test]
fn two_writer_processes_save_one_step() {
    // The same test binary is each writer.
    if let Ok(role) = std::env::var("OURO_TEST_CKPT_WRITER") {
        let v: Vec<&str> = role.split(',').collect();
        checkpoint_writer(v[0].parse().unwrap(), v[1].parse().unwrap(), v[2], v[3]);
        return;
    }
    let run = |scenario: &str| {
        let dir = common::scratch(&format!("two-writers-{scenario}"));
        let port = free_port();
        let writers: Vec<_> = [1usize, 0]
            .iter()
            .map(|id| {
                Command::new(std::env::current_exe().unwrap())
                    .args(["--exact", "two_writer_processes_save_one_step", "--nocapture", "--test-threads", "1"])
                    .env("OURO_TEST_CKPT_WRITER", format!("{id},{port},{},{scenario}", dir.display()))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outputs: Vec<_> = writers.into_iter().map(|w| w.wait_with_output().unwrap()).collect();
        let report = |o: &std::process::Output| {
            (o.status.code(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
        };
        // In spawn order: process 1, process 0.
        (dir, report(&outputs[1]), report(&outputs[0]))
    };

    let (dir, (code0, out0), (code1, out1)) = run("ok");
    assert_eq!((code0, code1), (Some(0), Some(0)), "{out0}\n{out1}");
    let loc = ouro_store::Location::open(dir.to_str().unwrap()).unwrap();
    let step = ouro_ckpt::Step::open(&loc, 7).unwrap();
    assert_eq!(step.manifest.hosts, 2);
    assert_eq!(step.read_all("carry/z_H").unwrap(), (0..64u8).collect::<Vec<_>>(), "both halves, in place");
    assert_eq!(step.read_all("step").unwrap(), [7, 0, 0, 0]);
    let writers: std::collections::BTreeSet<usize> = step.manifest.files.iter().map(|f| f.host).collect();
    assert_eq!(writers, [0, 1].into(), "each host wrote its own files");
    assert!(step.verify().is_empty());

    // A host whose write fails: neither commits, and host 0 names it.
    let (dir, (code0, out0), (code1, out1)) = run("fail");
    assert_eq!((code0, code1), (Some(3), Some(3)), "{out0}\n{out1}");
    assert!(out0.contains("step 7 is not committed: host 1 failed to write its shards"), "{out0}");
    assert!(out1.contains("overruns its 64 bytes"), "{out1}");
    let loc = ouro_store::Location::open(dir.to_str().unwrap()).unwrap();
    assert_eq!(ouro_ckpt::committed(&loc).unwrap(), Vec::<u64>::new());

    // A host that disappears: host 0 waits, names it, and commits nothing.
    let (dir, (code0, out0), _) = run("vanish");
    assert_eq!(code0, Some(3), "{out0}");
    assert!(out0.contains("process 1 did not arrive"), "{out0}");
    let loc = ouro_store::Location::open(dir.to_str().unwrap()).unwrap();
    assert_eq!(ouro_ckpt::committed(&loc).unwrap(), Vec::<u64>::new());
}
