//! Session scope: durable state of one browser session.
//!
//! A browser is identified by a random id in an HttpOnly cookie (set lazily, on
//! the first write, and signed by the server: see [`identity`](crate::identity)).
//! Its state is one JSON document in an object store, under
//! HMAC-SHA256(server secret, browser id) ([`SessionKey`]), so storage never holds
//! a usable cookie.
//!
//! # Model
//!
//! Per *view* (a name the app chooses, e.g. the route; see [`View`]) a slice
//! `{vsn, data}`, plus the session's `last_seen_at` ([`SessionDoc`]).
//!
//! - **Per-key last-write-wins**: writes are per-key changes merged into the
//!   freshest document, so two tabs writing different keys never clobber each
//!   other; writes to one key are ordered by the commits that carry them.
//! - **Versions**: a view declares `vsn` and an optional migration; a write under
//!   a different `vsn` replaces the stored slice wholesale.
//! - **Policies**: each key is recovered on every request ([`Policy::Session`]) or
//!   only for the page that wrote it ([`Policy::Reconnect`]).
//!
//! # Durability
//!
//! A write returns once the store has accepted it. A write to a session
//! nobody on this node is committing for commits from the caller's task; the
//! writes that pile up during a PUT go to the session's writer task, which
//! commits them together in the next one (group commit). Several nodes are made
//! safe by compare-and-swap on every PUT: the loser reloads, re-applies its
//! per-key changes and retries (bounded, with jittered backoff), then fails with
//! [`Error::SessionConflict`](crate::Error::SessionConflict). The document's
//! revision counter makes every commit's bytes unique, so a stale etag can never
//! match by accident on stores whose etag is a content hash (S3).
//!
//! Writer tasks run under the [`Supervisor`](crate::Supervisor): one idle for
//! [`SessionOptions::writer_idle`] stops and is started again when needed; on
//! shutdown each commits what is queued before it exits, and writes that
//! arrive after shutdown has begun (requests a server is still draining)
//! commit from the caller's own task, with the same compare-and-swap. Because
//! every write is durable when its call returns (not when a response
//! finishes), writes made while a response streams (SSE) are never lost.
//!
//! # Reads
//!
//! Reads are answered from the node's cache of session documents when its
//! [`SessionCoherence`] proves the copy current, else from the store.
//!
//! # Backends
//!
//! [`DocumentStore`] implementations: [`MemoryDocumentStore`](crate::memory::MemoryDocumentStore)
//! (tests), [`FsDocumentStore`](crate::fs::FsDocumentStore) (the embedded
//! default) and S3 in the `hyperstate-s3` crate.
//!
//! # Expiry
//!
//! Sessions not seen for [`SessionOptions::ttl`] (30 days) are deleted by
//! [`Sessions::sweep`], which [`Sessions::spawn_sweeper`] runs periodically.

mod batch;
mod cache;
mod cache_stats;
mod change;
mod coherence;
mod commit;
mod current;
mod doc;
mod handle;
mod health;
mod key;
mod options;
mod request;
mod service;
mod store;
mod stored;
mod update;
mod view;
mod writer;

pub use batch::SessionWrite;
pub use coherence::{Revision, RevisionRegister, SessionCoherence};
pub use doc::{SessionDoc, ViewSlice};
pub use handle::{Session, SessionView, ViewState};
pub use key::{MIN_SECRET_BYTES, SessionKey, SessionSecret};
pub use options::SessionOptions;
pub use request::{RequestIdentity, RequestSession, RequestSessionView, RequestSessionWrite};
pub use service::{SessionStats, Sessions};
pub use store::{Document, DocumentStore, Etag, Listed, PutCondition, PutOutcome};
pub use view::{MigrateFn, Policy, View};
