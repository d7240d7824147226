//! PostgreSQL backends for hyperstate: page, session and room state on the
//! database the app already runs, shared by any number of app nodes, with no
//! Redis and no object store.
//!
//! ```no_run
//! # async fn run() -> Result<(), hyperstate::Error> {
//! use std::sync::Arc;
//! use hyperstate::page::PageOptions;
//! use hyperstate::room::RoomOptions;
//! use hyperstate_postgres::{PgDocumentStore, PgPageStore, PgRoomStore, Postgres};
//!
//! // Or `Postgres::with_pool(pool)` with the app's own sqlx `PgPool`.
//! let db = Postgres::connect("postgres://app@127.0.0.1/app", Default::default()).await?;
//! let pages = Arc::new(PgPageStore::new(db.clone(), PageOptions::default()));
//! let sessions = Arc::new(PgDocumentStore::new(db.clone()));
//! let rooms = Arc::new(PgRoomStore::new(db, RoomOptions::default()));
//! # Ok(()) }
//! ```
//!
//! # Schema
//!
//! Connecting applies the embedded migrations (tables `hyperstate_*`, two
//! PL/pgSQL functions) in one transaction under an advisory lock: idempotent,
//! and safe when several nodes start at once.
//!
//! # Pages
//!
//! A page is one row of `hyperstate_pages`: a `jsonb` object mapping each state
//! key to its value's JSON text, its key and byte counts (for the limits), and
//! its expiry. Every operation is one statement, so one round trip: reads are an
//! `UPDATE … RETURNING` that slides the expiry; writes call
//! `hyperstate_page_write`, which locks the row, treats an expired page as
//! empty, checks the limits and writes. `update` is a compare-and-set through
//! the same function (the closure runs in the app): one round trip when this
//! node knows the current value (it read or wrote it last), else a read first;
//! a conflict answers with the value found, and the next attempt uses it. Expired rows are never returned, whether or not the
//! sweeper has deleted them; the sweeper deletes them in bounded batches.
//!
//! # Sessions
//!
//! [`PgDocumentStore`] keeps each session document as a row with an etag drawn
//! from a sequence: create-if-absent is `INSERT … ON CONFLICT DO NOTHING`,
//! compare-and-swap is `UPDATE … WHERE etag = $1`. A write is durable when it
//! returns (PostgreSQL's commit, with `synchronous_commit` on).
//!
//! # Rooms
//!
//! [`PgRoomStore`] keeps each room in a row (version, ACL, idle TTL, state as
//! in pages) with its members, per-node attach counts under a lease, and its
//! last diffs. Each operation is one transaction holding the room's row lock:
//! a write checks the ACL, applies the change, bumps the version, logs the
//! diff and NOTIFYs it on channel `hyperstate_rooms` (by version only when it
//! would exceed NOTIFY's 8 KB payload). PostgreSQL delivers notifications in
//! commit order, so diffs arrive in version order. Each node holds one
//! `LISTEN` connection and fans diffs out to its own clients; when that
//! connection drops it reconnects and replays from the log what its rooms
//! missed (a diff no longer logged is a version gap, which the subscription
//! turns into a resync). `update` runs its closure under the row lock: no
//! retries.
//!
//! # Outages
//!
//! The sqlx pool reconnects by itself. While PostgreSQL is unreachable,
//! operations fail within the pool's acquire timeout with
//! [`hyperstate::Error::Backend`] (an HTTP 503 through `hyperstate-axum`) and
//! succeed again once it is back, without restarting the app.

mod connection;
mod doc_store;
mod error;
mod migrations;
mod page_store;
mod room_attach;
mod room_codec;
mod room_hub;
#[cfg(test)]
mod room_lock_order_tests;
mod room_store;
mod room_txn;

pub use connection::{Postgres, PostgresOptions};
pub use doc_store::PgDocumentStore;
pub use page_store::PgPageStore;
pub use room_store::PgRoomStore;
