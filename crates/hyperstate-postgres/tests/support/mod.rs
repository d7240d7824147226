//! The private server of `scripts/services/postgres.sh`, which the fault tests
//! stop and start with `pg_ctl`.

#![allow(dead_code)] // each test binary uses part of it

use std::process::Command;

use hyperstate_conformance::services::postgres_url;

/// The server's URL, when it is the private one this test may stop (`None`
/// after a loud skip; under `CI=true` its absence fails the test).
pub(crate) fn private_server() -> Option<String> {
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

/// Runs `pg_ctl ACTION` on the private server, as its unprivileged user.
pub(crate) fn pg_ctl(action: &str) {
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
pub(crate) struct Stopped {
    started: bool,
}

impl Stopped {
    pub(crate) fn stop() -> Stopped {
        pg_ctl("stop");
        Stopped { started: false }
    }

    pub(crate) fn start(mut self) {
        self.started = true;
        pg_ctl("start");
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if !self.started {
            pg_ctl("start");
        }
    }
}
