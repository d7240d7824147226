//! A three-step wizard (name, email, confirm) whose progress lives in page
//! state: each tab runs its own wizard, and a reload starts over.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Page state only: no data directory, no session secret.
    let state = hyperstate_axum::Hyperstate::builder()
        .without_sessions()
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    hyperstate_axum::serve(listener, hyperstate_example_wizard::app(&state))
        .hyperstate(&state)
        .run(hyperstate_axum::shutdown_signal())
        .await?;
    state.shutdown().await;
    Ok(())
}
