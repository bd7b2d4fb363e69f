//! Checkpoints written and read on an in-memory store, a local directory and a store that
//! fails on purpose: round trips with resharding, the commit protocol, retention, and damage
//! found and named.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult,
};
use ouro_ckpt::{
    Error, Layout, Retention, SaveJob, Saver, Step, TensorData, commit, committed, list, save_now, write_shards,
};
use ouro_store::Location;

fn memory() -> Location {
    Location::on(Arc::new(InMemory::new()), "runs/exp", "memory://runs/exp")
}

/// `[rows, 3]` f32 values, split on rows over `parts` devices like the carry or ZeRO moments.
fn split_tensor(name: &str, rows: usize, parts: usize) -> (TensorData, Vec<u8>) {
    let values: Vec<f32> = (0..rows * 3).map(|i| i as f32 * 0.5 - 7.0).collect();
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let per = bytes.len() / parts;
    let data = TensorData {
        name: name.into(),
        dtype: "f32".into(),
        shape: vec![rows, 3],
        bytes: bytes.len() as u64,
        parts: (0..parts).map(|d| ((d * per) as u64, bytes[d * per..(d + 1) * per].to_vec())).collect(),
    };
    (data, bytes)
}

fn replicated(name: &str, bytes: Vec<u8>) -> TensorData {
    TensorData {
        name: name.into(),
        dtype: "u8".into(),
        shape: vec![bytes.len()],
        bytes: bytes.len() as u64,
        parts: vec![(0, bytes)],
    }
}

/// Small pieces and files so a few tensors span several of each.
const SMALL: Layout =
    Layout { max_piece: 40, file_target: 100, parallel_uploads: 3, multipart_part: 64, parallel_parts: 2 };

const KEEP_ALL: Retention = Retention { keep_last: 1000, keep_every: 0 };

#[test]
fn a_saved_step_reads_back_whole_and_in_any_device_s_slices() {
    let loc = memory();
    let (carry, carry_bytes) = split_tensor("carry/z_H", 16, 4);
    let step_bytes = 17u32.to_le_bytes().to_vec();
    let job = SaveJob {
        step: 17,
        tensors: vec![carry, replicated("step", step_bytes.clone()), replicated("empty", vec![])],
        run: serde_json::json!({"sampler": {"iters": 3}}),
    };
    let report = save_now(&loc, SMALL, KEEP_ALL, job).unwrap();
    assert_eq!(report.bytes, carry_bytes.len() as u64 + 4);
    let step = Step::open(&loc, 17).unwrap();
    assert!(step.manifest.files.len() > 1, "small files: {:?}", step.manifest.files);
    assert_eq!(step.manifest.run["sampler"]["iters"], 3);
    assert_eq!(step.read_all("carry/z_H").unwrap(), carry_bytes);
    assert_eq!(step.read_all("step").unwrap(), step_bytes);
    assert_eq!(step.read_all("empty").unwrap(), Vec::<u8>::new());
    // Saved from 4 devices, read by 2 and by 3 rows at a time: byte ranges across pieces.
    for parts in [2, 8] {
        let per = carry_bytes.len() / parts;
        for d in 0..parts {
            assert_eq!(
                step.read("carry/z_H", (d * per) as u64, per as u64).unwrap(),
                carry_bytes[d * per..(d + 1) * per]
            );
        }
    }
    assert!(step.verify().is_empty());
    let e = step.read("nope", 0, 1).unwrap_err().to_string();
    assert!(e.contains("has no tensor nope"), "{e}");
}

#[test]
fn a_step_without_its_marker_does_not_exist_and_retention_keeps_what_it_should() {
    let loc = memory();
    for step in [5, 10, 15, 20, 25] {
        save_now(
            &loc,
            SMALL,
            Retention { keep_last: 2, keep_every: 10 },
            SaveJob { step, tensors: vec![replicated("w", vec![step as u8; 50])], run: serde_json::Value::Null },
        )
        .unwrap();
    }
    // The last two and every 10th survive.
    assert_eq!(committed(&loc).unwrap(), [25, 20, 10]);
    // Shards written, the process "dies" before the commit: invisible, then cleaned up.
    write_shards(&loc, 30, 0, vec![replicated("w", vec![1; 50])], SMALL).unwrap();
    assert_eq!(committed(&loc).unwrap(), [25, 20, 10]);
    let e = Step::open(&loc, 30).err().unwrap();
    assert!(matches!(e, Error::NotFound(_)), "{e}");
    assert!(list(&loc).unwrap().iter().any(|s| s.step == 30 && !s.committed));
    save_now(
        &loc,
        SMALL,
        Retention { keep_last: 2, keep_every: 10 },
        SaveJob { step: 35, tensors: vec![replicated("w", vec![2; 50])], run: serde_json::Value::Null },
    )
    .unwrap();
    let steps: Vec<u64> = list(&loc).unwrap().iter().map(|s| s.step).collect();
    // 15 went at 25's commit; the unfinished 30 goes now; 10 and 20 are every-10th.
    assert_eq!(steps, [10, 20, 25, 35]);
}

