//! The shared page, document-store and room conformance suites against a real
//! PostgreSQL.
//!
//! The server comes from `HYPERSTATE_POSTGRES_URL` (scripts/test starts a private
//! one on a free port, see `scripts/services/postgres.sh`). Without it the cases
//! skip loudly, except under `CI=true`, where a missing server fails them.

use std::sync::Arc;

use hyperstate::page::{PageOptions, PageStore};
use hyperstate::room::{RoomOptions, RoomStore};
use hyperstate::session::DocumentStore;
use hyperstate_conformance::services::postgres_url;
use hyperstate_postgres::{PgDocumentStore, PgPageStore, PgRoomStore, Postgres, PostgresOptions};

/// A pool on this case's runtime (each case runs on its own runtime, and a
/// pool belongs to the runtime that made it). Small: cases run in parallel.
fn connect() -> Postgres {
    let url = postgres_url().expect("checked by the skip guard");
    // Connecting is async but the factories are not: connect on this runtime's thread.
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(Postgres::connect(
            &url,
            PostgresOptions::default().max_connections(8),
        ))
    })
    .expect("connecting to PostgreSQL")
}

fn postgres_page_store(options: PageOptions) -> Arc<dyn PageStore> {
    Arc::new(PgPageStore::new(connect(), options))
}

/// Room cases run with `time = real`: rows expire on PostgreSQL's clock.
fn postgres_room_store(options: RoomOptions) -> Arc<dyn RoomStore> {
    Arc::new(PgRoomStore::new(connect(), options))
}

/// Each namespace is its own slice of the shared sessions table.
fn postgres_document_store(namespace: &str) -> Arc<dyn DocumentStore> {
    Arc::new(PgDocumentStore::with_namespace(connect(), namespace))
}

mod page {
    use super::*;
    hyperstate_conformance::page_store_suite!(
        postgres_page_store,
        time = real,
        skip_unless = postgres_url().is_some()
    );
}

mod documents {
    use super::*;
    hyperstate_conformance::document_store_suite!(
        postgres_document_store,
        ready = || postgres_url().is_some()
    );
}

mod room {
    use super::*;
    hyperstate_conformance::room_store_suite!(
        postgres_room_store,
        time = real,
        skip_unless = postgres_url().is_some()
    );
}
