//! Circuit breakers: a backend that is down answers at once instead of
//! holding every request for its full timeout.
//!
//! When Redis stops answering, each command waits out its timeout (2 s by
//! default) before failing: a server with 64 connections then answers at most
//! ~32 requests a second, and clients pile up behind it. A [`CircuitBreaker`]
//! watches one backend of one scope and, after
//! [`BreakerOptions::failure_threshold`] consecutive backend failures, *opens*:
//! for [`BreakerOptions::cool_down`] every call fails at once with
//! [`Error::BackendUnavailable`](crate::Error::BackendUnavailable) (HTTP 503
//! with `Retry-After`), without touching the backend. Then it is *half-open*:
//! one call (a probe) goes through while the others still fail fast; if the
//! probe succeeds the breaker closes, if it fails the breaker opens again for
//! another cool-down.
//!
//! Only [`Error::Backend`](crate::Error::Backend) counts as a failure (a lost
//! connection, an I/O error, a timeout). Any other answer — a value, a limit, a
//! conflict, an access denial — means the backend answered, and counts as a
//! success. Requests that need no failing backend are never affected: each
//! scope's backend has its own breaker.
//!
//! One wrapper per backend trait puts a breaker in front of every call:
//! [`BreakerPageStore`], [`BreakerRoomStore`], [`BreakerDocumentStore`] and,
//! for the shared register that keeps session caches coherent,
//! [`BreakerRevisionRegister`]. `hyperstate-axum` wraps every store of its
//! `Hyperstate`, and its session register, in one by default.
//!
//! # Metrics
//!
//! Per `scope` and `backend`:
//! - `hyperstate_breaker_state` (gauge): 0 closed, 1 open, 2 half-open;
//! - `hyperstate_breaker_opens_total`: how many times it opened;
//! - `hyperstate_breaker_rejections_total`: calls failed fast, without
//!   reaching the backend.

mod circuit;
mod document;
mod options;
mod page;
mod register;
mod room;

pub use circuit::{BreakerState, CircuitBreaker};
pub use document::BreakerDocumentStore;
pub use options::BreakerOptions;
pub use page::BreakerPageStore;
pub use register::{BreakerRevisionRegister, REGISTER_SCOPE};
pub use room::BreakerRoomStore;
