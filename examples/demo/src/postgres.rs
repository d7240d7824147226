//! The backends `--postgres` selects: page, session and room state on one
//! PostgreSQL, sharing one pool, so several demo processes share carts,
//! settings and chat with no other service.

use hyperstate_axum::hyperstate;
use std::sync::Arc;

use hyperstate::page::{PageOptions, PageStore};
use hyperstate::room::{RoomOptions, RoomStore};
use hyperstate::session::DocumentStore;
use hyperstate_postgres::{PgDocumentStore, PgPageStore, PgRoomStore, Postgres, PostgresOptions};

/// The three scopes' backends on one PostgreSQL.
#[derive(Debug)]
pub struct PostgresBackends {
    /// Page state.
    pub pages: Arc<dyn PageStore>,
    /// Session documents.
    pub sessions: Arc<dyn DocumentStore>,
    /// Room state, fanned out between nodes with LISTEN/NOTIFY.
    pub rooms: Arc<dyn RoomStore>,
}

/// Page, session and room state on the PostgreSQL at `url`
/// (`postgres://USER@HOST:PORT/DB`), whose schema is brought up to date first.
pub async fn postgres_backends(url: &str) -> hyperstate::Result<PostgresBackends> {
    let db = Postgres::connect(url, PostgresOptions::default()).await?;
    Ok(PostgresBackends {
        pages: Arc::new(PgPageStore::new(db.clone(), PageOptions::default())),
        sessions: Arc::new(PgDocumentStore::new(db.clone())),
        rooms: Arc::new(PgRoomStore::new(db, RoomOptions::default())),
    })
}
