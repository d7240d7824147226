//! The external servers tests run against, and the skip rule every test that
//! needs one follows: without the server a test skips loudly, except under
//! `CI=true`, where a missing server fails it.

use std::process::Command;

/// The Redis to test against (`HYPERSTATE_REDIS_URL`, set by
/// `scripts/services/redis.sh`); `None` (after a loud `SKIPPED` line) when it
/// is not set. Panics when it is not set and `CI=true`.
pub fn redis_url() -> Option<String> {
    match std::env::var("HYPERSTATE_REDIS_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("HYPERSTATE_REDIS_URL is not set and CI=true: Redis must run in CI")
        }
        Err(_) => {
            eprintln!(
                "SKIPPED: HYPERSTATE_REDIS_URL is not set \
                 (source scripts/services/redis.sh && start_redis, or run ./scripts/test)"
            );
            None
        }
    }
}

/// The PostgreSQL to test against (`HYPERSTATE_POSTGRES_URL`, set by
/// `scripts/services/postgres.sh`); `None` (after a loud `SKIPPED` line) when
/// it is not set. Panics when it is not set and `CI=true`.
pub fn postgres_url() -> Option<String> {
    match std::env::var("HYPERSTATE_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("HYPERSTATE_POSTGRES_URL is not set and CI=true: PostgreSQL must run in CI")
        }
        Err(_) => {
            eprintln!(
                "SKIPPED: HYPERSTATE_POSTGRES_URL is not set \
                 (source scripts/services/postgres.sh && start_postgres, or run ./scripts/test)"
            );
            None
        }
    }
}

/// The PostgreSQL URL, when it is the private server of
/// `scripts/services/postgres.sh`, which fault tests may stop and start with
/// [`pg_ctl`] (`None` after a loud skip; under `CI=true` its absence fails).
pub fn private_postgres() -> Option<String> {
    let url = postgres_url()?;
    if std::env::var("HYPERSTATE_POSTGRES_DATA").is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true needs the private server of scripts/services/postgres.sh"
        );
        eprintln!(
            "SKIPPED: not the private server of scripts/services/postgres.sh \
             (no HYPERSTATE_POSTGRES_DATA), which this test stops and starts"
        );
        return None;
    }
    Some(url)
}

/// Runs `pg_ctl ACTION` (`stop`, `start`) on the private server of
/// [`private_postgres`], as its unprivileged user.
pub fn pg_ctl(action: &str) {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let (bin, data, user, log) = (
        var("HYPERSTATE_POSTGRES_BIN"),
        var("HYPERSTATE_POSTGRES_DATA"),
        var("HYPERSTATE_POSTGRES_USER"),
        var("HYPERSTATE_POSTGRES_LOG"),
    );
    let pg_ctl = format!("{bin}/pg_ctl");
    let mut command = if user.is_empty() {
        Command::new(&pg_ctl)
    } else {
        let mut runuser = Command::new("runuser");
        runuser.args(["-u", &user, "--", &pg_ctl]);
        runuser
    };
    command.args([
        "-D", &data, "-l", &log, "-m", "fast", "-w", "-t", "30", action,
    ]);
    let status = command.status().expect("running pg_ctl");
    assert!(status.success(), "pg_ctl {action} failed");
}

/// The server stopped; started again when dropped, so a failing test never
/// leaves it down for the tests after it.
#[derive(Debug)]
pub struct PostgresStopped {
    started: bool,
}

impl PostgresStopped {
    /// Stops the server (`pg_ctl stop -m fast`).
    pub fn stop() -> PostgresStopped {
        pg_ctl("stop");
        PostgresStopped { started: false }
    }

    /// Starts it again.
    pub fn start(mut self) {
        self.started = true;
        pg_ctl("start");
    }
}

impl Drop for PostgresStopped {
    fn drop(&mut self) {
        if !self.started {
            pg_ctl("start");
        }
    }
}

/// The Redis Cluster to test against (`HYPERSTATE_REDIS_CLUSTER_URL`, one seed
/// node, set by `scripts/services/redis_cluster.sh`); `None` (after a loud
/// `SKIPPED` line) when it is not set. Panics when it is not set and `CI=true`.
pub fn redis_cluster_url() -> Option<String> {
    match std::env::var("HYPERSTATE_REDIS_CLUSTER_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "HYPERSTATE_REDIS_CLUSTER_URL is not set and CI=true: a Redis Cluster must run in CI"
            )
        }
        Err(_) => {
            eprintln!(
                "SKIPPED: HYPERSTATE_REDIS_CLUSTER_URL is not set \
                 (source scripts/services/redis_cluster.sh && start_redis_cluster, or run ./scripts/test)"
            );
            None
        }
    }
}
