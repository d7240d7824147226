//! The server's resident memory and open files, sampled from /proc while an
//! attack runs (Linux only; zero elsewhere).

use std::time::Duration;

use tokio::sync::watch;

/// Peaks seen while sampling.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Peaks {
    pub(crate) rss_kib: u64,
    pub(crate) open_fds: usize,
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| dir.count())
        .unwrap_or(0)
}

/// Samples `pid` every 100 ms until `stop` turns true.
pub(crate) async fn sample(pid: u32, mut stop: watch::Receiver<bool>) -> Peaks {
    let mut peaks = Peaks::default();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        peaks.rss_kib = peaks.rss_kib.max(rss_kib(pid));
        peaks.open_fds = peaks.open_fds.max(open_fds(pid));
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return peaks,
        }
    }
}
