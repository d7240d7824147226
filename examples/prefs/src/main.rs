//! Preferences (theme, text size, language) in session state: they follow
//! the browser across tabs, reloads and server restarts.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Sessions on the file system under ./data, the builder's default; set
    // HYPERSTATE_SESSION_SECRET in production.
    let state = hyperstate_axum::Hyperstate::builder().build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    hyperstate_axum::serve(listener, hyperstate_example_prefs::app(&state))
        .hyperstate(&state)
        .run(hyperstate_axum::shutdown_signal())
        .await?;
    state.shutdown().await;
    Ok(())
}
