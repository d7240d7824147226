//! Two nodes caching sessions, coherent through a real Redis, over one real
//! S3-protocol server: no read ever returns a value older than the last write
//! acknowledged before the read began, checked on a recorded history. And with
//! Redis unreachable, reads come from the store, never from the cache.
//!
//! Needs `HYPERSTATE_REDIS_URL` and `HYPERSTATE_S3_ENDPOINT` /
//! `HYPERSTATE_S3_BUCKET` (scripts/services/redis.sh and s3.sh); without them
//! the tests skip loudly, except under `CI=true`, where they fail.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hyperstate::session::{
    DocumentStore, Revision, RevisionRegister, SessionCoherence, SessionKey, SessionOptions,
    SessionSecret, Sessions, View,
};
use hyperstate::{BrowserId, Supervisor};
use hyperstate_conformance::fault_proxy::{FaultProxy, NetFault};
use hyperstate_conformance::services::redis_url;
use hyperstate_redis::{Redis, RedisOptions, RedisRevisionRegister};
use hyperstate_s3::S3DocumentStore;

/// Sequential rounds: a write on a random node, then a read on the other.
const ROUNDS: usize = 1000;
/// Writes per writer in the concurrent phase.
const CONCURRENT_WRITES: u64 = 60;
/// The keys of the concurrent phase: writer `k` counts `KEYS[k]` up.
const KEYS: [&str; 2] = ["a", "b"];

struct Services {
    redis: String,
    s3_endpoint: String,
    s3_bucket: String,
}

fn services() -> Option<Services> {
    let redis = redis_url()?;
    let s3 = (
        std::env::var("HYPERSTATE_S3_ENDPOINT"),
        std::env::var("HYPERSTATE_S3_BUCKET"),
    );
    match s3 {
        (Ok(s3_endpoint), Ok(s3_bucket)) => Some(Services {
            redis,
            s3_endpoint,
            s3_bucket,
        }),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("HYPERSTATE_S3_ENDPOINT / HYPERSTATE_S3_BUCKET are not set and CI=true")
        }
        _ => {
            eprintln!("SKIPPED: no S3 server (source scripts/services/s3.sh && start_s3)");
            None
        }
    }
}

impl Services {
    fn store(&self, prefix: &str) -> Arc<dyn DocumentStore> {
        Arc::new(
            S3DocumentStore::builder(self.s3_bucket.clone())
                .endpoint(self.s3_endpoint.clone())
                .prefix(prefix.to_owned())
                .build()
                .expect("configuring the S3 store"),
        )
    }

    /// A register with its own connection (as another node has), under a key
    /// prefix of its own test.
    async fn register(&self, url: &str, prefix: &str) -> RedisRevisionRegister {
        let options = RedisOptions::default().key_prefix(format!("hs-test:{prefix}:"));
        let mut options = options;
        options.response_timeout = Duration::from_millis(500);
        options.connection_timeout = Duration::from_millis(500);
        RedisRevisionRegister::new(Redis::connect(url, options).await.expect("Redis"))
    }
}

fn unique(test: &str) -> String {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).expect("randomness");
    format!("coherence-{test}-{}", u64::from_le_bytes(random))
}

fn node(
    store: Arc<dyn DocumentStore>,
    register: Arc<dyn RevisionRegister>,
    supervisor: &Supervisor,
) -> Sessions {
    Sessions::with_coherence(
        store,
        SessionSecret::from_bytes([9u8; 32]).expect("32 bytes"),
        SessionOptions::default(),
        SessionCoherence::Shared(register),
        supervisor,
    )
}

/// A register whose commits wait a pseudo-random while between their PUT and
/// their record, so that records arrive out of order.
#[derive(Debug)]
struct DelayedRecords {
    inner: RedisRevisionRegister,
    seed: AtomicU64,
}

#[async_trait]
impl RevisionRegister for DelayedRecords {
    fn backend_name(&self) -> &'static str {
        "delayed redis"
    }
    async fn latest(&self, key: &SessionKey) -> hyperstate::Result<Option<Revision>> {
        self.inner.latest(key).await
    }
    async fn record(&self, key: &SessionKey, revision: &Revision) -> hyperstate::Result<()> {
        let step = self
            .seed
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(step >> 60)).await;
        self.inner.record(key, revision).await
    }
    async fn forget(&self, key: &SessionKey) -> hyperstate::Result<()> {
        self.inner.forget(key).await
    }
    async fn lease(&self, task: &str, period: Duration) -> hyperstate::Result<bool> {
        self.inner.lease(task, period).await
    }
}

