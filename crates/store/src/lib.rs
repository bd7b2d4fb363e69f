//! Object storage for ouro's datasets and checkpoints, on the `object_store` crate.
//!
//! A location is a URL (`gs://bucket/path`, `s3://bucket/path`, `file:///abs/path`) or a plain
//! local path. Credentials come from the environment the way each cloud's tools read them
//! (`AWS_*` for S3, application-default credentials or `GOOGLE_SERVICE_ACCOUNT*` for GCS) and
//! never appear in URLs, logs or errors. ouro's callers are synchronous, so every operation has
//! a blocking form running on one shared runtime.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use futures::TryStreamExt;
use object_store::ObjectStore;
pub use object_store::UpdateVersion;
use object_store::aws::AmazonS3Builder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;

/// A store error, naming the location but never a credential.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A location that is not a path or a supported URL.
    #[error("{location}: {message}")]
    Location { location: String, message: String },
    /// The store refused or failed.
    #[error("{location}: {source}")]
    Store { location: String, source: object_store::Error },
    /// A local file.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The runtime behind the blocking calls (two worker threads: uploads and downloads overlap).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ouro-store")
            .enable_all()
            .build()
            .expect("a tokio runtime starts")
    })
}

/// Runs a future to completion from synchronous code.
pub fn block_on<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}

/// A store and a prefix inside it.
#[derive(Clone, Debug)]
pub struct Location {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The prefix of every key under this location.
    pub prefix: ObjectPath,
    /// The location as the user wrote it (for messages).
    pub url: String,
    /// `(scheme, bucket)`, for cache paths; `("file", "")` for local paths.
    pub scheme_and_bucket: (String, String),
}

/// `location` with a URL's user and password (`s3://KEY:SECRET@bucket/x`) replaced by `***`,
/// for every message and file that shows it; anything else as it is.
pub fn redact(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else { return location.to_string() };
    // Read as text, not parsed: a secret may hold '/' or '+' and make the URL unparseable.
    // Userinfo is what precedes the last '@', if it holds no '/' or has a ':' before the first.
    let Some((userinfo, after)) = rest.rsplit_once('@') else { return location.to_string() };
    let colon_first = userinfo.find(':').is_some_and(|c| userinfo.find('/').is_none_or(|s| c < s));
    if userinfo.contains('/') && !colon_first {
        return location.to_string();
    }
    format!("{scheme}://***@{after}")
}

/// Refuses a location carrying credentials in its URL: ouro never uses them (each store's
/// credentials come from the environment), and a URL is printed and stored in run files.
pub fn refuse_credentials(location: &str) -> Result<()> {
    if redact(location) != location {
        return Err(Error::Location {
            location: redact(location),
            message: "credentials in a URL are never used and would be written to run files and logs: remove them \
                      and set them in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for \
                      s3://, GOOGLE_APPLICATION_CREDENTIALS for gs://)"
                .into(),
        });
    }
    Ok(())
}

/// Whether `location` names a remote store rather than a local path.
pub fn is_remote(location: &str) -> bool {
    location.contains("://") && !location.starts_with("file://")
}

impl Location {
    /// Opens `location`: a local path, `file://`, `s3://` or `gs://`.
    pub fn open(location: &str) -> Result<Location> {
        if !location.contains("://") {
            return Location::local(Path::new(location));
        }
        refuse_credentials(location)?;
        let err = |message: String| Error::Location { location: location.to_string(), message };
        let url = url::Url::parse(location).map_err(|e| err(format!("not a valid URL ({e})")))?;
        let bucket = url.host_str().unwrap_or("").to_string();
        if bucket.is_empty() && url.scheme() != "file" {
            return Err(err("names no bucket: write scheme://bucket/prefix".into()));
        }
        let prefix = ObjectPath::from_url_path(url.path()).map_err(|e| err(format!("invalid path ({e})")))?;
        let store: Arc<dyn ObjectStore> = match url.scheme() {
            "file" => return Location::local(Path::new(url.path())),
            "s3" | "s3a" => Arc::new(
                AmazonS3Builder::from_env()
                    .with_bucket_name(&bucket)
                    .build()
                    .map_err(|e| err(format!("cannot configure S3: {e}")))?,
            ),
            "gs" => Arc::new(
                GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(&bucket)
                    .build()
                    .map_err(|e| err(format!("cannot configure GCS: {e}")))?,
            ),
            other => {
                return Err(err(format!("unsupported scheme '{other}': use a local path, file://, s3:// or gs://")));
            }
        };
        Ok(Location { store, prefix, url: location.to_string(), scheme_and_bucket: (url.scheme().to_string(), bucket) })
    }

