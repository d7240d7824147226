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
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    hyperstate_demo::init_logging();
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    tracing::info!("bare cart listening on http://{}", listener.local_addr()?);
    axum::serve(listener, hyperstate_demo::bare::router()).await?;
    Ok(())
}
