//! The conformance suite every hyperstate backend passes.
//!
//! Each case is a `pub async fn` that takes a factory for the backend under test
//! and panics (an assertion) when the backend breaks its trait's contract. A macro
//! per scope expands every case into one `#[tokio::test]`, so a backend crate runs
//! the whole suite with one line in its `tests/conformance.rs`:
//!
//! ```ignore
//! hyperstate_conformance::room_store_suite!(
//!     |options| std::sync::Arc::new(MyRoomStore::new(options)),
//!     time = paused
//! );
//! hyperstate_conformance::page_store_suite!(
//!     |options| std::sync::Arc::new(MyStore::new(options)),
//!     time = paused
//! );
//! hyperstate_conformance::document_store_suite!(
//!     |namespace: &str| -> std::sync::Arc<dyn hyperstate::session::DocumentStore> {
//!         std::sync::Arc::new(MyDocStore::new(namespace))
//!     }
//! );
//! ```
//!
//! `time = paused` runs the TTL cases with tokio's paused clock (for in-process
//! backends); `time = real` really waits (for backends such as Redis whose clock
//! tokio cannot pause), so give those cases short TTLs.

#![allow(missing_docs)] // the cases are named for what they check

pub mod counting;
pub mod doc_store;
pub mod fault_proxy;
pub mod faults;
pub mod page;
pub mod redis_cluster;
pub mod room;
pub mod services;
pub mod session;

#[doc(hidden)]
pub use tokio;
