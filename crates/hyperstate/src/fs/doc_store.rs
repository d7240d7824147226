//! Session documents as files, with compare-and-swap across processes.
//!
//! # Layout
//!
//! ```text
//! <root>/sessions/<k0k1>/<key>.json     one document per session (key: 64 hex digits)
//! <root>/sessions/locks/<k0k1>.lock     256 lock stripes, one per key prefix
//! <root>/sessions/quarantine/<key>.<unix-ms>.json   unreadable documents, kept aside
//! ```
//!
//! Session state is private to the service user: directories this store
//! creates are 0700 and files 0600 (directories that already exist keep their
//! mode). Quarantined documents are never deleted by hyperstate: inspect them,
//! then remove them by hand.
//!
//! # Why it is correct with several processes
//!
//! object_store's `LocalFileSystem` cannot do a conditional update, so this
//! backend builds one: a writer takes an exclusive `flock(2)` on the key's lock
//! stripe, reads the current document, checks the condition against its etag (a
//! SHA-256 of the bytes), writes a temporary file, syncs it, renames it over the
//! document and syncs the directory, then unlocks. Within one process each stripe
//! also has a mutex: the stripe's file is opened once and shared by the threads,
//! and `flock` does not exclude the holder of the same open file. The kernel
//! drops `flock` locks when a process dies, so `kill -9` cannot leave a stale
//! lock. Readers take no lock: `rename` swaps whole files atomically.
//!
//! Lock stripes are fixed files that are never deleted: deleting a lock file
//! while another process waits on it would split the lock in two. A process
//! killed mid-write leaves its temporary file behind; listing (the sweeper)
//! removes those older than an hour.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::session::{Document, DocumentStore, Etag, Listed, PutCondition, PutOutcome, SessionKey};
use crate::{Error, Result};

const BACKEND: &str = "fs";

/// Session documents in a local directory. Cheap to clone.
///
/// ```
/// # fn main() -> hyperstate::Result<()> {
/// use hyperstate::fs::FsDocumentStore;
/// let dir = std::env::temp_dir().join(format!("hyperstate-doc-{}", std::process::id()));
/// let store = FsDocumentStore::open(&dir)?;
/// assert!(store.dir().ends_with("sessions"));
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FsDocumentStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    /// Whether writes are synced to the disk before they are acknowledged.
    sync: bool,
    /// Makes temporary file names unique within this process (the pid makes them
    /// unique across processes).
    tmp_counter: AtomicU64,
    /// The lock stripes' files, opened once. The mutex excludes this process's
    /// threads (they share one open file, and `flock` does not exclude its own
    /// holder); the `flock` on the file then excludes other processes.
    stripes: Box<[Mutex<Option<File>>]>,
}

/// Holds a stripe: its mutex and its `flock`.
struct StripeGuard<'a>(MutexGuard<'a, Option<File>>);

impl Drop for StripeGuard<'_> {
    fn drop(&mut self) {
        if let Some(file) = self.0.as_ref() {
            // Unlocking an flock we hold cannot fail in a way we could act on;
            // should it, closing the file (on drop of the store) releases it.
            let _ = fs4::FileExt::unlock(file);
        }
    }
}

impl FsDocumentStore {
    /// Opens (creating if needed) the store under `root/sessions`. Blocks on
    /// creating the directories: call it at startup.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let dir = root.as_ref().join("sessions");
        create_private_dir(&dir.join("locks"))
            .map_err(|err| Error::backend(BACKEND, "open", err))?;
        Ok(FsDocumentStore {
            inner: Arc::new(Inner::new(dir, true)),
        })
    }

    /// Whether a write is synced to the disk (`fsync` of the file and of its
    /// directory) before it is acknowledged. Default: on, so an acknowledged
    /// write survives a power cut or a kernel crash. Off, it still survives any
    /// crash of the process (`kill -9` included: the data is in the kernel's page
    /// cache), which is what object_store's `LocalFileSystem` promises; writes
    /// are then about ten times faster on a typical disk.
    pub fn sync(self, sync: bool) -> Self {
        FsDocumentStore {
            inner: Arc::new(Inner::new(self.inner.dir.clone(), sync)),
        }
    }

    /// The directory documents live in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }
}

/// Runs blocking file I/O off the async threads.
async fn blocking<T, F>(operation: &'static str, f: F) -> Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(|err| Error::backend(BACKEND, operation, err)),
        Err(join) => Err(Error::backend(BACKEND, operation, join)),
    }
}

/// Creates `path` and its missing parents, readable by this user only.
fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Options that create a file readable and writable by this user only.
fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

fn etag_of(body: &[u8]) -> Etag {
    let digest = Sha256::digest(body);
    Etag(digest[..16].iter().map(|b| format!("{b:02x}")).collect())
}

