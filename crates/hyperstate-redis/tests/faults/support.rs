//! Shared by the fault tests: a Redis connection that runs through a
//! [`FaultProxy`], short timeouts, a hang guard, and the error they expect.

use std::fmt::Debug;
use std::future::Future;
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