/// A tiny deterministic generator: the test needs variety, not secrecy.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_node_is_read_on_the_other_in_every_round() {
    let Some(services) = services() else { return };
    let ns = unique("rounds");
    let store = services.store(&ns);
    let supervisor = Supervisor::new();
    let nodes = [
        node(
            store.clone(),
            Arc::new(services.register(&services.redis, &ns).await),
            &supervisor,
        ),
        node(
            store,
            Arc::new(services.register(&services.redis, &ns).await),
            &supervisor,
        ),
    ];
    let browser = BrowserId::generate();
    let view = View::new("settings");
    let mut random = 0x2545_F491_4F6C_DD1D;
    for round in 0..ROUNDS {
        let writer = (next(&mut random) % 2) as usize;
        let value = next(&mut random);
        let on = |n: usize| nodes[n].session(&browser, None).view(&view);
        on(writer).put("v", &value).await.unwrap();
        // The first read on the other node finds its copy stale and reads
        // the store; the second is answered from its refreshed cache.
        for _ in 0..2 {
            let read: u64 = on(1 - writer).get_or("v", 0).await.unwrap();
            assert_eq!(
                read,
                value,
                "round {round}: node {} read a stale value",
                1 - writer
            );
        }
    }
    let hits: u64 = nodes.iter().map(|n| n.stats().cache_hits).sum();
    assert!(
        hits >= ROUNDS as u64,
        "{hits} cache hits in {ROUNDS} rounds"
    );
    supervisor.shutdown().await;
}

