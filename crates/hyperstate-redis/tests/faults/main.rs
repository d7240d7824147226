//! Redis behind a fault-injecting TCP proxy: refused connections, a link that
//! goes silent, slow replies, and replies lost after the write landed.
//!
//! For pages and rooms alike, asserted: every fault gives a typed
//! [`hyperstate::Error::Backend`] within a bounded time (a hang guard, never a
//! speed assertion); nothing is reported `Ok` that did not land; after an
//! error the value is the old or the new one (which one, where the fault
//! decides it) and re-reads agree; an `update` runs its closure at most once
//! per call under a fault (backend errors are not retried); and once the fault
//! clears the *same* store works again.
//!
//! Redis comes from `HYPERSTATE_REDIS_URL`; without it the tests skip loudly,
//! except under `CI=true`, where they fail.

mod pages;
mod rooms;
mod support;
