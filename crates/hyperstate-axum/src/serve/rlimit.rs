//! The open-file limit: every connection is a file descriptor, so the total
//! connection cap must stay below it, or `accept` fails with "too many open
//! files" and the server stops answering everyone.

/// The soft and hard open-file limits (`None`: unlimited, or unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileLimit {
    pub(crate) soft: Option<u64>,
    pub(crate) hard: Option<u64>,
}

/// Raises the soft open-file limit to the hard one when `raise`, and returns
/// the limits in force afterwards. Both are logged.
#[cfg(unix)]
pub(crate) fn raise_file_limit(raise: bool) -> FileLimit {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

    let before = getrlimit(Resource::Nofile);
    if raise && before.current != before.maximum {
        let wanted = Rlimit {
            current: before.maximum,
            maximum: before.maximum,
        };
        if let Err(err) = setrlimit(Resource::Nofile, wanted) {
            tracing::warn!(error = %err, "cannot raise the open-file limit");
        }
    }
    let after = getrlimit(Resource::Nofile);
    let limit = FileLimit {
        soft: after.current,
        hard: after.maximum,
    };
    tracing::info!(
        soft = ?limit.soft,
        hard = ?limit.hard,
        was = ?before.current,
        "open-file limit"
    );
    limit
}

/// Elsewhere the limit is not known: the configured cap applies as set.
#[cfg(not(unix))]
pub(crate) fn raise_file_limit(_raise: bool) -> FileLimit {
    FileLimit {
        soft: None,
        hard: None,
    }
}

/// The total connection cap: `wanted`, but at most the soft limit minus
/// `reserved` descriptors (and at least one connection).
pub(crate) fn connection_cap(wanted: usize, limit: FileLimit, reserved: usize) -> usize {
    let Some(soft) = limit.soft else {
        return wanted.max(1);
    };
    let room = usize::try_from(soft)
        .unwrap_or(usize::MAX)
        .saturating_sub(reserved);
    wanted.min(room).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_file_limit() {
        let limit = FileLimit {
            soft: Some(1024),
            hard: Some(4096),
        };
        assert_eq!(connection_cap(10_000, limit, 128), 896);
        assert_eq!(connection_cap(100, limit, 128), 100);
        assert_eq!(
            connection_cap(
                10,
                FileLimit {
                    soft: Some(50),
                    hard: None
                },
                128
            ),
            1
        );
        let unlimited = FileLimit {
            soft: None,
            hard: None,
        };
        assert_eq!(connection_cap(10_000, unlimited, 128), 10_000);
    }

    #[test]
    fn raising_leaves_soft_at_hard() {
        let limit = raise_file_limit(true);
        assert_eq!(limit.soft, limit.hard);
    }
}
