//! The backends `--postgres` selects: page state and session documents on one
//! PostgreSQL, sharing one pool, so several demo processes share carts and
//! settings with no other service.

use std::sync::Arc;

use hyperstate::page::{PageOptions, PageStore};
use hyperstate::session::DocumentStore;
use hyperstate_postgres::{PgDocumentStore, PgPageStore, Postgres, PostgresOptions};

/// Page state and session documents on the PostgreSQL at `url`
/// (`postgres://USER@HOST:PORT/DB`), whose schema is brought up to date first.
pub async fn postgres_backends(
    url: &str,
) -> hyperstate::Result<(Arc<dyn PageStore>, Arc<dyn DocumentStore>)> {
    let db = Postgres::connect(url, PostgresOptions::default()).await?;
    let pages = Arc::new(PgPageStore::new(db.clone(), PageOptions::default()));
    let sessions = Arc::new(PgDocumentStore::new(db));
    Ok((pages, sessions))
}
