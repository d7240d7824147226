//! Nodes on one PostgreSQL (`--postgres`): pages, sessions and rooms there.
//!
//! The server comes from `HYPERSTATE_POSTGRES_URL` (scripts/services/postgres.sh).
//! Without it [`two_nodes`] skips loudly, except under `CI=true`, where it fails.

use super::Node;

/// Two nodes on the PostgreSQL named in the environment (`None` after a skip).
pub async fn two_nodes() -> Option<(Node, Node)> {
    let url = hyperstate_conformance::services::postgres_url()?;
    Some((node(&url).await, node(&url).await))
}

/// Starts a demo process on the PostgreSQL at `url`.
pub async fn node(url: &str) -> Node {
    Node::start(|demo| {
        demo.arg("--postgres")
            .arg(url)
            // The S3 and Redis settings the test services export would put
            // sessions or pages elsewhere (the demo refuses S3 with PostgreSQL).
            .env_remove("HYPERSTATE_S3_BUCKET")
            .env_remove("HYPERSTATE_S3_ENDPOINT")
            .env_remove("HYPERSTATE_REDIS")
    })
    .await
}
