//! Redis backends for hyperstate: page and room state that any number of app
//! nodes share, so a request can land on any node with no sticky routing.
//!
//! ```no_run
//! # async fn run() -> Result<(), hyperstate::Error> {
//! use std::sync::Arc;
//! use hyperstate::page::PageOptions;
//! use hyperstate_redis::{Redis, RedisPageStore};
//!
//! let redis = Redis::connect("redis://127.0.0.1:6379", Default::default()).await?;
//! let pages = Arc::new(RedisPageStore::new(redis, PageOptions::default()));
//! # Ok(()) }
//! ```
//!
//! # Data layout
//!
//! A page is one Redis hash, `{prefix}page:{key}` (the key is a hash of browser
//! and page id, so Redis never holds a usable cookie), whose fields are the state
//! keys and whose values are the JSON values, plus one bookkeeping field holding
//! the page's byte count for the limits. Its sliding TTL is the hash's `PEXPIRE`,
//! so Redis frees expired pages itself and never returns them.
//!
//! # Round trips
//!
//! Every page operation is one Lua script call (`EVALSHA`): one round trip that
//! does the work and refreshes the TTL atomically. `update` is a read and a
//! compare-and-set (two round trips, retried on conflict), since the update
//! closure runs in the app, not in Redis.
//!
//! # Rooms
//!
//! [`RedisRoomStore`] keeps each room in five keys sharing the room's name in
//! braces (meta: version, ACL, TTL; state; members; a bounded diff log; attach
//! counts per node) and publishes its diffs and presence counts on one channel.
//! Every operation is one Lua script; a write checks the ACL, applies the
//! change, bumps the version, logs and publishes the diff atomically. Each node
//! holds one pub/sub connection and subscribes to the rooms it has clients for;
//! a lost message is a version gap, which the subscription turns into a resync.
//! When no client is attached on any node, every key of the room gets its idle
//! TTL (`PEXPIRE`); while clients are attached, their nodes refresh a lease, so
//! a crashed node's rooms still expire. Refreshes run pipelined on a task of
//! their own, so fan-out never waits for them, however many rooms a node holds.
//! The diff log is bounded by count and bytes ([`RoomOptions::replay`] and
//! [`RoomOptions::replay_bytes`]).
//!
//! [`RoomOptions::replay`]: hyperstate::room::RoomOptions::replay
//! [`RoomOptions::replay_bytes`]: hyperstate::room::RoomOptions::replay_bytes
//!
//! # Memory
//!
//! A room's keys only make sense together, and Redis evicts keys one at a time,
//! so [`Redis::connect`] refuses a Redis whose `maxmemory-policy` is not
//! `noeviction` ([`EvictingPolicy`]), unless
//! [`RedisOptions::allow_evicting_policy`] is set.
//!
//! # Sessions
//!
//! [`RedisRevisionRegister`] keeps every node's cache of session documents
//! coherent: it records each session's latest revision, which a read compares
//! with its cached copy (see its docs and `hyperstate::session::SessionCoherence`).
//!
//! # Redis Cluster
//!
//! [`Redis::connect`] tells a cluster node from a single server (`INFO
//! cluster`), or takes a comma-separated seed list. Every script touches the
//! keys of one page or one room, which share a hash tag, so the scripts run
//! unchanged on a cluster; rooms then publish on sharded pub/sub (`SPUBLISH`
//! on the room's channel, in the room's slot) and each node subscribes per
//! shard. Health asks every primary for `cluster_state:ok`.
//!
//! # Outages
//!
//! The connection is a redis-rs `ConnectionManager` (one server) or cluster
//! connection: either reconnects by itself after Redis restarts. While Redis is unreachable, operations fail fast with
//! [`hyperstate::Error::Backend`] (an HTTP 503 through `hyperstate-axum`) and
//! succeed again once it is back, without restarting the app.

mod cluster_health;
mod connection;
mod error;
mod eviction_policy;
mod page_store;
mod room_feed;
mod room_hub;
mod room_keys;
mod room_leases;
mod room_registry;
mod room_scripts;
mod room_store;
mod scripts;
mod session_coherence;

pub use connection::{Redis, RedisOptions};
pub use eviction_policy::EvictingPolicy;
pub use page_store::RedisPageStore;
pub use room_store::RedisRoomStore;
pub use session_coherence::RedisRevisionRegister;
