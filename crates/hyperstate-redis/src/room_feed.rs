//! The pub/sub connection a node receives room messages on: plain pub/sub on
//! one server, sharded pub/sub on a Redis Cluster.
//!
//! On a cluster, room scripts `SPUBLISH` on the room's channel, which carries
//! the room's hash tag, so a message only travels within the shard owning the
//! room's slot. The node holds one cluster connection for subscriptions
//! (RESP3, one connection per shard, messages arriving as pushes): each
//! `SSUBSCRIBE` goes to the shard owning the channel's slot, and redis-rs
//! resubscribes a shard's channels after its connection is re-established and
//! after the slot map changes. When a slot moves, its owner unsubscribes the
//! slot's channels (a server-sent `sunsubscribe`); the hub then subscribes
//! them again (see [`Message::Unsubscribed`]), which reaches the new owner.

use std::time::Duration;

use redis::aio::{PubSubSink, PubSubStream};
use redis::cluster_async::ClusterConnection;
use redis::{ProtocolVersion, PushInfo, PushKind, Value};
use tokio::sync::mpsc;

use futures_util::StreamExt;

use crate::connection::{Redis, Topology, cluster_client};
use crate::error::backend_error;

/// The sending half: (un)subscribes channels.
pub(crate) enum FeedSink {
    Plain(PubSubSink),
    Sharded(ClusterConnection),
}

/// The receiving half.
pub(crate) enum FeedStream {
    Plain(PubSubStream),
    Sharded(mpsc::UnboundedReceiver<PushInfo>),
}

/// What arrives on a feed.
pub(crate) enum Message {
    /// A message published on a channel.
    Published { channel: String, payload: Vec<u8> },
    /// The server dropped this subscription (its slot moved to another shard).
    Unsubscribed(String),
    /// Anything else (subscription confirmations, reconnect notices).
    Other,
}

impl std::fmt::Debug for FeedSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FeedSink::Plain(_) => "FeedSink::Plain",
            FeedSink::Sharded(_) => "FeedSink::Sharded",
        })
    }
}

/// Opens a feed on `redis`, each call bounded by the connection timeout.
pub(crate) async fn open(redis: &Redis) -> hyperstate::Result<(FeedSink, FeedStream)> {
    match &redis.topology {
        Topology::Single(client) => {
            let pubsub = within(redis.connection_timeout, client.get_async_pubsub()).await?;
            let (sink, stream) = pubsub.split();
            Ok((FeedSink::Plain(sink), FeedStream::Plain(stream)))
        }
        Topology::Cluster(nodes) => {
            let (tx, rx) = mpsc::unbounded_channel();
            let client = cluster_client(nodes.clone(), redis)
                .use_protocol(ProtocolVersion::RESP3)
                .push_sender(tx)
                .build()
                .map_err(|err| backend_error("subscribe", err))?;
            let conn = within(redis.connection_timeout, client.get_async_connection()).await?;
            Ok((FeedSink::Sharded(conn), FeedStream::Sharded(rx)))
        }
    }
}

impl FeedSink {
    pub(crate) async fn subscribe(&mut self, channel: &str) -> redis::RedisResult<()> {
        match self {
            FeedSink::Plain(sink) => sink.subscribe(channel).await,
            FeedSink::Sharded(conn) => conn.ssubscribe(channel).await,
        }
    }

    pub(crate) async fn unsubscribe(&mut self, channel: &str) -> redis::RedisResult<()> {
        match self {
            FeedSink::Plain(sink) => sink.unsubscribe(channel).await,
            FeedSink::Sharded(conn) => conn.sunsubscribe(channel).await,
        }
    }
}

impl FeedStream {
    /// The next message; `None` when the connection is gone for good (a plain
    /// connection that dropped; a cluster connection reconnects by itself).
    pub(crate) async fn next(&mut self) -> Option<Message> {
        match self {
            FeedStream::Plain(stream) => stream.next().await.map(|msg| Message::Published {
                channel: msg.get_channel_name().to_owned(),
                payload: msg.get_payload_bytes().to_vec(),
            }),
            FeedStream::Sharded(rx) => rx.recv().await.map(push_message),
        }
    }
}

fn push_message(push: PushInfo) -> Message {
    let text = |value: Option<&Value>| match value {
        Some(Value::BulkString(bytes)) => String::from_utf8(bytes.clone()).ok(),
        Some(Value::SimpleString(text)) => Some(text.clone()),
        _ => None,
    };
    match push.kind {
        PushKind::SMessage | PushKind::Message => {
            match (text(push.data.first()), push.data.get(1)) {
                (Some(channel), Some(Value::BulkString(payload))) => Message::Published {
                    channel,
                    payload: payload.clone(),
                },
                _ => Message::Other,
            }
        }
        PushKind::SUnsubscribe => {
            text(push.data.first()).map_or(Message::Other, Message::Unsubscribed)
        }
        _ => Message::Other,
    }
}

/// Bounds one pub/sub call. The connection manager times out commands, but the
/// pub/sub connection is redis-rs's own and has no timeout: without this, an
/// attach while Redis is unreachable but silent (a network partition) would
/// wait forever, holding the sink lock every other attach needs.
pub(crate) async fn within<T>(
    limit: Duration,
    call: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> hyperstate::Result<T> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result.map_err(|err| backend_error("subscribe", err)),
        Err(elapsed) => Err(hyperstate::Error::backend("redis", "subscribe", elapsed)),
    }
}