/// One operation of the history: when it began and ended on one shared
/// logical clock, and the value it wrote or read.
#[derive(Debug, Clone, Copy)]
struct Op {
    began: u64,
    ended: u64,
    key: usize,
    value: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_with_delayed_records_never_yield_a_stale_read() {
    let Some(services) = services() else { return };
    let ns = unique("concurrent");
    let store = services.store(&ns);
    let supervisor = Supervisor::new();
    let mut nodes = Vec::new();
    for n in 0..2u64 {
        let register = DelayedRecords {
            inner: services.register(&services.redis, &ns).await,
            seed: AtomicU64::new(n + 1),
        };
        nodes.push(node(store.clone(), Arc::new(register), &supervisor));
    }
    let browser = BrowserId::generate();
    let view = View::new("counters");
    let clock = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));

    // Writer `k` runs on node `k` and counts key `k` up, one write at a time:
    // per key, a larger value is a later write.
    let mut writers = tokio::task::JoinSet::new();
    for (k, key) in KEYS.iter().enumerate() {
        let handle = nodes[k].session(&browser, None).view(&view);
        let (clock, done) = (clock.clone(), done.clone());
        writers.spawn(async move {
            let mut history = Vec::new();
            for value in 1..=CONCURRENT_WRITES {
                let began = clock.fetch_add(1, Ordering::SeqCst);
                match handle.put(*key, &value).await {
                    Ok(()) => {}
                    // Two nodes writing one session flat out can lose every
                    // compare-and-swap of a write: then nothing was written,
                    // which the history leaves out.
                    Err(hyperstate::Error::SessionConflict { .. }) => continue,
                    Err(err) => panic!("a write failed: {err}"),
                }
                let ended = clock.fetch_add(1, Ordering::SeqCst);
                history.push(Op {
                    began,
                    ended,
                    key: k,
                    value,
                });
            }
            done.fetch_add(1, Ordering::SeqCst);
            history
        });
    }
    // Readers on both nodes read both keys until the writers are done.
    let mut readers = tokio::task::JoinSet::new();
    for node in &nodes {
        let handle = node.session(&browser, None).view(&view);
        let (clock, done) = (clock.clone(), done.clone());
        readers.spawn(async move {
            let mut history = Vec::new();
            while done.load(Ordering::SeqCst) < 2 {
                let began = clock.fetch_add(1, Ordering::SeqCst);
                let state = handle.load().await.expect("a read failed");
                let ended = clock.fetch_add(1, Ordering::SeqCst);
                for (k, key) in KEYS.iter().enumerate() {
                    let value = state.get_or(key, 0u64).unwrap();
                    history.push(Op {
                        began,
                        ended,
                        key: k,
                        value,
                    });
                }
            }
            history
        });
    }
    let writes: Vec<Op> = writers.join_all().await.into_iter().flatten().collect();
    let reads: Vec<Op> = readers.join_all().await.into_iter().flatten().collect();
    assert!(reads.len() > 10, "too few reads to check: {}", reads.len());
    assert!(
        writes.len() as u64 > CONCURRENT_WRITES,
        "too few writes acknowledged to check: {}",
        writes.len()
    );

    // The checker: a read must return at least the last value of its key
    // acknowledged before the read began, and no value not yet written.
    for read in &reads {
        let floor = writes
            .iter()
            .filter(|w| w.key == read.key && w.ended < read.began)
            .map(|w| w.value)
            .max()
            .unwrap_or(0);
        let ceiling = writes
            .iter()
            .filter(|w| w.key == read.key && w.began < read.ended)
            .map(|w| w.value)
            .max()
            .unwrap_or(0);
        assert!(
            (floor..=ceiling).contains(&read.value),
            "stale or invented read of {}: {read:?}, acknowledged before it: {floor}, begun before its end: {ceiling}",
            KEYS[read.key]
        );
    }
    supervisor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_unreachable_reads_come_from_the_store() {
    let Some(services) = services() else { return };
    let ns = unique("outage");
    let store = services.store(&ns);
    let supervisor = Supervisor::new();
    let (proxy, proxied) = FaultProxy::for_redis_url(&services.redis)
        .await
        .expect("a proxy");
    let a = node(
        store.clone(),
        Arc::new(services.register(&services.redis, &ns).await),
        &supervisor,
    );
    let b = node(
        store,
        Arc::new(services.register(&proxied, &ns).await),
        &supervisor,
    );
    let browser = BrowserId::generate();
    let view = View::new("settings");
    a.session(&browser, None)
        .view(&view)
        .put("theme", &"dark")
        .await
        .unwrap();
    // B reads twice: the second is served from its cache.
    for _ in 0..2 {
        let theme: String = b
            .session(&browser, None)
            .view(&view)
            .get_or("theme", String::new())
            .await
            .unwrap();
        assert_eq!(theme, "dark");
    }
    assert!(b.stats().cache_hits >= 1, "{:?}", b.stats());

    // A changes the theme; B loses Redis. Its cached "dark" is the very copy
    // it must not trust now.
    a.session(&browser, None)
        .view(&view)
        .put("theme", &"light")
        .await
        .unwrap();
    for fault in [NetFault::Refuse, NetFault::Blackhole] {
        proxy.set(fault);
        let hits = b.stats().cache_hits;
        let theme: String = b
            .session(&browser, None)
            .view(&view)
            .get_or("theme", String::new())
            .await
            .unwrap_or_else(|err| panic!("{fault:?}: {err}"));
        assert_eq!(theme, "light", "{fault:?}: a stale cached read");
        assert_eq!(b.stats().cache_hits, hits, "{fault:?}");
        assert!(b.stats().register_errors > 0, "{fault:?}");
        // A write on B cannot tell the other nodes: it fails (maybe written).
        let err = b
            .session(&browser, None)
            .view(&view)
            .put("font", &"serif")
            .await
            .expect_err("a write that could not be recorded was acknowledged");
        assert!(err.to_string().contains("redis"), "{fault:?}: {err}");
    }
    proxy.set(NetFault::PassThrough);
    supervisor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_on_one_redis_sweep_one_at_a_time() {
    let Some(services) = services() else { return };
    let ns = unique("sweep");
    let counting = Arc::new(hyperstate_conformance::counting::CountingStore::new(
        services.store(&ns),
        Duration::ZERO,
    ));
    let supervisor = Supervisor::new();
    let mut swept = 0;
    for _ in 0..3 {
        let register = Arc::new(services.register(&services.redis, &ns).await);
        let node = node(counting.clone(), register, &supervisor);
        if node
            .sweep_leased(Duration::from_secs(60))
            .await
            .unwrap()
            .is_some()
        {
            swept += 1;
        }
    }
    assert_eq!(swept, 1, "nodes that swept within one lease");
    assert_eq!(counting.lists(), 1, "LISTs of the store");
    supervisor.shutdown().await;
}

/// Behind a circuit breaker (as `hyperstate-axum` puts it by default), a
/// blackholed Redis costs a few timeouts, then none: the breaker opens, reads
/// keep coming from the store (right, and never from the cache), and writes are
/// answered "maybe written".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_blackholed_the_register_breaker_opens_and_reads_come_from_the_store() {
    use hyperstate::breaker::{BreakerOptions, BreakerRevisionRegister, BreakerState};

    const THRESHOLD: u32 = 3;
    let Some(services) = services() else { return };
    let ns = unique("breaker");
    let store = services.store(&ns);
    let supervisor = Supervisor::new();
    let (proxy, proxied) = FaultProxy::for_redis_url(&services.redis)
        .await
        .expect("a proxy");
    let a = node(
        store.clone(),
        Arc::new(services.register(&services.redis, &ns).await),
        &supervisor,
    );
    let counted = Arc::new(CountedCalls {
        inner: services.register(&proxied, &ns).await,
        calls: AtomicU64::new(0),
    });
    let guarded = Arc::new(BreakerRevisionRegister::new(
        counted.clone(),
        BreakerOptions::default()
            .failure_threshold(THRESHOLD)
            // Longer than the test: the breaker stays open once opened.
            .cool_down(Duration::from_secs(600)),
    ));
    let breaker = guarded.breaker().clone();
    let b = node(store.clone(), guarded, &supervisor);
    let browser = BrowserId::generate();
    let view = View::new("settings");
    let read = |sessions: &Sessions| {
        let session = sessions.session(&browser, None);
        async move {
            session
                .view(&view)
                .get_or("theme", String::new())
                .await
                .unwrap()
        }
    };
    a.session(&browser, None)
        .view(&view)
        .put("theme", &"dark")
        .await
        .unwrap();
    assert_eq!(read(&b).await, "dark");
    assert_eq!(read(&b).await, "dark");
    assert!(b.stats().cache_hits >= 1, "{:?}", b.stats());
    // The copy B caches is now stale, and Redis goes silent.
    a.session(&browser, None)
        .view(&view)
        .put("theme", &"light")
        .await
        .unwrap();
    proxy.set(NetFault::Blackhole);
    let hits = b.stats().cache_hits;
    for _ in 0..THRESHOLD {
        assert_eq!(read(&b).await, "light", "a stale cached read");
    }
    assert!(
        matches!(breaker.state(), BreakerState::Open { .. }),
        "{:?}",
        breaker.state()
    );
    // Open: reads no longer reach Redis, and still come from the store.
    let calls = counted.calls.load(Ordering::SeqCst);
    let errors = b.stats().register_errors;
    for _ in 0..10 {
        assert_eq!(read(&b).await, "light", "a stale cached read");
    }
    assert_eq!(
        b.stats().cache_hits,
        hits,
        "the cache answered without Redis"
    );
    assert_eq!(b.stats().register_errors, errors + 10);
    assert_eq!(
        counted.calls.load(Ordering::SeqCst),
        calls,
        "an open breaker reached Redis"
    );
    // A write lands in the store but cannot be recorded: "maybe written".
    let err = b
        .session(&browser, None)
        .view(&view)
        .put("theme", &"sepia")
        .await
        .expect_err("a write that could not be recorded was acknowledged");
    assert!(
        matches!(
            err,
            hyperstate::Error::Backend {
                backend: "redis",
                ..
            }
        ),
        "{err:?}"
    );
    // The PUT itself landed (a node without a cache reads the store).
    let uncached = Sessions::new(
        store,
        SessionSecret::from_bytes([9u8; 32]).expect("32 bytes"),
        SessionOptions::default(),
        &supervisor,
    );
    assert_eq!(read(&uncached).await, "sepia");
    proxy.set(NetFault::PassThrough);
    supervisor.shutdown().await;
}

/// Counts the calls that reach the register it wraps.
#[derive(Debug)]
struct CountedCalls {
    inner: RedisRevisionRegister,
    calls: AtomicU64,
}

#[async_trait]
impl RevisionRegister for CountedCalls {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }
    async fn latest(&self, key: &SessionKey) -> hyperstate::Result<Option<Revision>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.latest(key).await
    }
    async fn record(&self, key: &SessionKey, revision: &Revision) -> hyperstate::Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.record(key, revision).await
    }
    async fn forget(&self, key: &SessionKey) -> hyperstate::Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.forget(key).await
    }
    async fn lease(&self, task: &str, period: Duration) -> hyperstate::Result<bool> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.lease(task, period).await
    }
}
