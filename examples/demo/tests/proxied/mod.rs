//! The demo, in process, with its pages and rooms on a real Redis reached
//! through a fault-injecting proxy, and its sessions in a fresh data directory.

use std::time::Duration;

use hyperstate::breaker::BreakerOptions;
use hyperstate_axum::{HttpConfig, Hyperstate};
use hyperstate_conformance::fault_proxy::FaultProxy;
use hyperstate_conformance::services::redis_url;
use hyperstate_demo::DemoConfig;
use hyperstate_redis::RedisOptions;
use tempfile::TempDir;

use crate::common::Browser;

/// The running demo and the proxy between it and Redis.
pub(crate) struct ProxiedDemo {
    pub(crate) proxy: FaultProxy,
    pub(crate) state: Hyperstate,
    pub(crate) browser: Browser,
    _data: TempDir,
}

/// The demo on Redis (command and connect timeouts `timeout`) behind a fault
/// proxy, with `breakers`; `None` when there is no Redis to test against
/// (a loud skip locally, a failure under `CI=true`: see `redis_url`).
pub(crate) async fn demo_on_proxied_redis(
    timeout: Duration,
    breakers: BreakerOptions,
) -> Option<ProxiedDemo> {
    let url = redis_url()?;
    let (proxy, proxied) = FaultProxy::for_redis_url(&url).await.unwrap();
    let mut options = RedisOptions::default();
    options.response_timeout = timeout;
    options.connection_timeout = timeout;
    let (pages, rooms) = hyperstate_demo::redis_backends(&proxied, options)
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let config = DemoConfig::new(data.path())
        .pages(pages)
        .rooms(rooms)
        .breakers(Some(breakers))
        .http(HttpConfig::default().secure_cookie(false));
    let state = hyperstate_demo::hyperstate(&config).unwrap();
    let browser = Browser::new(hyperstate_demo::router(&state));
    Some(ProxiedDemo {
        proxy,
        state,
        browser,
        _data: data,
    })
}
