//! `cargo run -p hyperstate-demo`: the demo on 127.0.0.1:3000, no services needed.

use hyperstate_axum::hyperstate;
use std::net::SocketAddr;
use std::path::PathBuf;

use std::sync::Arc;

use bytesize::ByteSize;
use clap::Parser;
use hyperstate::memory::{MemoryDocumentStore, MemoryOptions, MemoryPageStore};
use hyperstate::page::{PageOptions, PageStore};
use hyperstate::room::RoomStore;
use hyperstate::session::{DocumentStore, SessionCoherence};
use hyperstate_axum::HttpConfig;
use hyperstate_demo::{DemoConfig, S3Target, ServeArgs};
use hyperstate_redis::RedisOptions;

// mimalloc rather than glibc's malloc: under load, glibc's arena locks were
// most of the demo's futex calls and context switches (see BENCHMARKS.md,
// "HTTP: an htmx action vs bare axum"). `bare_cart` uses it too, so the
// benchmark compares routers, not allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The hyperstate demo app.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "HYPERSTATE_ADDR", default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Directory for durable state.
    #[arg(long, env = "HYPERSTATE_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Mark the browser-id cookie `Secure` (use behind HTTPS).
    #[arg(long, env = "HYPERSTATE_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Keep sessions in an S3-compatible server at this URL (with --s3-bucket;
    /// credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_DEFAULT_REGION).
    #[arg(long, env = "HYPERSTATE_S3_ENDPOINT", requires = "s3_bucket")]
    s3_endpoint: Option<String>,
    /// Keep sessions in this S3 bucket instead of the data directory.
    #[arg(long, env = "HYPERSTATE_S3_BUCKET")]
    s3_bucket: Option<String>,
    /// The session secret as hex (at least 64 digits), the same on every node.
    /// Without it a development secret is generated once into the data directory.
    #[arg(long, env = "HYPERSTATE_SESSION_SECRET", hide_env_values = true)]
    session_secret: Option<String>,
    /// Secrets that sign browser-id cookies, hex, comma-separated, newest first
    /// (the newest signs, all verify). Without it the key is derived from the
    /// session secret.
    #[arg(long, env = "HYPERSTATE_BROWSER_ID_SECRETS", hide_env_values = true)]
    browser_id_secrets: Option<String>,
    /// Put page and room state on this Redis (`redis://HOST:PORT`) instead of in
    /// memory, so several demo processes share pages, chat and carts.
    #[arg(long, env = "HYPERSTATE_REDIS")]
    redis: Option<String>,
    /// Put page, session and room state on this PostgreSQL
    /// (`postgres://USER@HOST:PORT/DB`; its schema is created or updated on
    /// start), so several demo processes share carts, settings and chat.
    #[arg(long, env = "HYPERSTATE_POSTGRES", conflicts_with_all = ["redis", "s3_bucket"])]
    postgres: Option<String>,
    /// Keep sessions in process memory instead of the data directory: nothing
    /// survives the process. For benchmarks (the reference beside S3) and
    /// throwaway runs.
    #[arg(long, env = "HYPERSTATE_MEMORY_SESSIONS", conflicts_with_all = ["postgres", "s3_bucket"])]
    memory_sessions: bool,
    /// Total memory the in-memory page store may hold (e.g. `64MiB`); idle pages
    /// are evicted first when it is full.
    #[arg(long, env = "HYPERSTATE_MEMORY_LIMIT", default_value = "256MiB")]
    memory_limit: ByteSize,
    /// Do not keep in-memory pages and rooms across a graceful restart (by
    /// default they are written to `DATA_DIR/snapshots` on shutdown and read
    /// back on start).
    #[arg(long, env = "HYPERSTATE_NO_SNAPSHOT")]
    no_snapshot: bool,
    /// Read every session from its store, with no node-local cache
    /// (`SessionCoherence::Off`): what several processes sharing one data
    /// directory without Redis need, and the reference of the session-cache
    /// benchmark.
    #[arg(long, env = "HYPERSTATE_NO_SESSION_CACHE")]
    no_session_cache: bool,
    #[command(flatten)]
    serve: ServeArgs,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    hyperstate_demo::init_logging();
    let args = Args::parse();
    hyperstate_demo::install_metrics();

    // Rooms stay hyperstate's default (memory) unless Redis or PostgreSQL is given.
    let mut rooms: Option<Arc<dyn RoomStore>> = None;
    let mut sessions = None;
    let mut coherence = if args.no_session_cache {
        tracing::info!("session cache off: every session read goes to the store");
        SessionCoherence::Off
    } else {
        SessionCoherence::SingleNode
    };
    let pages: Arc<dyn PageStore> = match (&args.redis, &args.postgres) {
        (_, Some(url)) => {
            let backends = hyperstate_demo::postgres_backends(url).await?;
            tracing::info!("page, session and room state on PostgreSQL");
            sessions = Some(backends.sessions);
            rooms = Some(backends.rooms);
            // Every node reads PostgreSQL: no cache another node's write could
            // leave stale.
            coherence = SessionCoherence::Off;
            backends.pages
        }
        (Some(url), None) => {
            let (pages, shared_rooms) =
                hyperstate_demo::redis_backends(url, RedisOptions::default()).await?;
            tracing::info!("page and room state on Redis");
            rooms = Some(shared_rooms);
            if !args.no_session_cache {
                coherence =
                    hyperstate_demo::redis_session_coherence(url, RedisOptions::default()).await?;
                tracing::info!("session caches coherent through Redis");
            }
            pages
        }
        (None, None) => {
            let limit = usize::try_from(args.memory_limit.as_u64()).unwrap_or(usize::MAX);
            tracing::info!(limit = %args.memory_limit, "page state in memory");
            Arc::new(MemoryPageStore::new(
                PageOptions::default(),
                MemoryOptions::default().memory_limit(limit),
            ))
        }
    };
    let s3 = args
        .s3_bucket
        .map(|bucket| S3Target::new(args.s3_endpoint, bucket));
    let mut config = DemoConfig::new(&args.data_dir)
        .pages(pages)
        .session_coherence(coherence);
    if let Some(rooms) = rooms {
        config = config.rooms(rooms);
    }
    if args.memory_sessions {
        tracing::info!("sessions in memory (lost when the process ends)");
        let store: Arc<dyn DocumentStore> = Arc::new(MemoryDocumentStore::default());
        sessions = Some(store);
    }
    if let Some(sessions) = sessions {
        config = config.sessions(sessions);
    }
    let config = config
        .s3(s3)
        .snapshot(!args.no_snapshot)
        .session_secret(args.session_secret)
        .browser_id_secrets(args.browser_id_secrets)
        .http(
            args.serve
                .http_config(HttpConfig::default().secure_cookie(args.secure_cookies)),
        );
    let state = hyperstate_demo::hyperstate(&config)?;
    let app = hyperstate_demo::router(&state);

    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    tracing::info!(
        "hyperstate demo listening on http://{}",
        listener.local_addr()?
    );
    // On Ctrl-C or SIGTERM: stop accepting, end the room streams, drain.
    hyperstate_axum::serve(listener, app)
        .config(args.serve.serve_config())
        .hyperstate(&state)
        .run(hyperstate_axum::shutdown_signal())
        .await?;
    tracing::info!("server stopped; draining background tasks");
    state.shutdown().await;
    Ok(())
}