    /// A local directory (created if missing).
    pub fn local(path: &Path) -> Result<Location> {
        if path.exists() && !path.is_dir() {
            return Err(Error::Location {
                location: path.display().to_string(),
                message: "is a file, not a directory: name a directory (it is created if missing)".into(),
            });
        }
        std::fs::create_dir_all(path).map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?;
        let root = path.canonicalize().map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?;
        let store = LocalFileSystem::new_with_prefix(&root)
            .map_err(|e| Error::Store { location: root.display().to_string(), source: e })?;
        Ok(Location {
            store: Arc::new(store),
            prefix: ObjectPath::default(),
            url: root.display().to_string(),
            scheme_and_bucket: ("file".into(), String::new()),
        })
    }

    /// A location on any store (tests use `InMemory`).
    pub fn on(store: Arc<dyn ObjectStore>, prefix: &str, url: &str) -> Location {
        Location {
            store,
            prefix: ObjectPath::from(prefix),
            url: url.to_string(),
            scheme_and_bucket: ("memory".into(), String::new()),
        }
    }

    /// The directory this location is, when it is on local disk. Local files are written
    /// through a staging file (`name#N`) renamed into place, which listings skip: a write
    /// killed midway leaves files that only a look at the directory itself finds.
    pub fn local_dir(&self) -> Option<PathBuf> {
        (self.scheme_and_bucket.0 == "file").then(|| Path::new(&self.url).join(self.prefix.as_ref()))
    }

    /// The key of `relative` (slash-separated) under this location.
    pub fn key(&self, relative: &str) -> ObjectPath {
        relative.split('/').filter(|p| !p.is_empty()).fold(self.prefix.clone(), |k, part| k.join(part))
    }

    fn store_err(&self, source: object_store::Error) -> Error {
        Error::Store { location: self.url.clone(), source }
    }

