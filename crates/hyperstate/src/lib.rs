//! Server-side UI state for server-rendered, hypermedia web apps.
//!
//! hyperstate gives an app three scopes of state, each with the lifetime a web
//! developer actually wants:
//!
//! | scope | lives for | carried by | default backend |
//! |---|---|---|---|
//! | [page] | one tab's current page; a refresh starts afresh | `X-Page-Id` header | memory |
//! | [session] | one browser session, durably (30 days unseen) | HttpOnly cookie | filesystem ([`fs`]), S3 |
//! | [room] | a shared key (a chat room, a dashboard) while anyone is attached, then an idle TTL | the app's route (`/rooms/{name}`) | memory |
//!
//! This crate is the core: the model, the backend traits, the in-memory backends
//! and the supervised background tasks. It has no web-framework dependency; the
//! `hyperstate-axum` crate wires it into axum (a layer, extractors, page-id
//! injection).
//!
//! # Values
//!
//! Values are typed through serde and stored as compact JSON, so what you read
//! back is the same on every backend. Keys are non-empty strings without control
//! characters. Every scope enforces [`Limits`]; breaking one is a typed [`Error`]
//! and changes nothing.
//!
//! # Backends
//!
//! Each scope has an async, object-safe backend trait ([`page::PageStore`],
//! [`session::DocumentStore`], [`room::RoomStore`]) with a "Contract" section. Every backend passes the same conformance suite
//! (`hyperstate-conformance`).

pub mod breaker;
mod error;
mod error_kind;
pub mod fs;
mod id;
pub mod identity;
mod key;
mod limits;
pub mod log_limit;
pub mod memory;
pub mod observe;
pub mod page;
pub mod room;
pub mod session;
mod supervisor;
#[cfg(test)]
mod test_support;
pub mod value;

pub use error::{BoxError, Error, ErrorKind, Result};
pub use id::{BrowserId, PageId};
pub use key::{Key, KeyFor, KeyName};
pub use limits::Limits;
pub use supervisor::{Supervisor, TaskSpawner};