impl Inner {
    fn new(dir: PathBuf, sync: bool) -> Self {
        Inner {
            dir,
            sync,
            tmp_counter: AtomicU64::new(0),
            stripes: (0..256).map(|_| Mutex::new(None)).collect(),
        }
    }

    fn prefix(key: &SessionKey) -> String {
        format!("{:02x}", key.as_bytes()[0])
    }

    fn path(&self, key: &SessionKey) -> PathBuf {
        self.dir.join(Self::prefix(key)).join(format!("{key}.json"))
    }

    /// Takes the key's lock stripe, until the guard is dropped.
    fn lock(&self, key: &SessionKey) -> io::Result<StripeGuard<'_>> {
        let stripe = &self.stripes[usize::from(key.as_bytes()[0])];
        // A panic while holding a stripe leaves no state behind the mutex but
        // the open file, which stays valid.
        let mut guard = stripe.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            let path = self
                .dir
                .join("locks")
                .join(format!("{}.lock", Self::prefix(key)));
            let file = private_file().create(true).truncate(false).open(path)?;
            *guard = Some(file);
        }
        if let Some(file) = guard.as_ref() {
            // Called through the trait: std's inherent `File::lock` is newer than our MSRV.
            fs4::FileExt::lock(file)?;
        }
        Ok(StripeGuard(guard))
    }

    fn read(&self, key: &SessionKey) -> io::Result<Option<Document>> {
        match fs::read(self.path(key)) {
            Ok(body) => Ok(Some(Document {
                etag: etag_of(&body),
                body,
            })),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn put(
        &self,
        key: &SessionKey,
        body: &[u8],
        condition: Option<&Etag>,
    ) -> io::Result<PutOutcome> {
        let _lock = self.lock(key)?;
        let current = self.read(key)?.map(|doc| doc.etag);
        if current.as_ref() != condition {
            return Ok(PutOutcome::Conflict);
        }
        let path = self.path(key);
        let parent = path.parent().unwrap_or(&self.dir);
        let tmp = parent.join(format!(
            ".{key}.{}.{}.tmp",
            std::process::id(),
            self.tmp_counter.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let create = || private_file().create_new(true).open(&tmp);
            let mut file = match create() {
                Err(err) if err.kind() == io::ErrorKind::NotFound => {
                    // The first document of this prefix: make its directory.
                    create_private_dir(parent)?;
                    create()?
                }
                other => other?,
            };
            file.write_all(body)?;
            if self.sync {
                // Data reaches the disk before the name points at it, so a power
                // cut leaves the old document or the new one, never an empty file.
                file.sync_all()?;
            }
            fs::rename(&tmp, &path)?;
            if self.sync {
                // The rename itself is durable only once the directory is synced.
                File::open(parent)?.sync_all()?;
            }
            Ok(())
        })();
        if let Err(err) = written {
            let _ = fs::remove_file(&tmp);
            return Err(err);
        }
        Ok(PutOutcome::Written(etag_of(body)))
    }

    /// Writes a copy of `body` into the quarantine directory; returns its path.
    fn quarantine(&self, key: &SessionKey, body: &[u8]) -> io::Result<PathBuf> {
        let dir = self.dir.join("quarantine");
        create_private_dir(&dir)?;
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        // `create_new` never overwrites an earlier copy: two copies of one key
        // in one millisecond get a counter.
        let mut n = 0u32;
        let (path, mut file) = loop {
            let name = match n {
                0 => format!("{key}.{millis}.json"),
                n => format!("{key}.{millis}-{n}.json"),
            };
            let path = dir.join(name);
            match private_file().create_new(true).open(&path) {
                Ok(file) => break (path, file),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(err) => return Err(err),
            }
        };
        file.write_all(body)?;
        // The caller replaces the original once this returns: the copy must be
        // on the disk first, whatever `sync` says.
        file.sync_all()?;
        File::open(&dir)?.sync_all()?;
        Ok(path)
    }

    fn delete(&self, key: &SessionKey, etag: Option<&Etag>) -> io::Result<bool> {
        let _lock = self.lock(key)?;
        let Some(current) = self.read(key)? else {
            return Ok(false);
        };
        if etag.is_some_and(|etag| *etag != current.etag) {
            return Ok(false);
        }
        let path = self.path(key);
        fs::remove_file(&path)?;
        if let (true, Some(parent)) = (self.sync, path.parent()) {
            File::open(parent)?.sync_all()?;
        }
        Ok(true)
    }

    fn list(&self) -> io::Result<Vec<Listed>> {
        let mut found = Vec::new();
        for shard in fs::read_dir(&self.dir)? {
            let shard = shard?;
            let name = shard.file_name();
            let is_shard = name.len() == 2
                && name
                    .to_str()
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_hexdigit()));
            if !is_shard || !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(shard.path())? {
                let entry = entry?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.starts_with('.') && name.ends_with(".tmp") {
                    remove_if_stale(&entry);
                    continue;
                }
                // Strangers are skipped.
                let Some(key) = name.strip_suffix(".json").and_then(SessionKey::parse_hex) else {
                    continue;
                };
                match entry.metadata().and_then(|meta| meta.modified()) {
                    Ok(modified) => found.push(Listed { key, modified }),
                    // Deleted since the directory was read.
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                    Err(err) => return Err(err),
                }
            }
        }
        Ok(found)
    }
}

