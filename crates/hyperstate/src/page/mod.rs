//! Page scope: state for one browser tab's current page.
//!
//! A full page load is issued a fresh [`PageId`](crate::PageId); every htmx request
//! from that page carries it back, and the [`Page`] handle reads and writes state
//! under it. A refresh or a direct visit gets a new id, so the state appears reset;
//! two tabs never share a page.
//!
//! The storage key of a page is derived from the page id *and* the browser id
//! ([`PageKey::derive`]): another browser presenting a stolen page id addresses a
//! different, empty page, so it can neither read nor change the original.
//!
//! Pages are created lazily on the first write and expire after a sliding TTL
//! (default 1 hour) that every access refreshes in O(1). Expired state is never
//! returned, even before the sweeper has freed it.

pub(crate) mod cas_loop;
mod handle;
mod key;
pub(crate) mod recent_values;
pub(crate) mod store;

pub use handle::{Page, PageStatus};
pub use key::PageKey;
pub(crate) use store::UpdateFn;
pub use store::{PageOptions, PageStore};
