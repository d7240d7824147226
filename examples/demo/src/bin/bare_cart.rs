//! `bare_cart --addr 127.0.0.1:PORT`: the baseline server of
//! `scripts/bench-http`, the demo's `POST /cart/items` without hyperstate (see
//! `hyperstate_demo::bare`).
//!
//! Runs on the runtime the demo runs on (`#[tokio::main]`: multi-threaded, one
//! worker per core) with the same logging, so the two processes differ only by
//! their router. It also uses the demo's allocator (mimalloc), for the same reason.

use std::net::SocketAddr;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The bare-axum baseline of the HTTP benchmark.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3001")]
    addr: SocketAddr,
    /// Serve with hyperstate's production server (`hyperstate_axum::serve`:
    /// timeouts, connection caps, graceful drain) instead of `axum::serve`,
    /// with no per-client cap: to measure what that server costs alone.
    #[arg(long)]
    hyperstate_server: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    hyperstate_demo::init_logging();
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    tracing::info!("bare cart listening on http://{}", listener.local_addr()?);
    let app = hyperstate_demo::bare::router();
    if args.hyperstate_server {
        let config = hyperstate_axum::ServeConfig::default().max_connections_per_client(None);
        hyperstate_axum::serve(listener, app)
            .config(config)
            .run(hyperstate_axum::shutdown_signal())
            .await?;
    } else {
        axum::serve(listener, app).await?;
    }
    Ok(())
}
