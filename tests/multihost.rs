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

/// Process `id` of a job of two whose coordinator listens on `port`, joined.
fn join_two(id: usize, port: u16) -> std::sync::Arc<ouro_cluster::Cluster> {
    let spec = ouro_cluster::ProcessSpec {
        process_id: id,
        num_processes: 2,
        coordinator: format!("127.0.0.1:{port}"),
        source: "the test",
        local_id: None,
    };
    std::sync::Arc::new(ouro_cluster::Cluster::join(spec, Duration::from_secs(60)).unwrap())
}

/// One writer process of [`two_writer_processes_save_one_step`], chosen by the environment:
/// it joins the job, writes its half of the split tensor (host 0 also the replicated one) and
/// saves together with the other.
fn checkpoint_writer(id: usize, port: u16, dir: &str, scenario: &str) {
    use ouro_ckpt::{Layout, Retention, SaveJob, TensorData, save_on_hosts};
    let cluster = join_two(id, port);
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
    let saved = save_on_hosts(&loc, layout, retention, &hosts, job);
    // The job's end (exit skips destructors): process 0 serves until the other is done.
    drop(hosts);
    if let Err(e) = saved {
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

/// A tiny built ARC dataset for the evaluator: two tasks of one test pair each, and the rows
/// of one test batch over them (augmented names vote for the same original), predictions right
/// and wrong, ties broken by the order they arrive in.
fn arc_batch() -> (std::path::PathBuf, ouro_train::gather::EvalRows) {
    let dir = common::scratch("arc-eval");
    let ids = ["<blank>", "taskA", "taskA|||t0|||0123456789", "taskB", "taskB|||t0|||0123456789"];
    std::fs::write(dir.join("identifiers.json"), serde_json::to_string(&ids).unwrap()).unwrap();
    let tasks = serde_json::json!({
        "taskA": {"test": [{"input": [[1, 2], [3, 4]], "output": [[2, 1], [4, 3]]}]},
        "taskB": {"test": [{"input": [[5, 5, 6]], "output": [[6, 5, 5]]}]},
    });
    std::fs::write(dir.join("test_puzzles.json"), tasks.to_string()).unwrap();
    // A 30x30 canvas with the grid's colours (+2) at its top left, the rest padding.
    let canvas = |grid: &[&[i32]]| {
        let mut c = vec![0i32; 900];
        for (r, row) in grid.iter().enumerate() {
            for (k, &v) in row.iter().enumerate() {
                c[r * 30 + k] = v + 2;
            }
        }
        c
    };
    let (a_in, b_in): (&[&[i32]], &[&[i32]]) = (&[&[1, 2], &[3, 4]], &[&[5, 5, 6]]);
    // (puzzle identifier, input grid, predicted grid, q-halt logit)
    type Row<'a> = (i32, &'a [&'a [i32]], &'a [&'a [i32]], f32);
    let rows: [Row; 8] = [
        (1, a_in, &[&[2, 1], &[4, 3]], 0.5),
        (2, a_in, &[&[1, 1], &[1, 1]], 2.0),
        (3, b_in, &[&[6, 6, 6]], 1.0),
        (4, b_in, &[&[6, 5, 5]], -1.0),
        (2, a_in, &[&[1, 1], &[1, 1]], -3.0),
        (1, a_in, &[&[2, 1], &[4, 3]], 0.0),
        (0, a_in, &[&[9]], 0.0), // padding: skipped
        (4, b_in, &[&[6, 6, 6]], -2.0),
    ];
    let mut batch = ouro_train::gather::EvalRows { seq_len: 900, ..Default::default() };
    for (id, input, pred, q) in rows {
        batch.inputs.extend(canvas(input));
        batch.preds.extend(canvas(pred));
        batch.puzzle_identifiers.push(id);
        batch.q_halt.push(q);
    }
    (dir, batch)
}

/// The ARC evaluator's result of `batch`, as JSON text (pass@k and the submission).
fn arc_result(dataset: &std::path::Path, batch: &ouro_train::gather::EvalRows) -> String {
    let mut evaluator = ouro_data::eval::ArcEvaluator::open(dataset, 0).unwrap();
    evaluator.begin_eval();
    evaluator.update(&batch.inputs, &batch.preds, &batch.puzzle_identifiers, &batch.q_halt).unwrap();
    let (scores, submission) = evaluator.result();
    serde_json::json!({"scores": scores, "submission": submission}).to_string()
}

/// One evaluating host of [`two_hosts_evaluate_arc_as_one`]: its half of the batch, gathered
/// through the job's key-value service, then the evaluator; the result on stdout.
fn arc_host(id: usize, port: u16) {
    let cluster = join_two(id, port);
    let hosts = ouro_cli::JobHosts::new(cluster.clone(), Some(Duration::from_secs(60)));
    let (dataset, batch) = arc_batch();
    let half = batch.rows() / 2;
    let range = id * half..(id + 1) * half;
    let mine = ouro_train::gather::EvalRows {
        seq_len: 900,
        inputs: batch.inputs[range.start * 900..range.end * 900].to_vec(),
        preds: batch.preds[range.start * 900..range.end * 900].to_vec(),
        puzzle_identifiers: batch.puzzle_identifiers[range.clone()].to_vec(),
        q_halt: batch.q_halt[range].to_vec(),
    };
    let all = ouro_train::gather::gather_rows(&hosts, "eval/0/0", &mine).unwrap();
    assert_eq!(all, batch, "process {id} sees the whole batch in global order");
    println!("RESULT {}", arc_result(&dataset, &all));
}

#[test]
fn two_hosts_evaluate_arc_as_one() {
    if let Ok(role) = std::env::var("OURO_TEST_ARC_HOST") {
        let v: Vec<&str> = role.split(',').collect();
        arc_host(v[0].parse().unwrap(), v[1].parse().unwrap());
        return;
    }
    let (dataset, batch) = arc_batch();
    let want = arc_result(&dataset, &batch);
    assert!(want.contains("\"ARC/pass@1\",0.5") && want.contains("\"ARC/pass@2\",1.0"), "{want}");
    let port = free_port();
    let hosts: Vec<_> = [1usize, 0]
        .iter()
        .map(|id| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "two_hosts_evaluate_arc_as_one", "--nocapture", "--test-threads", "1"])
                .env("OURO_TEST_ARC_HOST", format!("{id},{port}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for host in hosts {
        let out = host.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let got = stdout
            .lines()
            .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
            .unwrap_or_else(|| panic!("no result: {stdout}"));
        assert_eq!(got, want, "a host's evaluation equals one host's over the whole batch");
    }
}

/// One host of [`a_signal_to_any_host_stops_the_job_after_one_agreed_step_saved_by_all`]: steps
/// in lockstep with the other (each step is a barrier, as each training step's collectives
/// are), asking the stop agreement before each step as `ouro train` does, and on a stop saves
/// the agreed step together with the other host.
fn stopping_host(id: usize, port: u16, dir: &str) {
    use ouro_ckpt::{Layout, Retention, SaveJob, TensorData, save_on_hosts};
    use std::io::Write;
    let cluster = join_two(id, port);
    let flag = ouro_cli::stop_on_signals().unwrap();
    let agreement = ouro_train::preempt::StopAgreement::in_job(flag, cluster.store(), id, 2, "ouro/stop/test");
    let mut steps = 0u64;
    while !agreement.stop_before(steps).unwrap() {
        assert!(steps < 100_000, "no stop");
        cluster.barrier(&format!("step/{steps}"), Duration::from_secs(60)).unwrap();
        steps += 1;
        // Host 1 is the slower one, so the hosts' views of the step differ.
        std::thread::sleep(Duration::from_millis(if id == 1 { 3 } else { 1 }));
        println!("STEP {steps}");
        std::io::stdout().flush().unwrap();
    }
    let hosts = ouro_cli::JobHosts::new(cluster, Some(Duration::from_secs(60)));
    let tensors = vec![TensorData {
        name: "carry/z_H".into(),
        dtype: "u8".into(),
        shape: vec![2, 8],
        bytes: 16,
        parts: vec![(8 * id as u64, vec![steps as u8; 8])],
    }];
    let loc = ouro_store::Location::open(dir).unwrap();
    let job = SaveJob { step: steps, tensors, run: serde_json::Value::Null };
    save_on_hosts(&loc, Layout::default(), Retention { keep_last: 1, keep_every: 0 }, &hosts, job).unwrap();
    println!("STOPPED {steps}");
    drop(agreement);
    drop(hosts);
}

#[test]
fn a_signal_to_any_host_stops_the_job_after_one_agreed_step_saved_by_all() {
    if let Ok(role) = std::env::var("OURO_TEST_STOPPING_HOST") {
        let v: Vec<&str> = role.split(',').collect();
        stopping_host(v[0].parse().unwrap(), v[1].parse().unwrap(), v[2]);
        return;
    }
    use std::io::BufRead;
    // (which hosts get SIGTERM, at which step of host 0's): each host alone, and both.
    let trials: Vec<(Vec<usize>, u64)> =
        (0..12u64).map(|t| ([vec![0], vec![1], vec![0, 1]][t as usize % 3].clone(), 3 + t * 5)).collect();
    for (trial, (signalled, at)) in trials.iter().enumerate() {
        let dir = common::scratch(&format!("stopping-{trial}"));
        let port = free_port();
        let mut children: Vec<_> = [0usize, 1]
            .iter()
            .map(|id| {
                Command::new(std::env::current_exe().unwrap())
                    .args([
                        "--exact",
                        "a_signal_to_any_host_stops_the_job_after_one_agreed_step_saved_by_all",
                        "--nocapture",
                        "--test-threads",
                        "1",
                    ])
                    .env("OURO_TEST_STOPPING_HOST", format!("{id},{port},{}", dir.display()))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        // Host 0's steps, read as they come; the signal goes out once it reaches `at`.
        let mut lines = std::io::BufReader::new(children[0].stdout.take().unwrap()).lines();
        let mut stopped = [None, None];
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line == format!("STEP {at}") {
                for &h in signalled {
                    let pid = children[h].id().to_string();
                    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
                }
            }
            if let Some(n) = line.strip_prefix("STOPPED ") {
                stopped[0] = Some(n.parse::<u64>().unwrap());
            }
        }
        let out1 = children.pop().unwrap().wait_with_output().unwrap();
        let out0 = children.pop().unwrap().wait_with_output().unwrap();
        let stdout1 = String::from_utf8_lossy(&out1.stdout);
        stopped[1] = stdout1.lines().find_map(|l| l.strip_prefix("STOPPED ")?.parse::<u64>().ok());
        let why = format!(
            "trial {trial} ({signalled:?} at {at}): {stopped:?}\n{}\n{}",
            String::from_utf8_lossy(&out0.stderr),
            String::from_utf8_lossy(&out1.stderr)
        );
        assert!(out0.status.success() && out1.status.success(), "{why}");
        let step = stopped[0].unwrap_or_else(|| panic!("{why}"));
        assert_eq!(stopped[1], Some(step), "both hosts stop after the same step: {why}");
        assert!(step >= *at, "{why}");
        let loc = ouro_store::Location::open(dir.to_str().unwrap()).unwrap();
        assert_eq!(ouro_ckpt::committed(&loc).unwrap(), [step], "{why}");
        let saved = ouro_ckpt::Step::open(&loc, step).unwrap();
        assert_eq!(saved.manifest.hosts, 2);
        assert_eq!(saved.read_all("carry/z_H").unwrap(), vec![step as u8; 16], "each host's half of that step");
        let _ = std::fs::remove_dir_all(dir);
    }
}
