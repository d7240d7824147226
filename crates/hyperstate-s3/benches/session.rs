//! Durable session writes on the filesystem and S3 backends, beside one raw
//! object_store PUT to the same store, and the PUTs a burst of writes costs.
//!
//! - latency: `Sessions` writes one key and waits for the ack (one conditional
//!   PUT of the whole document), sequentially; the reference is one unconditional
//!   `ObjectStore::put` of a body of the same size to the same store, measured
//!   interleaved with it so both see the same machine load. p50 / p99 over
//!   `SAMPLES` operations each.
//! - burst: 32 concurrent writes to one session, PUTs counted by a wrapper store.
//!
//! S3 runs when `HYPERSTATE_S3_ENDPOINT` and `HYPERSTATE_S3_BUCKET` are set
//! (`scripts/test` and `scripts/bench-s3` start moto). Run:
//! `cargo bench -p hyperstate-s3 --bench session`. Criterion's own estimates
//! (means) are printed too; the percentile table is printed at the end.

#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use hyperstate::fs::FsDocumentStore;
use hyperstate::session::{
    DocumentStore, PutCondition, PutOutcome, SessionKey, SessionOptions, SessionSecret,
    SessionView, Sessions, View,
};
use hyperstate::{BrowserId, Supervisor};
use hyperstate_bench_report::{Better, Record, percentile, record};
use hyperstate_conformance::counting::CountingStore;
use hyperstate_s3::S3DocumentStore;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};

const BURST: usize = 32;
const VALUE: &str =
    "a value of about one hundred bytes, like a small form draft or a handful of UI flags.";

struct Target {
    name: &'static str,
    /// Makes a fresh document store handle (same storage).
    store: Arc<dyn Fn() -> Arc<dyn DocumentStore>>,
    /// The raw object store and where the reference PUTs go.
    raw: Arc<dyn ObjectStore>,
    raw_path: Path,
    _dir: Option<tempfile::TempDir>,
}

fn targets() -> Vec<Target> {
    let dir = tempfile::tempdir_in(std::env::current_dir().unwrap())
        .expect("a directory on the working disk");
    let root = dir.path().to_owned();
    let (fs_root, nosync_root) = (root.join("synced"), root.join("unsynced"));
    let raw: Arc<dyn ObjectStore> =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(&root).unwrap());
    let mut targets = vec![
        Target {
            name: "fs (fsync)",
            store: Arc::new(move || Arc::new(FsDocumentStore::open(&fs_root).unwrap())),
            raw: raw.clone(),
            raw_path: Path::from("raw/reference.json"),
            _dir: None,
        },
        Target {
            name: "fs (no fsync)",
            store: Arc::new(move || {
                Arc::new(FsDocumentStore::open(&nosync_root).unwrap().sync(false))
            }),
            raw,
            raw_path: Path::from("raw/reference.json"),
            _dir: Some(dir),
        },
    ];
    if let (Ok(endpoint), Ok(bucket)) = (
        std::env::var("HYPERSTATE_S3_ENDPOINT"),
        std::env::var("HYPERSTATE_S3_BUCKET"),
    ) {
        let make = move || {
            S3DocumentStore::builder(&bucket)
                .endpoint(&endpoint)
                .prefix("bench")
                .build()
                .unwrap()
        };
        let raw = make().object_store().clone();
        targets.push(Target {
            name: "s3",
            store: Arc::new(move || Arc::new(make())),
            raw,
            raw_path: Path::from("bench-raw/reference.json"),
            _dir: None,
        });
    } else {
        eprintln!("SKIPPED s3: HYPERSTATE_S3_ENDPOINT / HYPERSTATE_S3_BUCKET not set");
    }
    targets
}