/// What a SIGKILL mid-save leaves on local disk, where files are written to a staging name
/// (`name#N`) and renamed: a step folder holding only staging files, an empty one, and a staging
/// file inside a step saved again later. Listings skip staging files, so this looks at the disk.
#[test]
fn a_killed_local_save_leaves_nothing_behind_after_the_next_commit() {
    let dir = std::env::temp_dir().join(format!("ouro-ckpt-killed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let loc = Location::local(&dir).unwrap();
    let keep = Retention { keep_last: 2, keep_every: 0 };
    let save = |step: u64| {
        let job = SaveJob { step, tensors: vec![replicated("w", vec![step as u8; 50])], run: serde_json::Value::Null };
        save_now(&loc, SMALL, keep, job).unwrap();
    };
    save(5);
    std::fs::create_dir_all(dir.join("step_6")).unwrap();
    std::fs::write(dir.join("step_6/host000-00000.bin#1"), [0u8; 7]).unwrap();
    std::fs::create_dir_all(dir.join("step_7")).unwrap();
    std::fs::create_dir_all(dir.join("step_8")).unwrap();
    std::fs::write(dir.join("step_8/host000-00000.bin#1"), [0u8; 7]).unwrap();
    let unfinished: Vec<u64> = list(&loc).unwrap().iter().filter(|s| !s.committed).map(|s| s.step).collect();
    assert_eq!(unfinished, [6, 7, 8], "unfinished saves are listed even when the store's listing skips them");
    // Step 8 is saved again (the resumed run reaching it): its leftover staging file goes.
    save(8);
    assert!(!dir.join("step_8/host000-00000.bin#1").exists());
    assert!(dir.join("step_8/COMMITTED").exists());
    let mut left: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    assert_eq!(left, ["step_5", "step_8"], "the unfinished 6 and 7 are deleted with the commit of 8");
    assert_eq!(committed(&loc).unwrap(), [8, 5]);
    Step::open(&loc, 8).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flipped_and_truncated_bytes_are_named_by_tensor_and_file() {
    let dir = std::env::temp_dir().join(format!("ouro-ckpt-damage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let loc = Location::local(&dir).unwrap();
    let (a, _) = split_tensor("params/a", 6, 2);
    let (b, _) = split_tensor("params/b", 6, 1);
    save_now(&loc, SMALL, KEEP_ALL, SaveJob { step: 3, tensors: vec![a, b], run: serde_json::Value::Null }).unwrap();
    let step = Step::open(&loc, 3).unwrap();
    let piece = step.manifest.tensor("params/b").unwrap().pieces[1].clone();
    let path = dir.join("step_3").join(&piece.file);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[piece.offset as usize + 2] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let e = step.read_all("params/b").unwrap_err().to_string();
    assert!(e.contains(&piece.file) && e.contains("tensor params/b") && e.contains("checksum mismatch"), "{e}");
    assert_eq!(step.verify().len(), 1);
    // A changed manifest no longer matches its marker.
    let manifest = dir.join("step_3/manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap().replace("\"step\": 3", "\"step\": 3 ");
    std::fs::write(&manifest, text).unwrap();
    let e = Step::open(&loc, 3).err().unwrap().to_string();
    assert!(e.contains("manifest.json") && e.contains("commit marker"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A multipart upload whose first part fails (the store's request failed).
#[derive(Debug)]
struct FailingUpload {
    inner: Box<dyn MultipartUpload>,
    fail_next: bool,
}

#[async_trait::async_trait]
impl MultipartUpload for FailingUpload {
    fn put_part(&mut self, data: PutPayload) -> object_store::UploadPart {
        if std::mem::take(&mut self.fail_next) {
            return Box::pin(async {
                Err(object_store::Error::Generic { store: "Flaky", source: "injected failure of a part".into() })
            });
        }
        self.inner.put_part(data)
    }
    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.inner.complete().await
    }
    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

/// An in-memory store that fails puts (whole or multipart): every `every`-th one, or all.
#[derive(Debug)]
struct Flaky {
    inner: InMemory,
    every: usize,
    puts: AtomicUsize,
}

impl std::fmt::Display for Flaky {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Flaky(every {})", self.every)
    }
}

#[async_trait::async_trait]
impl ObjectStore for Flaky {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let n = self.puts.fetch_add(1, Ordering::SeqCst) + 1;
        if self.every <= 1 || n.is_multiple_of(self.every) {
            return Err(object_store::Error::Generic {
                store: "Flaky",
                source: format!("injected failure of put {n}").into(),
            });
        }
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let n = self.puts.fetch_add(1, Ordering::SeqCst) + 1;
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(FailingUpload { inner, fail_next: self.every <= 1 || n.is_multiple_of(self.every) }))
    }
    async fn get_opts(&self, location: &ObjectPath, options: GetOptions) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }
    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&ObjectPath>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(&self, from: &ObjectPath, to: &ObjectPath, options: CopyOptions) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[test]
fn a_store_failing_some_requests_is_retried_and_one_failing_all_fails_loudly() {
    let flaky = Arc::new(Flaky { inner: InMemory::new(), every: 3, puts: AtomicUsize::new(0) });
    let loc = Location::on(flaky.clone(), "ck", "memory://ck");
    let (t, bytes) = split_tensor("params/w", 40, 4);
    save_now(&loc, SMALL, KEEP_ALL, SaveJob { step: 1, tensors: vec![t.clone()], run: serde_json::Value::Null })
        .unwrap();
    assert!(flaky.puts.load(Ordering::SeqCst) > 6, "several puts, a third of them failed and retried");
    assert_eq!(Step::open(&loc, 1).unwrap().read_all("params/w").unwrap(), bytes);

    let broken = Location::on(
        Arc::new(Flaky { inner: InMemory::new(), every: 1, puts: AtomicUsize::new(0) }),
        "ck",
        "memory://ck",
    );
    let mut saver = Saver::new(broken.clone(), SMALL, KEEP_ALL);
    saver.submit(SaveJob { step: 2, tensors: vec![t.clone()], run: serde_json::Value::Null }).unwrap();
    // The failure surfaces at the next hand-over (or wait), never silently.
    let e = saver.wait().unwrap_err().to_string();
    assert!(e.contains("after 5 attempts") && e.contains("injected failure of"), "{e}");
    assert!(committed(&broken).unwrap().is_empty());
}

#[test]
fn hosts_write_their_own_parts_and_host_0_commits_the_union() {
    let loc = memory();
    let (full, bytes) = split_tensor("carry/z", 8, 2);
    let host_parts: Vec<_> = (0..2)
        .map(|h| {
            let part = TensorData { parts: vec![full.parts[h].clone()], ..full.clone() };
            // Both hosts hold the replicated step counter; each writes it.
            write_shards(&loc, 4, h, vec![part, replicated("step", vec![4, 0, 0, 0])], SMALL).unwrap()
        })
        .collect();
    commit(&loc, 4, host_parts, serde_json::Value::Null).unwrap();
    let step = Step::open(&loc, 4).unwrap();
    assert_eq!(step.manifest.hosts, 2);
    assert_eq!(step.read_all("carry/z").unwrap(), bytes);
    assert_eq!(step.read_all("step").unwrap(), [4, 0, 0, 0]);
    // A missing host's part is refused at commit, before any marker exists.
    let (full, _) = split_tensor("carry/z", 8, 2);
    let lone =
        write_shards(&loc, 5, 0, vec![TensorData { parts: vec![full.parts[0].clone()], ..full }], SMALL).unwrap();
    let e = commit(&loc, 5, vec![lone], serde_json::Value::Null).unwrap_err().to_string();
    assert!(e.contains("tensor carry/z: pieces cover"), "{e}");
    assert!(Step::open(&loc, 5).is_err());
}

#[test]
fn one_writer_holds_a_location_s_lease_and_a_gone_one_s_lease_is_taken_over() {
    use ouro_ckpt::{LEASE, Lease};
    use std::time::{Duration, Instant};
    let loc = memory();
    let first = Lease::acquire(&loc, "process 11 on host-a", Duration::from_secs(60)).unwrap();
    let e = Lease::acquire(&loc, "process 12 on host-b", Duration::from_secs(60)).unwrap_err().to_string();
    assert!(e.contains("is being written by process 11 on host-a") && e.contains("--resume"), "{e}");
    first.check().unwrap();
    drop(first);
    let second = Lease::acquire(&loc, "process 12 on host-b", Duration::from_secs(60)).unwrap();
    // Someone else's write in between (a writer that took it after this one failed to renew):
    // the next renewal finds it changed, and the lease says so.
    let short = {
        drop(second);
        Lease::acquire(&loc, "process 13", Duration::from_millis(400)).unwrap()
    };
    loc.put(LEASE, br#"{"holder":"process 14","renewed_unix":0,"expires_unix":1e18}"#.to_vec()).unwrap();
    let started = Instant::now();
    while short.check().is_ok() {
        assert!(started.elapsed() < Duration::from_secs(30), "the lost lease was never noticed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(short.check().unwrap_err().to_string().contains("another writer took the lease"));
    drop(short);
    // A holder that stopped renewing (killed): its lease is waited out, then taken over.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let stale = format!(r#"{{"holder":"process 15","renewed_unix":{},"expires_unix":{}}}"#, now - 100.0, now + 1.0);
    loc.put(LEASE, stale.into_bytes()).unwrap();
    let started = Instant::now();
    let taken = Lease::acquire(&loc, "process 16", Duration::from_secs(60)).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900), "it waited for the lease to expire");
    let e = Lease::acquire(&loc, "process 17", Duration::from_secs(60)).unwrap_err().to_string();
    assert!(e.contains("process 16"), "{e}");
    drop(taken);
    // A stale record claiming to last far longer than a lease does: named, not waited for.
    loc.put(LEASE, br#"{"holder":"process 18","renewed_unix":0,"expires_unix":1e18}"#.to_vec()).unwrap();
    let e = Lease::acquire(&loc, "process 19", Duration::from_secs(60)).unwrap_err().to_string();
    assert!(e.contains("held by process 18") && e.contains("delete"), "{e}");
}
