//! Writing and reading snapshot files: atomic replace on write, move-aside of
//! anything unreadable on read.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::SnapshotStats;
use super::format::Header;

/// A snapshot read back: its header and records.
#[derive(Debug)]
pub(crate) struct Loaded<R> {
    pub(crate) header: Header,
    pub(crate) records: Vec<R>,
    pub(crate) bytes: u64,
}

/// Writes `header` and then `records` as JSON lines to `dir/name`, replacing
/// any older snapshot only once the new one is complete on disk. Records stop
/// once the file would pass `max_bytes` (the store's own budget: a snapshot
/// never holds more than the store could); the rest count as skipped.
pub(crate) fn write_lines<R: Serialize>(
    dir: &Path,
    name: &str,
    header: &Header,
    records: impl IntoIterator<Item = R>,
    max_bytes: usize,
) -> io::Result<SnapshotStats> {
    create_private_dir(dir)?;
    let path = dir.join(name);
    let temp = dir.join(format!("{name}.tmp.{}", std::process::id()));
    let result = write_temp(&temp, header, records, max_bytes);
    let stats = match result {
        Ok(stats) => stats,
        Err(err) => {
            let _ = fs::remove_file(&temp);
            return Err(err);
        }
    };
    // The rename makes the new snapshot visible whole or not at all; the
    // directory fsync makes the rename itself survive a power loss.
    fs::rename(&temp, &path)?;
    File::open(dir)?.sync_all()?;
    Ok(stats)
}

fn write_temp<R: Serialize>(
    temp: &Path,
    header: &Header,
    records: impl IntoIterator<Item = R>,
    max_bytes: usize,
) -> io::Result<SnapshotStats> {
    let file = private_file().open(temp)?;
    let mut out = BufWriter::new(file);
    let mut stats = SnapshotStats::default();
    let mut line = serde_json::to_vec(header)?;
    line.push(b'\n');
    out.write_all(&line)?;
    let mut written = line.len();
    let mut full = false;
    for record in records {
        if full {
            stats.skipped += 1;
            continue;
        }
        line.clear();
        serde_json::to_writer(&mut line, &record)?;
        line.push(b'\n');
        if written + line.len() > max_bytes {
            full = true;
            stats.skipped += 1;
            continue;
        }
        out.write_all(&line)?;
        written += line.len();
        stats.records += 1;
    }
    let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    // The data must be on disk before the rename can point at it.
    file.sync_all()?;
    stats.bytes = written as u64;
    Ok(stats)
}

/// Reads `dir/name` as a `kind` snapshot. `None` when there is none, or when
/// it cannot be used: then it has been moved aside and a warning logged. A
/// usable file is renamed to `name.loaded`, so a crash after this start never
/// brings back the same, older state.
pub(crate) fn read_lines<R: DeserializeOwned>(
    dir: &Path,
    name: &str,
    kind: &str,
) -> Option<Loaded<R>> {
    let path = dir.join(name);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            tracing::info!(path = %path.display(), "no {kind} snapshot to restore");
            return None;
        }
        Err(err) => {
            reject(&path, kind, &format!("cannot be opened: {err}"));
            return None;
        }
    };
    match parse(file, kind) {
        Ok(loaded) => {
            if let Err(err) = fs::rename(&path, dir.join(format!("{name}.loaded"))) {
                tracing::warn!(path = %path.display(), error = %err, "could not rename a restored snapshot");
            }
            Some(loaded)
        }
        Err(reason) => {
            reject(&path, kind, &reason);
            None
        }
    }
}

fn parse<R: DeserializeOwned>(file: File, kind: &str) -> Result<Loaded<R>, String> {
    let mut lines = BufReader::new(file).lines();
    let mut bytes = 0u64;
    let mut next_line = |what: &str| -> Result<Option<String>, String> {
        match lines.next() {
            None => Ok(None),
            Some(Ok(line)) => {
                bytes += line.len() as u64 + 1;
                Ok(Some(line))
            }
            Some(Err(err)) => Err(format!("{what} unreadable: {err}")),
        }
    };
    let first = next_line("header")?.ok_or("empty file")?;
    let header: Header =
        serde_json::from_str(&first).map_err(|err| format!("bad header: {err}"))?;
    if let Some(reason) = header.mismatch(kind) {
        return Err(reason);
    }
    let mut records = Vec::new();
    let mut number = 1;
    while let Some(line) = next_line("record")? {
        number += 1;
        let record = serde_json::from_str(&line)
            .map_err(|err| format!("line {number} is corrupt or truncated: {err}"))?;
        records.push(record);
    }
    Ok(Loaded {
        header,
        records,
        bytes,
    })
}

/// Moves an unusable snapshot aside (never deletes it) and says so.
fn reject(path: &Path, kind: &str, reason: &str) {
    let aside = PathBuf::from(format!(
        "{}.bad.{}",
        path.display(),
        super::format::wall_clock_ms()
    ));
    match fs::rename(path, &aside) {
        Ok(()) => tracing::warn!(
            path = %path.display(),
            moved_to = %aside.display(),
            reason,
            "{kind} snapshot skipped: starting empty"
        ),
        Err(err) => tracing::warn!(
            path = %path.display(),
            reason,
            error = %err,
            "{kind} snapshot skipped and could not be moved aside: starting empty"
        ),
    }
}

fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}