/// A session view with ten keys already stored, as a settings page would have.
async fn warm_view(sessions: &Sessions) -> SessionView {
    let view = sessions
        .session(&BrowserId::generate(), None)
        .view(&View::new("bench"));
    for i in 0..10 {
        view.put(&format!("k{i}"), VALUE).await.unwrap();
    }
    view
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let samples = if quick { 3 } else { 400 };
    let bursts = if quick { 1 } else { 20 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut criterion = Criterion::default().configure_from_args();
    let mut report = Vec::new();

    for target in targets() {
        let supervisor = runtime.block_on(async { Supervisor::new() });
        let secret = SessionSecret::generate();
        let sessions = Sessions::new(
            (target.store)(),
            secret.clone(),
            SessionOptions::default(),
            &supervisor,
        );
        let view = runtime.block_on(warm_view(&sessions));
        let body_len = runtime.block_on(async {
            let doc = sessions.store().list().await.unwrap();
            let doc = sessions.store().get(&doc[0].key).await.unwrap().unwrap();
            doc.body.len()
        });
        let body = vec![b'x'; body_len];

        let mut group = criterion.benchmark_group(format!("session_write/{}", target.name));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(3));
        let mut i = 0usize;
        group.bench_function("durable write", |b| {
            b.to_async(&runtime).iter(|| {
                i += 1;
                let view = view.clone();
                async move {
                    view.put(&format!("k{}", i % 10), &format!("{VALUE}{i}"))
                        .await
                        .unwrap()
                }
            })
        });
        group.bench_function("raw object_store put", |b| {
            b.to_async(&runtime).iter(|| {
                let (raw, path, body) = (target.raw.clone(), target.raw_path.clone(), body.clone());
                async move { raw.put(&path, PutPayload::from(body)).await.unwrap() }
            })
        });
        group.finish();

        // Percentiles of the three operations, interleaved so that all see the
        // same disk and machine load (fsync latency swings with what other
        // processes write), measured from a task on the runtime's workers as a
        // request handler would run (not from `block_on`'s thread, which would
        // add a thread hop to every wake-up). `store CAS put` is the store's own
        // conditional PUT without the writer task: what the session layer adds
        // is its difference to `durable`.
        let (mut durable, mut cas, mut raw) = {
            let (view, store, raw_store, raw_path, body) = (
                view.clone(),
                (target.store)(),
                target.raw.clone(),
                target.raw_path.clone(),
                body.clone(),
            );
            runtime
                .block_on(runtime.spawn(async move {
                    let mut times = (Vec::new(), Vec::new(), Vec::new());
                    let key = SessionKey::random();
                    let mut etag = match store
                        .put(&key, body.clone(), PutCondition::Absent)
                        .await
                        .unwrap()
                    {
                        PutOutcome::Written(etag) => etag,
                        PutOutcome::Conflict => unreachable!("a random key is new"),
                    };
                    for n in 0..samples {
                        let start = Instant::now();
                        view.put(&format!("k{}", n % 10), &format!("{VALUE}{n}"))
                            .await
                            .unwrap();
                        times.0.push(start.elapsed());

                        let start = Instant::now();
                        let outcome = store
                            .put(&key, body.clone(), PutCondition::Matches(&etag))
                            .await
                            .unwrap();
                        times.1.push(start.elapsed());
                        if let PutOutcome::Written(next) = outcome {
                            etag = next;
                        }

                        let start = Instant::now();
                        raw_store
                            .put(&raw_path, PutPayload::from(body.clone()))
                            .await
                            .unwrap();
                        times.2.push(start.elapsed());
                    }
                    times
                }))
                .unwrap()
        };
        durable.sort();
        raw.sort();
        cas.sort();

        // PUTs per burst of concurrent writes to one (warm) session.
        let mut puts = Vec::new();
        runtime.block_on(async {
            for _ in 0..bursts {
                let counting = Arc::new(CountingStore::new((target.store)(), Duration::ZERO));
                let burst_sessions = Sessions::new(
                    counting.clone(),
                    secret.clone(),
                    SessionOptions::default(),
                    &supervisor,
                );
                let view = warm_view(&burst_sessions).await;
                let before = counting.puts();
                let mut tasks = tokio::task::JoinSet::new();
                for k in 0..BURST {
                    let view = view.clone();
                    tasks
                        .spawn(async move { view.put(&format!("burst{k}"), VALUE).await.unwrap() });
                }
                tasks.join_all().await;
                puts.push(counting.puts() - before);
            }
        });
        runtime.block_on(supervisor.shutdown());
        report.push((target.name, body_len, durable, cas, raw, puts));
    }

    criterion.final_summary();
    println!(
        "\nbackend | doc bytes | durable write p50 / p99 | store CAS put p50 / p99 | raw PUT p50 / p99 | p50 ratio | PUTs per {BURST}-write burst (max / mean)"
    );
    for (name, len, durable, cas, raw, puts) in report {
        let ratio = percentile(&durable, 0.5).as_secs_f64() / percentile(&raw, 0.5).as_secs_f64();
        let max = puts.iter().max().copied().unwrap_or(0);
        let mean = puts.iter().sum::<u64>() as f64 / puts.len().max(1) as f64;
        println!(
            "{name} | {len} | {} / {} | {} / {} | {} / {} | {ratio:.2} | {max} / {mean:.1}",
            ms(percentile(&durable, 0.5)),
            ms(percentile(&durable, 0.99)),
            ms(percentile(&cas, 0.5)),
            ms(percentile(&cas, 0.99)),
            ms(percentile(&raw, 0.5)),
            ms(percentile(&raw, 0.99)),
        );
        let millis = |times: &[Duration], q: f64| percentile(times, q).as_secs_f64() * 1e3;
        for (quantile, q, target) in [("p50", 0.5, Some("≤ 1.3×")), ("p99", 0.99, None)] {
            let mut r = Record::new(
                format!("Session scope: durable write {quantile} vs one raw object_store PUT"),
                name,
                "ms",
                Better::Lower,
                millis(&durable, q),
            )
            .reference("raw PUT, same store", millis(&raw, q));
            if let Some(target) = target {
                r = r.target(target);
            }
            record(&r);
        }
        record(
            &Record::new(
                format!("Session scope: PUTs per burst of {BURST} concurrent writes (max)"),
                name,
                "PUTs",
                Better::Lower,
                max as f64,
            )
            .target("≤ 4"),
        );
    }
}