/// A temporary file older than this was left by a process that died mid-write
/// (a live write renames or removes its file within moments).
const STALE_TMP: Duration = Duration::from_secs(60 * 60);

/// Removes a temporary file left behind by a crash; listing (the sweeper) is
/// where they are found. Failures only mean it is tried again next sweep.
fn remove_if_stale(entry: &fs::DirEntry) {
    let stale = entry
        .metadata()
        .and_then(|meta| meta.modified())
        .ok()
        .and_then(|modified| modified.elapsed().ok())
        .is_some_and(|age| age > STALE_TMP);
    if stale {
        let _ = fs::remove_file(entry.path());
    }
}

#[async_trait]
impl DocumentStore for FsDocumentStore {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<Document>> {
        let (inner, key) = (self.inner.clone(), *key);
        blocking("get", move || inner.read(&key)).await
    }

    async fn put(
        &self,
        key: &SessionKey,
        body: Vec<u8>,
        condition: PutCondition<'_>,
    ) -> Result<PutOutcome> {
        let (inner, key) = (self.inner.clone(), *key);
        let condition = match condition {
            PutCondition::Absent => None,
            PutCondition::Matches(etag) => Some(etag.clone()),
        };
        blocking("put", move || inner.put(&key, &body, condition.as_ref())).await
    }

    async fn delete(&self, key: &SessionKey, etag: Option<&Etag>) -> Result<bool> {
        let (inner, key, etag) = (self.inner.clone(), *key, etag.cloned());
        blocking("delete", move || inner.delete(&key, etag.as_ref())).await
    }

    async fn list(&self) -> Result<Vec<Listed>> {
        let inner = self.inner.clone();
        blocking("list", move || inner.list()).await
    }

    async fn quarantine(&self, key: &SessionKey, document: &Document) -> Result<String> {
        let (inner, key, body) = (self.inner.clone(), *key, document.body.clone());
        let path = blocking("quarantine", move || inner.quarantine(&key, &body)).await?;
        Ok(path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[cfg(unix)]
    #[tokio::test]
    async fn session_files_and_folders_are_private_to_the_service_user() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let root = tempfile::tempdir().unwrap();
        // The data directory itself is created too, when missing.
        let data = root.path().join("data");
        let store = FsDocumentStore::open(&data).unwrap();
        let key = SessionKey::random();
        let written = store
            .put(&key, b"{}".to_vec(), PutCondition::Absent)
            .await
            .unwrap();
        assert!(matches!(written, PutOutcome::Written(_)));
        let document = store.get(&key).await.unwrap().unwrap();
        let kept = store.quarantine(&key, &document).await.unwrap();
        let shard = store.dir().join(format!("{:02x}", key.as_bytes()[0]));
        let lock = store
            .dir()
            .join("locks")
            .join(format!("{:02x}.lock", key.as_bytes()[0]));
        for dir in [
            data.clone(),
            store.dir().to_owned(),
            store.dir().join("locks"),
            store.dir().join("quarantine"),
            shard.clone(),
        ] {
            assert_eq!(mode(&dir), 0o700, "{}", dir.display());
        }
        for file in [shard.join(format!("{key}.json")), lock, PathBuf::from(kept)] {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }

    #[tokio::test]
    async fn listing_removes_stale_temporary_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsDocumentStore::open(dir.path()).unwrap();
        let key = SessionKey::random();
        let written = store
            .put(&key, b"{}".to_vec(), PutCondition::Absent)
            .await
            .unwrap();
        assert!(matches!(written, PutOutcome::Written(_)));
        let shard = store.dir().join(format!("{:02x}", key.as_bytes()[0]));
        let (stale, fresh) = (shard.join(".a.1.0.tmp"), shard.join(".b.1.1.tmp"));
        File::create(&fresh).unwrap();
        File::create(&stale)
            .unwrap()
            .set_modified(SystemTime::now() - 2 * STALE_TMP)
            .unwrap();
        let listed = store.list().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].key, key);
        assert!(!stale.exists(), "a stale temporary file was kept");
        assert!(fresh.exists(), "a temporary file in use was removed");
    }
}
