//! Looking inside the test Redis Cluster (see
//! [`redis_cluster_url`](crate::services::redis_cluster_url)): which primary
//! owns which slots, the cluster-bus message counters, and moving a slot, over
//! plain connections to each node. Panics on any failure: it is test support.

use redis::aio::MultiplexedConnection;

/// One primary: its address (`redis://host:port`) and the slot ranges it owns.
#[derive(Debug, Clone)]
pub struct Primary {
    /// `redis://host:port`.
    pub url: String,
    /// Inclusive slot ranges.
    pub ranges: Vec<(u16, u16)>,
}

impl Primary {
    /// Whether this primary owns `slot`.
    pub fn owns(&self, slot: u16) -> bool {
        self.ranges.iter().any(|&(a, b)| (a..=b).contains(&slot))
    }
}

/// A plain (not cluster-aware) connection to the node at `url`.
pub async fn plain(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .expect("a node URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connecting to a cluster node")
}

/// The primaries as `CLUSTER SLOTS` on the seed reports them.
pub async fn primaries(seed: &str) -> Vec<Primary> {
    let slots: Vec<redis::Value> = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(&mut plain(seed).await)
        .await
        .expect("CLUSTER SLOTS");
    let mut primaries: Vec<Primary> = Vec::new();
    for entry in slots {
        let redis::Value::Array(fields) = entry else {
            panic!("unexpected CLUSTER SLOTS entry")
        };
        let int = |v: &redis::Value| match v {
            redis::Value::Int(n) => *n as u16,
            other => panic!("not a slot number: {other:?}"),
        };
        let (start, end) = (int(&fields[0]), int(&fields[1]));
        let redis::Value::Array(node) = &fields[2] else {
            panic!("unexpected CLUSTER SLOTS node")
        };
        let host: String = redis::from_redis_value(node[0].clone()).expect("host");
        let port: i64 = redis::from_redis_value(node[1].clone()).expect("port");
        let url = format!("redis://{host}:{port}");
        match primaries.iter_mut().find(|p| p.url == url) {
            Some(p) => p.ranges.push((start, end)),
            None => primaries.push(Primary {
                url,
                ranges: vec![(start, end)],
            }),
        }
    }
    primaries
}

/// The slot of `key` (hash tags honoured), as the server computes it.
pub async fn slot(seed: &str, key: &str) -> u16 {
    redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query_async(&mut plain(seed).await)
        .await
        .expect("CLUSTER KEYSLOT")
}

/// Room names (with `prefix`) whose slots cover every primary: one per primary.
pub async fn rooms_on_every_shard(seed: &str, prefix: &str) -> Vec<String> {
    let primaries = primaries(seed).await;
    let mut names: Vec<Option<String>> = vec![None; primaries.len()];
    for i in 0.. {
        let name = format!("{prefix}-{i}");
        let slot = slot(seed, &name).await;
        let owner = primaries
            .iter()
            .position(|p| p.owns(slot))
            .expect("an owner");
        names[owner].get_or_insert(name);
        if names.iter().all(Option::is_some) || i > 10_000 {
            break;
        }
    }
    names
        .into_iter()
        .map(|n| n.expect("a room on every shard"))
        .collect()
}

/// The sum over every primary of `CLUSTER INFO` counter `field` (0 when a node
/// does not list it: it never sent such a message).
pub async fn bus_counter(seed: &str, field: &str) -> u64 {
    let mut total = 0;
    for primary in primaries(seed).await {
        let info: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query_async(&mut plain(&primary.url).await)
            .await
            .expect("CLUSTER INFO");
        total += info
            .lines()
            .find_map(|line| {
                line.trim()
                    .strip_prefix(&format!("{field}:"))?
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0);
    }
    total
}

/// `CLUSTER MYID` of the node at `url`.
pub async fn node_id(url: &str) -> String {
    redis::cmd("CLUSTER")
        .arg("MYID")
        .query_async(&mut plain(url).await)
        .await
        .expect("CLUSTER MYID")
}

/// Moves `slot` from primary `from` to primary `to` the way `redis-cli
/// --cluster reshard` does (IMPORTING/MIGRATING, `MIGRATE` of its keys in
/// batches, then the new owner announced to every primary), pausing between
/// the steps so that traffic meets each of them.
pub async fn move_slot(from: &Primary, to: &Primary, slot: u16, pause: std::time::Duration) {
    let (from_id, to_id) = (node_id(&from.url).await, node_id(&to.url).await);
    let (mut source, mut target) = (plain(&from.url).await, plain(&to.url).await);
    let setslot = |state: &str, id: &str| {
        let mut cmd = redis::cmd("CLUSTER");
        cmd.arg("SETSLOT").arg(slot).arg(state).arg(id);
        cmd
    };
    let _: () = setslot("IMPORTING", &from_id)
        .query_async(&mut target)
        .await
        .expect("IMPORTING");
    let _: () = setslot("MIGRATING", &to_id)
        .query_async(&mut source)
        .await
        .expect("MIGRATING");
    tokio::time::sleep(pause).await;
    let to_addr = to.url.trim_start_matches("redis://");
    let (host, port) = to_addr.rsplit_once(':').expect("host:port");
    loop {
        let keys: Vec<String> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(10)
            .query_async(&mut source)
            .await
            .expect("GETKEYSINSLOT");
        if keys.is_empty() {
            break;
        }
        let _: () = redis::cmd("MIGRATE")
            .arg(host)
            .arg(port)
            .arg("")
            .arg(0)
            .arg(5000)
            .arg("REPLACE")
            .arg("KEYS")
            .arg(&keys)
            .query_async(&mut source)
            .await
            .expect("MIGRATE");
        tokio::time::sleep(pause / 4).await;
    }
    let _: () = setslot("NODE", &to_id)
        .query_async(&mut target)
        .await
        .expect("NODE on target");
    let _: () = setslot("NODE", &to_id)
        .query_async(&mut source)
        .await
        .expect("NODE on source");
}
