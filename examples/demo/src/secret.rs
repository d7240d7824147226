//! The server secret behind session storage keys.
//!
//! Production sets `HYPERSTATE_SESSION_SECRET` (64+ hex digits, the same on
//! every node). Without it the demo generates one on first start and keeps it
//! in its data directory, so sessions survive restarts on that machine; a
//! warning says so, because a secret on the same disk as the data protects little.

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use hyperstate::session::SessionSecret;

const FILE: &str = "session-secret";

/// Why the secret could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The configured or stored secret is not acceptable.
    #[error("the session secret {origin} is invalid")]
    Invalid {
        /// Where it came from.
        origin: String,
        /// Why.
        #[source]
        source: hyperstate::Error,
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

/// The configured secret (hex), or the development default in `data_dir`.
pub(crate) fn resolve(
    configured: Option<&str>,
    data_dir: &Path,
) -> Result<SessionSecret, SecretError> {
    if let Some(hex) = configured {
        return SessionSecret::from_hex(hex).map_err(|source| SecretError::Invalid {
            origin: "from HYPERSTATE_SESSION_SECRET".into(),
            source,
        });
    }
    let path = data_dir.join(FILE);
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

/// Generates and stores a secret. Two processes starting at once on a fresh
/// directory must end up with the same secret: each writes a private temporary
/// file and hard-links it into place, which fails for all but the first; the
/// others read the winner's.
fn create(data_dir: &Path, path: &Path) -> io::Result<SessionSecret> {
    let mut private_dir = fs::DirBuilder::new();
    private_dir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut private_dir, 0o700);
    private_dir.create(data_dir)?;
    let secret = SessionSecret::generate();
    let tmp = data_dir.join(format!(".{FILE}.{}", std::process::id()));
    {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(secret.to_hex().as_bytes())?;
        file.sync_all()?;
    }
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_development_secret_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = resolve(None, dir.path()).unwrap();
        let second = resolve(None, dir.path()).unwrap();
        assert_eq!(first, second);
        let configured = SessionSecret::generate();
        assert_eq!(
            resolve(Some(&configured.to_hex()), dir.path()).unwrap(),
            configured
        );
        assert!(matches!(
            resolve(Some("abc"), dir.path()),
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
        resolve(None, &data).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join(FILE)), 0o600);
    }
}
