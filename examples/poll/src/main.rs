//! The live poll on http://127.0.0.1:3000/polls/lunch (or `$ADDR`).

use hyperstate_axum::prelude::*;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // Pages and rooms in memory; the poll keeps no session state.
    let state = Hyperstate::builder()
        .config(HttpConfig::default().secure_cookie(false))
        .without_sessions()
        .build()
        .map_err(std::io::Error::other)?;
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("open http://{addr}/polls/lunch in two browsers");
    serve(listener, hyperstate_poll::router(&state))
        .hyperstate(&state)
        .run(shutdown_signal())
        .await?;
    state.shutdown().await;
    Ok(())
}
