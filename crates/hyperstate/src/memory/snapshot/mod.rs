//! Snapshots of the memory backends, so a graceful restart keeps pages and rooms.
//!
//! On shutdown a memory store writes what it holds to one file in a data
//! directory (`pages.snapshot`, `rooms.snapshot`); on start it reads it back and
//! renames it, so the same state is never loaded twice. Between two snapshots
//! nothing is written: a crash (`kill -9`, power loss) keeps only what the last
//! snapshot held — for the memory backends, nothing newer than the last
//! graceful shutdown.
//!
//! A file that is missing starts the store empty. A file that is unreadable,
//! from another format version, or corrupt is moved aside (kept for
//! inspection), logged, and the store starts empty: a bad snapshot never
//! fails a start.

mod file;
mod format;

pub(super) use file::{read_lines, write_lines};
pub(super) use format::{Header, PageRecord, RoomRecord, from_hex, to_hex};

use std::io;
use std::path::Path;

/// What one snapshot save or load did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotStats {
    /// Pages or rooms written or restored.
    pub records: usize,
    /// Records left out: expired, or past the store's byte budget.
    pub skipped: usize,
    /// Size of the snapshot file in bytes.
    pub bytes: u64,
}

/// A store whose state lives in process memory and can be written to a data
/// directory on shutdown and read back on start.
///
/// Backends whose state outlives the process (Redis, PostgreSQL) do not
/// implement it; [`PageStore::persist`](crate::page::PageStore::persist) and
/// [`RoomStore::persist`](crate::room::RoomStore::persist) return `None` there.
pub trait Persist: Send + Sync {
    /// Writes the store's state into `dir` (created 0700 if missing):
    /// temporary file, fsync, rename, directory fsync.
    fn save_snapshot(&self, dir: &Path) -> io::Result<SnapshotStats>;

    /// Restores the state saved in `dir`, if any. Never fails: a bad file is
    /// moved aside and logged, and the store starts empty.
    fn load_snapshot(&self, dir: &Path) -> SnapshotStats;
}
