//! The server secret behind session storage keys, and its development default.
//!
//! Production sets `HYPERSTATE_SESSION_SECRET` (64+ hex digits, the same on
//! every node). Without it a secret is generated on first start and kept in
//! the data directory, so sessions survive restarts on that machine; a
//! warning says so, because a secret on the same disk as the data protects little.
//!
//! Browser-id cookies are signed with a key derived from the session secret,
//! unless `HYPERSTATE_BROWSER_ID_SECRETS` lists secrets of their own
//! (comma-separated hex, newest first: the newest signs, all verify). To rotate
//! the cookie key without moving any session, list a new secret first and the
//! old one (at first: the session secret) after it; drop the old one after a
//! cookie lifetime.

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use crate::identity::{BrowserIdKey, BrowserIdKeys};
use crate::session::SessionSecret;

/// The environment variable that holds the session secret, as hex.
pub const SESSION_SECRET_ENV: &str = "HYPERSTATE_SESSION_SECRET";

/// The environment variable that lists browser-id secrets (see [`browser_id_keys`]).
pub const BROWSER_ID_SECRETS_ENV: &str = "HYPERSTATE_BROWSER_ID_SECRETS";

/// The file in the data directory that keeps the development secret.
pub const DEV_SECRET_FILE: &str = "session-secret";

/// Why the secret could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The configured or stored secret is not acceptable.
    #[error("the session secret {origin} is invalid")]
    Invalid {
        /// Where it came from.
        origin: String,
        /// Why.
        #[source]
        source: crate::Error,
    },
    /// The development secret could not be read or written.
    #[error("cannot keep the development session secret in {path}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// The configured secret (hex, e.g. the value of [`SESSION_SECRET_ENV`]), or
/// the development default kept in `data_dir`: generated on first use into a
/// private file (mode 0600 in a 0700 directory), read back on later starts,
/// with a warning each time.
pub fn session_secret(
    configured: Option<&str>,
    data_dir: &Path,
) -> Result<SessionSecret, SecretError> {
    if let Some(hex) = configured {
        return SessionSecret::from_hex(hex).map_err(|source| SecretError::Invalid {
            origin: format!("from {SESSION_SECRET_ENV}"),
            source,
        });
    }
    let path = data_dir.join(DEV_SECRET_FILE);
    let io_err = |source| SecretError::Io {
        path: path.display().to_string(),
        source,
    };
    let secret = match fs::read_to_string(&path) {
        Ok(text) => SessionSecret::from_hex(&text).map_err(|source| SecretError::Invalid {
            origin: format!("in {}", path.display()),
            source,
        })?,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            create(data_dir, &path).map_err(io_err)?
        }
        Err(err) => return Err(io_err(err)),
    };
    tracing::warn!(
        path = %path.display(),
        "using the development session secret kept in the data directory; \
         set HYPERSTATE_SESSION_SECRET (the same on every node) in production"
    );
    Ok(secret)
}

/// Browser-id keys from a list like [`BROWSER_ID_SECRETS_ENV`]'s:
/// comma-separated hex secrets, newest first.
pub fn browser_id_keys(configured: &str) -> Result<BrowserIdKeys, SecretError> {
    let mut keys: Option<BrowserIdKeys> = None;
    for (position, hex) in configured.split(',').enumerate() {
        let key = BrowserIdKey::from_hex(hex).map_err(|source| SecretError::Invalid {
            origin: format!("number {} in HYPERSTATE_BROWSER_ID_SECRETS", position + 1),
            source,
        })?;
        keys = Some(match keys {
            None => BrowserIdKeys::new(key),
            Some(keys) => keys.with_previous(key),
        });
    }
    // `split` yields at least one item, so an empty list failed above.
    keys.ok_or_else(|| SecretError::Invalid {
        origin: "in HYPERSTATE_BROWSER_ID_SECRETS".into(),
        source: crate::Error::InvalidSecret { reason: "empty" },
    })
}

/// Generates and stores a secret. Two processes starting at once on a fresh
/// directory must end up with the same secret: each writes a private temporary
/// file and hard-links it into place, which fails for all but the first; the
/// others read the winner's.
fn create(data_dir: &Path, path: &Path) -> io::Result<SessionSecret> {
    create_with(data_dir, path, |file, bytes| {
        file.write_all(bytes)?;
        file.sync_all()
    })
}

/// [`create`], writing the temporary file with `write` (tests make it fail).
fn create_with(
    data_dir: &Path,
    path: &Path,
    write: impl FnOnce(&mut fs::File, &[u8]) -> io::Result<()>,
) -> io::Result<SessionSecret> {
    let mut private_dir = fs::DirBuilder::new();
    private_dir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut private_dir, 0o700);
    private_dir.create(data_dir)?;
    let secret = SessionSecret::generate();
    // Removed however this function ends: a failed write (a full disk) must not
    // leave an empty secret file behind.
    let tmp = RemovedOnDrop(data_dir.join(format!(".{DEV_SECRET_FILE}.{}", std::process::id())));
    {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp.0)?;
        write(&mut file, secret.to_hex().as_bytes())?;
    }
    let linked = fs::hard_link(&tmp.0, path);
    drop(tmp);
    match linked {
        Ok(()) => Ok(secret),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            let text = fs::read_to_string(path)?;
            SessionSecret::from_hex(&text)
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))
        }
        Err(err) => Err(err),
    }
}

/// A temporary file, deleted when this goes out of scope.
struct RemovedOnDrop(std::path::PathBuf);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        // Absent already (never created) is fine; anything else is left for the
        // next start, which overwrites a file of its own pid.
        let _ = fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_development_secret_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = session_secret(None, dir.path()).unwrap();
        let second = session_secret(None, dir.path()).unwrap();
        assert_eq!(first, second);
        let configured = SessionSecret::generate();
        assert_eq!(
            session_secret(Some(&configured.to_hex()), dir.path()).unwrap(),
            configured
        );
        assert!(matches!(
            session_secret(Some("abc"), dir.path()),
            Err(SecretError::Invalid { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn the_development_secret_and_its_directory_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        session_secret(None, &data).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join(DEV_SECRET_FILE)), 0o600);
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEV_SECRET_FILE);
        let failed = create_with(dir.path(), &path, |_, _| {
            Err(io::Error::new(io::ErrorKind::StorageFull, "no space left"))
        });
        assert_eq!(failed.unwrap_err().kind(), io::ErrorKind::StorageFull);
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }

    #[test]
    fn browser_id_secrets_are_a_list_newest_first() {
        let (new, old) = (SessionSecret::generate(), SessionSecret::generate());
        let keys = browser_id_keys(&format!("{},{}", new.to_hex(), old.to_hex())).unwrap();
        assert_eq!(keys.len(), 2);
        let id = crate::BrowserId::generate();
        let signed_by_old = BrowserIdKeys::new(BrowserIdKey::from_session_secret(&old))
            .sign(&id, std::time::SystemTime::now());
        assert!(!keys.verify(&signed_by_old).unwrap().by_newest_key);
        for bad in ["", "abc", &format!("{},", new.to_hex())] {
            assert!(
                matches!(browser_id_keys(bad), Err(SecretError::Invalid { .. })),
                "{bad:?}"
            );
        }
    }
}
