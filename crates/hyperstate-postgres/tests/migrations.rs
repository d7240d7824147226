//! The embedded migrations on a fresh database: nodes starting at once all
//! succeed and apply each migration exactly once; starting again changes
//! nothing.

use hyperstate_conformance::services::postgres_url;
use hyperstate_postgres::{Postgres, PostgresOptions};
use sqlx::Connection;

/// Nodes starting at once.
const NODES: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_at_once_apply_each_migration_once() {
    let Some(url) = postgres_url() else { return };
    let name = format!("hyperstate_migrations_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let (base, _) = url.rsplit_once('/').expect("a URL with a database");
    let fresh = format!("{base}/{name}");

    let starts = (0..NODES).map(|_| {
        let fresh = fresh.clone();
        tokio::spawn(async move {
            Postgres::connect(&fresh, PostgresOptions::default().max_connections(1)).await
        })
    });
    let mut nodes = Vec::new();
    for start in futures_util::future::join_all(starts).await {
        nodes.push(start.unwrap().expect("every node starts"));
    }
    // Once more, on a schema that is up to date.
    nodes.push(
        Postgres::connect(&fresh, PostgresOptions::default())
            .await
            .unwrap(),
    );
    let (applied, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT version) FROM hyperstate_migrations")
            .fetch_one(nodes[0].pool())
            .await
            .unwrap();
    assert_eq!(applied, distinct, "a migration was recorded twice");
    assert_eq!(applied, 3, "every migration is applied");

    for node in nodes {
        node.pool().close().await;
    }
    sqlx::query(&format!("DROP DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
}
