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
//! back is the same on every backend. Declare each key once as a [`Key<T>`]: its
//! name, its type and its default, in a `const`. Then every scope reads it with
//! `get(&KEY) -> Result<T>` (the default while nothing is stored), writes it with
//! `put(&KEY, &value)` (a value of another type does not compile) and updates
//! it atomically with `update(&KEY, f)`, or `try_update(&KEY, f)` when `f` may
//! decline (then nothing is written). A whole struct can be one key's value.
//! [`SessionView::write`](session::SessionView::write) stores several session
//! keys in one durable write. A session's [`View`](session::View), the slice
//! of the session one feature owns, is declared once the same way: a `static`
//! or `const` built by `const fn`s.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> hyperstate::Result<()> {
//! use std::sync::Arc;
//! use hyperstate::{BrowserId, Key, PageId, memory::MemoryPageStore, page::Page};
//!
//! #[derive(Default, serde::Serialize, serde::Deserialize)]
//! struct Wizard {
//!     step: u8,
//!     name: String,
//! }
//! const WIZARD: Key<Wizard> = Key::or_default("wizard");
//!
//! let page = Page::open(Arc::new(MemoryPageStore::default()), &BrowserId::generate(),
//!     PageId::generate()).await?;
//! let next = page
//!     .try_update(&WIZARD, |mut wizard| {
//!         if wizard.name.is_empty() && wizard.step > 0 {
//!             return Err("a name first");
//!         }
//!         wizard.step += 1;
//!         Ok(wizard)
//!     })
//!     .await?;
//! assert_eq!(next.map(|wizard| wizard.step), Ok(1));
//! assert_eq!(page.get(&WIZARD).await?.step, 1);
//! # Ok(()) }
//! ```
//!
//! Keys are non-empty strings without control characters (string keys work
//! too, with `get_or`/`update_or` naming the default). Every scope enforces
//! [`Limits`]; breaking one is a typed [`Error`] and changes nothing. What kind
//! of failure an error is ([`Error::kind`]) decides its metric outcome and, in
//! the web integration, its HTTP status.
//!
//! # Backends
//!
//! Each scope has an async, object-safe backend trait ([`page::PageStore`],
//! [`session::DocumentStore`], [`room::RoomStore`]) with a "Contract" section. Every backend passes the same conformance suite
//! (`hyperstate-conformance`). What only a backend's author needs (the calls
//! a store receives, the metrics every backend records) is in [`backend`].

pub mod backend;
pub mod breaker;
mod coarse_clock;
mod error;
mod error_kind;
pub mod fs;
mod id;
pub mod identity;
mod key;
mod limits;
pub mod log_limit;
pub mod memory;
mod observe;
pub mod page;
pub mod room;
pub mod session;
mod supervisor;
#[cfg(test)]
mod test_support;
mod value;

pub use error::{BoxError, Error, ErrorKind, Result};
pub use id::{BrowserId, PageId};
pub use key::{Key, KeyFor, KeyName};
pub use limits::Limits;
pub use supervisor::{Supervisor, TaskSpawner};
