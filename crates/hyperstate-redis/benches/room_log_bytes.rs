//! Bytes of diff log a busy chat room holds in Redis.
//!
//! ```text
//! HYPERSTATE_REDIS_URL=redis://127.0.0.1:6379 cargo bench -p hyperstate-redis --bench room_log_bytes
//! cargo bench -p hyperstate-redis --bench room_log_bytes -- --quick   # a smoke run
//! ```
//!
//! The room is the demo's chat (`examples/demo/src/routes/chat.rs`): one key
//! holding the last 50 messages, each post an `update` that appends one and
//! drops the oldest, so every diff carries the whole list (about 3 KB of 50
//! short messages). After a few hundred posts the log is full by any bound;
//! the figure is Redis's own `MEMORY USAGE` of the room's log key. The
//! reference, measured in the same run, is the same traffic with the log
//! bounded by count alone ([`RoomOptions::replay`], 256 diffs), as it was before
//! [`RoomOptions::replay_bytes`] existed.

#![allow(missing_docs)]

mod support;

use std::sync::Arc;

use hyperstate::room::{Acl, Principal, Rights, RoomInit, RoomKey, RoomOptions, Rooms};
use hyperstate_bench_report::{Better, Record, record};
use hyperstate_redis::{Redis, RedisOptions, RedisRoomStore};
use serde_json::{Value, json};

/// As the demo keeps them (its messages are `{"text": ...}` objects).
const KEEP_MESSAGES: usize = 50;

/// Bytes Redis uses for the log of a chat room after `posts` posts, with the
/// log bounded by `options`.
async fn log_bytes(url: &str, options: RoomOptions, posts: usize) -> u64 {
    let prefix = format!("bench-log-{}-{}:", std::process::id(), options.replay_bytes);
    let redis = Redis::connect(url, RedisOptions::default().key_prefix(prefix.clone()))
        .await
        .expect("connecting to Redis");
    let rooms = Rooms::new(
        Arc::new(RedisRoomStore::new(redis, options)),
        |_: &RoomKey| {
            RoomInit::new()
                .acl(Acl::new(Rights::ALL, Rights::READ))
                .value("messages", &Vec::<Value>::new())
        },
    );
    let room = rooms.room("chat").expect("valid room name");
    let who = Principal::app("poster");
    room.join(&who).await.expect("joining");
    for i in 0..posts {
        // Typical chat lines: a few words to a sentence.
        let text = format!(
            "message {i}: {}",
            &"see you at the standup, then lunch?"[..i % 36]
        );
        room.update_or(&who, "messages", Vec::<Value>::new(), |mut messages| {
            messages.push(json!({ "text": text }));
            let excess = messages.len().saturating_sub(KEEP_MESSAGES);
            messages.drain(..excess);
            messages
        })
        .await
        .expect("posting");
    }
    let mut conn = redis::Client::open(url)
        .expect("a Redis client")
        .get_multiplexed_async_connection()
        .await
        .expect("connecting");
    // The key layout of `room_keys.rs`.
    let log = format!("{prefix}room:{{chat}}:log");
    redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(&log)
        .query_async::<Option<u64>>(&mut conn)
        .await
        .expect("MEMORY USAGE")
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(url) = hyperstate_conformance::services::redis_url() else {
        return;
    };
    let posts = if support::quick() { 60 } else { 400 };
    let ours = log_bytes(&url, RoomOptions::default(), posts).await;
    let count_only = RoomOptions::default().replay_bytes(usize::MAX);
    let reference = log_bytes(&url, count_only, posts).await;
    let kb = |bytes: u64| bytes as f64 / 1e3;
    println!(
        "busy chat room, {posts} posts: log {:.1} KB (bounded by count only: {:.1} KB)",
        kb(ours),
        kb(reference)
    );
    record(
        &Record::new(
            "Room scope: diff log per busy chat room on Redis",
            format!("MEMORY USAGE of the log after {posts} demo chat posts"),
            "KB",
            Better::Lower,
            kb(ours),
        )
        .reference("log bounded by count only (256 diffs)", kb(reference))
        .target("≤ 80 KB"),
    );
}
