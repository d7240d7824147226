//! In-memory backends: the zero-setup default for one machine.
//!
//! [`MemoryPageStore`] keeps pages in process memory, bounded by a total byte
//! budget; when the budget is spent, the least-recently-used *idle* pages are
//! evicted first and counted.
//!
//! [`MemoryRoomStore`] keeps rooms in process memory, also within a byte budget:
//! reads of a room nobody wrote, joined or attached store nothing, and when the
//! budget is spent the least-recently-used rooms with no attached client are
//! evicted first; rooms with attached clients leave only by their idle TTL.
//!
//! Both write a snapshot on graceful shutdown and read it back on start
//! ([`Persist`]), so a restart keeps pages and rooms.
//!
//! [`MemoryDocumentStore`] keeps session documents, with real compare-and-swap,
//! for tests; [`MemoryRevisionRegister`] keeps the session revisions that
//! several session scopes of one process share.

mod budget;
mod doc_store;
mod page_map;
mod page_store;
mod revision_register;
mod room_cell;
mod room_store;
mod snapshot;

pub use doc_store::MemoryDocumentStore;
pub use page_store::{MemoryOptions, MemoryPageStore, MemoryStats};
pub use revision_register::MemoryRevisionRegister;
pub use room_store::{DEFAULT_ROOM_MEMORY, MemoryRoomStats, MemoryRoomStore};
pub use snapshot::{Persist, SnapshotStats};
