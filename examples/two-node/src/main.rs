//! One node of a two-node deployment. Run it twice against the same
//! PostgreSQL, with the same secret, behind any load balancer:
//!
//! ```sh
//! export DATABASE_URL=postgres://USER@HOST/DB
//! export HYPERSTATE_SESSION_SECRET=$(openssl rand -hex 32)  # the same on every node
//! PORT=3000 cargo run -p hyperstate-example-two-node &
//! PORT=3001 cargo run -p hyperstate-example-two-node
//! ```

use hyperstate_axum::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    let secret = std::env::var("HYPERSTATE_SESSION_SECRET")
        .map_err(|_| "set HYPERSTATE_SESSION_SECRET, the same on every node")?;
    let secret = SessionSecret::from_hex(&secret)?;
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());

    let node = hyperstate_example_two_node::node(&url, secret).await?;
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    serve(listener, hyperstate_example_two_node::app(&node))
        .hyperstate(&node.state)
        .run(shutdown_signal())
        .await?;
    node.state.shutdown().await;
    Ok(())
}
