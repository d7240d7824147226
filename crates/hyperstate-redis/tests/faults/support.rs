//! Shared by the fault tests: a Redis connection that runs through a
//! [`FaultProxy`], short timeouts, a hang guard, and the error they expect.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hyperstate::{Error, Result};
use hyperstate_conformance::fault_proxy::{FaultProxy, NetFault};
use hyperstate_conformance::services::redis_url;
use hyperstate_redis::{Redis, RedisOptions};

/// The client's command and connect timeout in these tests.
pub(crate) const TIMEOUT: Duration = Duration::from_millis(300);
/// Longer than any operation may take, faults or not: a hang guard, not a
/// performance assertion.
pub(crate) const HANG_GUARD: Duration = Duration::from_millis(300 * 10);

/// Every fault that must make operations fail: unreachable, silent, too slow
/// (thrice the timeout), and the write that lands but whose reply is lost.
pub(crate) const FAILING: [NetFault; 4] = [
    NetFault::Refuse,
    NetFault::Blackhole,
    NetFault::Delay(Duration::from_millis(900)),
    NetFault::DropReply,
];

/// A Redis connection through a fault proxy; `None` (skipped loudly) without
/// `HYPERSTATE_REDIS_URL`.
pub(crate) async fn proxied_redis() -> Option<(FaultProxy, Redis)> {
    let url = redis_url()?;
    let (proxy, proxied) = FaultProxy::for_redis_url(&url)
        .await
        .expect("starting the fault proxy");
    let mut options = RedisOptions::default();
    options.response_timeout = TIMEOUT;
    options.connection_timeout = TIMEOUT;
    let redis = Redis::connect(&proxied, options)
        .await
        .expect("connecting through the proxy");
    Some((proxy, redis))
}

/// Awaits `work`, failing the test if it hangs past [`HANG_GUARD`].
pub(crate) async fn bounded<T>(what: &str, work: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, work)
        .await
        .unwrap_or_else(|_| panic!("{what} still had no answer after {HANG_GUARD:?}"))
}

/// Asserts that `result` is the typed error of an unavailable Redis.
pub(crate) fn assert_unavailable<T: Debug>(fault: NetFault, what: &str, result: Result<T>) {
    match result {
        // Printed for RELIABILITY.md's table (`-- --nocapture` shows it).
        Err(Error::Backend {
            backend: "redis",
            operation,
            source,
        }) => eprintln!("{fault:?}: {what} -> redis backend failed during {operation}: {source}"),
        other => panic!("{fault:?}: {what} should fail with a Redis backend error, got {other:?}"),
    }
}

/// What a key may hold after a write failed under `fault`, given its value
/// before (`old`) and the value written (`new`). The rule: an error means
/// *maybe written*. Where the fault decides it, the test pins it down.
pub(crate) fn allowed_after<'a>(fault: NetFault, old: &'a str, new: &'a str) -> Vec<&'a str> {
    match fault {
        // The request never left the proxy.
        NetFault::Refuse => vec![old],
        // The request reached Redis; only the reply was late or lost.
        NetFault::Delay(_) | NetFault::DropReply => vec![new],
        // The request was held; it is delivered (late) when the link heals,
        // unless the client closed the connection first.
        NetFault::Blackhole | NetFault::PassThrough => vec![old, new],
    }
}

/// Runs an update under `fault` and asserts it fails with the typed error and
/// ran its closure at most once: a backend error is never retried. `update`
/// gets the counter its closure must bump on every run.
pub(crate) async fn assert_update_fails_unretried<T, Fut>(
    fault: NetFault,
    update: impl FnOnce(Arc<AtomicU32>) -> Fut,
) where
    T: Debug,
    Fut: Future<Output = Result<T>>,
{
    let runs = Arc::new(AtomicU32::new(0));
    let result = bounded(&format!("{fault:?}: update"), update(runs.clone())).await;
    assert_unavailable(fault, "update", result);
    assert!(
        runs.load(Ordering::SeqCst) <= 1,
        "{fault:?}: update was retried after a backend error"
    );
}

/// Hands an update closure the moment to break the link: `now` counts one run
/// of the closure and switches [`NetFault::DropReply`] on, so the fault strikes
/// between the update's read and its compare-and-set.
#[derive(Debug, Clone)]
pub(crate) struct Strike<'a> {
    proxy: &'a FaultProxy,
    runs: Arc<AtomicU32>,
}

impl Strike<'_> {
    pub(crate) fn now(&self) {
        self.runs.fetch_add(1, Ordering::SeqCst);
        self.proxy.set(NetFault::DropReply);
    }
}

/// Runs an update whose compare-and-set reply is lost (see [`Strike`]) and
/// asserts it failed with the typed error after one run of its closure; then
/// heals the link. The caller checks what landed.
pub(crate) async fn assert_lost_reply_update_ran_once<'a, T, Fut>(
    proxy: &'a FaultProxy,
    update: impl FnOnce(Strike<'a>) -> Fut,
) where
    T: Debug,
    Fut: Future<Output = Result<T>>,
{
    let runs = Arc::new(AtomicU32::new(0));
    let strike = Strike {
        proxy,
        runs: runs.clone(),
    };
    let result = bounded("an update with a lost reply", update(strike)).await;
    assert_unavailable(NetFault::DropReply, "update", result);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the update was retried");
    assert!(proxy.replies_dropped() >= 1);
    proxy.set(NetFault::PassThrough);
}
