//! Everything an app names, in one import: `use hyperstate_axum::prelude::*;`.
//!
//! The handle and its builder, the extractors of each scope, the room model
//! and the stores an app picks between. Backend traits and their options stay
//! in [`hyperstate`], for store authors and tuning.

pub use crate::assets;
pub use crate::{
    Background, Caller, Changed, Error, HttpConfig, Hyperstate, LastEventId, LiveRoom, LiveSse,
    Page, RequestContext, RoomSse, Session, SessionView, SessionWrite, SseFragment, SseSlot, serve,
    shutdown_signal,
};
pub use hyperstate::fs::FsDocumentStore;
pub use hyperstate::memory::{MemoryDocumentStore, MemoryPageStore, MemoryRoomStore};
pub use hyperstate::room::{
    Acl, Change, Diff, Principal, Right, Rights, Room, RoomEvent, RoomInit, RoomKey, Rooms,
    Snapshot, State,
};
pub use hyperstate::session::SessionCoherence;
pub use hyperstate::session::{SessionOptions, SessionSecret, View, ViewState};
pub use hyperstate::{BrowserId, ErrorKind, Key, PageId};
