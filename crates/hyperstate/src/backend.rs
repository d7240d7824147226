//! For the authors of backends: what a store implementation receives and
//! returns beyond the app-facing model, and the metrics every backend records
//! the same way.
//!
//! An app never names these: it picks a store ([`memory`](crate::memory),
//! [`fs`](crate::fs), `hyperstate-redis`, `hyperstate-s3`) and uses the scope
//! handles. The backend traits themselves ([`PageStore`](crate::page::PageStore),
//! [`RoomStore`](crate::room::RoomStore),
//! [`DocumentStore`](crate::session::DocumentStore)) stay beside their scope,
//! each with its contract.

pub use crate::observe::{cas_conflicts, durable_write_seconds, operation, outcome};
pub use crate::page::cas_loop::{CasLoop, CompareAndSet, Written, conflict_backoff};
pub use crate::page::recent_values::RecentValues;
pub use crate::page::store::UpdateFn;
pub use crate::room::store::{AttachGuard, Attachment, Call, InitFn, Start, Write, class_of};
pub use crate::room::unstored::Unstored;
