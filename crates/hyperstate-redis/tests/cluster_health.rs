//! Health on a Redis Cluster reflects the cluster, not one node: while a
//! primary reports `cluster_state:fail` (here: it gave up a slot, so the
//! cluster no longer covers every slot), `Redis::ping` fails, and it succeeds
//! again once the slot is back, on the same connection.
//!
//! Its own test binary: the fault stops the whole cluster from serving
//! (full coverage is required by default), which no other test may meet.

use std::time::{Duration, Instant};

use hyperstate_conformance::redis_cluster as cluster;
use hyperstate_conformance::services::redis_cluster_url;
use hyperstate_redis::{Redis, RedisOptions};

/// Waits (bounded) until every primary's `CLUSTER INFO` says `state`.
async fn wait_for_state(primaries: &[cluster::Primary], state: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let mut all = true;
        for primary in primaries {
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut cluster::plain(&primary.url).await)
                .await
                .expect("CLUSTER INFO");
            all &= info
                .lines()
                .any(|l| l.trim() == format!("cluster_state:{state}"));
        }
        if all {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_fails_while_a_primary_reports_the_cluster_down() {
    let Some(url) = redis_cluster_url() else {
        return;
    };
    let redis = Redis::connect(&url, RedisOptions::default()).await.unwrap();
    redis.ping().await.expect("a healthy cluster");
    let primaries = cluster::primaries(&url).await;
    let owner = primaries[0].clone();
    let slot = owner.ranges[0].0;
    let slots = |verb: &str| {
        let mut cmd = redis::cmd("CLUSTER");
        cmd.arg(verb).arg(slot);
        cmd
    };
    let mut conn = cluster::plain(&owner.url).await;
    let _: () = slots("DELSLOTS").query_async(&mut conn).await.unwrap();
    // The owner notices the uncovered slot on its next cluster tick.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut unhealthy = redis.ping().await;
    while unhealthy.is_ok() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        unhealthy = redis.ping().await;
    }
    // Restore before asserting, so a failure leaves a working cluster behind.
    let _: () = slots("ADDSLOTS").query_async(&mut conn).await.unwrap();
    let restored = wait_for_state(&primaries, "ok").await;
    assert!(
        unhealthy.is_err(),
        "health must fail while a primary reports cluster_state:fail"
    );
    assert!(
        restored,
        "the cluster did not come back to cluster_state:ok"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while let Err(err) = redis.ping().await {
        assert!(Instant::now() < deadline, "health did not recover: {err}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