    /// Every object under this location: `(path relative to it, size, e_tag)`, sorted by path.
    pub fn list(&self) -> Result<Vec<(String, u64, Option<String>)>> {
        let prefix = if self.prefix.as_ref().is_empty() { None } else { Some(&self.prefix) };
        let metas: Vec<_> = block_on(self.store.list(prefix).try_collect::<Vec<_>>()).map_err(|e| self.store_err(e))?;
        let strip = self.prefix.as_ref().len();
        let mut out: Vec<_> = metas
            .into_iter()
            .map(|m| {
                let full = m.location.as_ref();
                let rel = if strip == 0 { full.to_string() } else { full[strip..].trim_start_matches('/').to_string() };
                (rel, m.size, m.e_tag)
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Reads a whole object.
    pub fn get(&self, relative: &str) -> Result<Vec<u8>> {
        use object_store::ObjectStoreExt;
        let key = self.key(relative);
        block_on(async { self.store.get(&key).await?.bytes().await }).map(|b| b.to_vec()).map_err(|e| self.store_err(e))
    }

    /// Writes a whole object.
    pub fn put(&self, relative: &str, bytes: Vec<u8>) -> Result<()> {
        use object_store::ObjectStoreExt;
        let key = self.key(relative);
        block_on(self.store.put(&key, bytes.into())).map(|_| ()).map_err(|e| self.store_err(e))
    }

    /// Writes a whole object from shared buffers, without copying them (a retry reuses them).
    pub fn put_parts(&self, relative: &str, parts: &[bytes::Bytes]) -> Result<()> {
        use object_store::ObjectStoreExt;
        let key = self.key(relative);
        let payload: object_store::PutPayload = parts.iter().cloned().collect();
        block_on(self.store.put(&key, payload)).map(|_| ()).map_err(|e| self.store_err(e))
    }

    /// Writes a whole object as a multipart upload: parts of `part_size` bytes (the last may be
    /// shorter), `parallel` in flight, the object appearing whole when the upload completes. A
    /// failed upload is aborted, so no parts are left behind where the store allows it.
    pub fn put_multipart(
        &self,
        relative: &str,
        parts: &[bytes::Bytes],
        part_size: usize,
        parallel: usize,
    ) -> Result<()> {
        use futures::StreamExt;
        use object_store::ObjectStoreExt;
        let key = self.key(relative);
        let chunks = split_into_parts(parts, part_size.max(1));
        block_on(async {
            let mut upload = self.store.put_multipart(&key).await?;
            let sent: object_store::Result<Vec<()>> =
                futures::stream::iter(chunks.into_iter().map(|c| upload.put_part(c)))
                    .buffer_unordered(parallel.max(1))
                    .try_collect()
                    .await;
            match sent {
                Ok(_) => upload.complete().await.map(|_| ()),
                Err(e) => {
                    // The part's error is the one to report; a failing abort adds nothing.
                    let _ = upload.abort().await;
                    Err(e)
                }
            }
        })
        .map_err(|e| self.store_err(e))
    }

    /// Reads bytes `[start, end)` of an object.
    pub fn get_range(&self, relative: &str, range: std::ops::Range<u64>) -> Result<bytes::Bytes> {
        use object_store::ObjectStoreExt;
        let key = self.key(relative);
        block_on(self.store.get_range(&key, range)).map_err(|e| self.store_err(e))
    }

    /// Deletes an object (a missing one is not an error).
    pub fn delete(&self, relative: &str) -> Result<()> {
        use object_store::ObjectStoreExt;
        let key = self.key(relative);
        match block_on(self.store.delete(&key)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.store_err(e)),
        }
    }

    /// Writes `relative` only if it does not exist: its version, or `None` when it exists.
    pub fn put_if_absent(&self, relative: &str, bytes: Vec<u8>) -> Result<Option<UpdateVersion>> {
        self.put_conditionally(relative, bytes, object_store::PutMode::Create)
    }

    /// Replaces `relative` only if it is still at `version` (compare-and-swap): its new
    /// version, or `None` when another writer changed or removed it first.
    pub fn put_if_version(
        &self,
        relative: &str,
        bytes: Vec<u8>,
        version: UpdateVersion,
    ) -> Result<Option<UpdateVersion>> {
        self.put_conditionally(relative, bytes, object_store::PutMode::Update(version))
    }

    fn put_conditionally(
        &self,
        relative: &str,
        bytes: Vec<u8>,
        mode: object_store::PutMode,
    ) -> Result<Option<UpdateVersion>> {
        let key = self.key(relative);
        let options = object_store::PutOptions { mode, ..Default::default() };
        match block_on(self.store.put_opts(&key, bytes.into(), options)) {
            Ok(r) => Ok(Some(UpdateVersion { e_tag: r.e_tag, version: r.version })),
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => Ok(None),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.store_err(e)),
        }
    }

    /// Reads a whole object with its version (for [`Location::put_if_version`]); `None` if
    /// it does not exist.
    pub fn get_versioned(&self, relative: &str) -> Result<Option<(Vec<u8>, UpdateVersion)>> {
        use object_store::ObjectStoreExt;
        let key = self.key(relative);
        let got = block_on(async {
            let r = self.store.get(&key).await?;
            let version = UpdateVersion { e_tag: r.meta.e_tag.clone(), version: r.meta.version.clone() };
            Ok::<_, object_store::Error>((r.bytes().await?.to_vec(), version))
        });
        match got {
            Ok(v) => Ok(Some(v)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.store_err(e)),
        }
    }

    /// Whether an object exists.
    pub fn exists(&self, relative: &str) -> Result<bool> {
        use object_store::ObjectStoreExt;
        let key = self.key(relative);
        match block_on(self.store.head(&key)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.store_err(e)),
        }
    }
}

/// `parts`, read as one byte sequence, cut into payloads of `size` bytes (the last shorter),
/// each a list of slices of the input: nothing is copied.
fn split_into_parts(parts: &[bytes::Bytes], size: usize) -> Vec<object_store::PutPayload> {
    let mut out = Vec::new();
    let (mut current, mut len) = (Vec::new(), 0);
    for part in parts {
        let mut at = 0;
        while at < part.len() {
            let take = (size - len).min(part.len() - at);
            current.push(part.slice(at..at + take));
            (at, len) = (at + take, len + take);
            if len == size {
                out.push(std::mem::take(&mut current).into_iter().collect());
                len = 0;
            }
        }
    }
    if len > 0 {
        out.push(current.into_iter().collect());
    }
    out
}

/// ouro's cache directory: `OURO_CACHE_DIR`, else `$XDG_CACHE_HOME/ouro`, else `~/.cache/ouro`.
pub fn cache_dir() -> Option<PathBuf> {
    let var = |n: &str| std::env::var_os(n).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("OURO_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("ouro")))
        .or_else(|| var("HOME").map(|h| h.join(".cache/ouro")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_url_are_redacted_and_refused_and_a_file_is_no_location() {
        for (url, shown) in [
            ("s3://KEY:SECRET@bucket/x", "s3://***@bucket/x"),
            ("s3://AKIA:ab/c+d@bucket/x/y", "s3://***@bucket/x/y"),
            ("gs://token@bucket", "gs://***@bucket"),
            ("s3://bucket/a@b", "s3://bucket/a@b"),
            ("/local/a@b", "/local/a@b"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
        let e = Location::open("s3://").unwrap_err().to_string();
        assert!(e.contains("names no bucket"), "{e}");
        let file = std::env::temp_dir().join(format!("ouro-store-a-file-{}", std::process::id()));
        std::fs::write(&file, b"").unwrap();
        let e = Location::open(file.to_str().unwrap()).unwrap_err().to_string();
        assert!(e.contains("is a file, not a directory"), "{e}");
        std::fs::remove_file(file).unwrap();
        let e = Location::open("s3://KEY:s3cr3tvalue@bucket/x").unwrap_err().to_string();
        assert!(
            e.contains("s3://***@bucket/x") && e.contains("AWS_ACCESS_KEY_ID") && !e.contains("s3cr3tvalue"),
            "{e}"
        );
    }

    fn pieces() -> (Vec<bytes::Bytes>, Vec<u8>) {
        let parts: Vec<bytes::Bytes> =
            [5usize, 0, 13, 1, 7].iter().enumerate().map(|(i, &n)| vec![i as u8 + 1; n].into()).collect();
        let whole = parts.iter().flat_map(|p| p.iter().copied()).collect();
        (parts, whole)
    }

    #[test]
    fn parts_are_cut_at_the_part_size_across_inputs() {
        let (parts, whole) = pieces();
        let payloads = split_into_parts(&parts, 4);
        let sizes: Vec<usize> = payloads.iter().map(|p| p.content_length()).collect();
        assert_eq!(sizes, [4, 4, 4, 4, 4, 4, 2]);
        let joined: Vec<u8> = payloads.iter().flat_map(|p| p.iter().flat_map(|b| b.iter().copied())).collect();
        assert_eq!(joined, whole);
    }

    #[test]
    fn a_multipart_upload_reads_back_whole_in_memory_and_on_disk() {
        let (parts, whole) = pieces();
        let dir = std::env::temp_dir().join(format!("ouro-store-multipart-{}", std::process::id()));
        let memory = Location::on(Arc::new(object_store::memory::InMemory::new()), "p", "memory://p");
        for loc in [memory, Location::local(&dir).unwrap()] {
            loc.put_multipart("a/b.bin", &parts, 4, 3).unwrap();
            assert_eq!(loc.get("a/b.bin").unwrap(), whole, "{}", loc.url);
            loc.put_multipart("one.bin", &parts, 1 << 20, 3).unwrap();
            assert_eq!(loc.get("one.bin").unwrap(), whole, "{}", loc.url);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
