//! Many nodes, one state: two demo processes on one Redis and one S3 server,
//! with the same session secret and no sticky routing. A browser's requests
//! land on either node, and every scope behaves as on one node.
//!
//! The cases are [`nodes::cases`]; every one runs twice: on one Redis (`HYPERSTATE_REDIS_URL`) and on a
//! 3-primary Redis Cluster (`HYPERSTATE_REDIS_CLUSTER_URL`), where the chat
//! case uses a room on every shard. Both need `HYPERSTATE_S3_ENDPOINT` /
//! `HYPERSTATE_S3_BUCKET`; see [`nodes::redis::two_nodes`] for the skip.

mod common;
mod nodes;
mod tcp;

use axum::http::StatusCode;
use nodes::cases;
use nodes::redis::{two_cluster_nodes, two_nodes};
use nodes::{Node, TcpBrowser, free_port};

/// Session reads are served from each node's cache, kept coherent through
/// Redis: a theme set on one node shows on the other on the very next request,
/// every time.
async fn a_theme_set_on_one_node_is_seen_on_the_other_at_once(a: &Node, b: &Node) {
    const ALTERNATIONS: usize = 100;
    let browser = TcpBrowser::new();
    let id = browser.load(a.addr, "/settings").await.page_id().unwrap();
    for round in 0..ALTERNATIONS {
        let (writer, reader) = if round % 2 == 0 { (a, b) } else { (b, a) };
        let theme = if round % 4 < 2 { "dark" } else { "light" };
        let set = browser
            .htmx_post(
                writer.addr,
                "/settings/theme",
                &id,
                &format!("theme={theme}"),
            )
            .await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.body);
        // Both nodes have read the session by now, so each holds a cached copy
        // that this write made stale.
        let page = browser.load(reader.addr, "/settings").await;
        assert_eq!(
            page.text_of("theme-value").as_deref(),
            Some(theme),
            "round {round}: the other node showed a stale theme"
        );
    }
}

/// The cases on one Redis.
mod on_redis {
    use super::*;

    crate::nodes::cases::two_node_tests!(two_nodes(), rooms: "two-nodes");

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_theme_set_on_one_node_is_seen_on_the_other_at_once() {
        let Some((a, b)) = two_nodes().await else {
            return;
        };
        super::a_theme_set_on_one_node_is_seen_on_the_other_at_once(&a, &b).await;
    }
}

/// The same cases on a Redis Cluster.
mod on_redis_cluster {
    use super::*;
    use hyperstate_conformance::redis_cluster;

    crate::nodes::cases::two_node_tests!(async {
        two_cluster_nodes().await.map(|(a, b, _)| (a, b))
    });

    /// One chat room on every shard of the cluster.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn messages_posted_on_one_node_stream_from_the_other_on_every_shard() {
        let Some((a, b, seed)) = two_cluster_nodes().await else {
            return;
        };
        let prefix = format!("two-nodes-{}", free_port());
        let rooms = redis_cluster::rooms_on_every_shard(&seed, &prefix).await;
        assert_eq!(rooms.len(), 3, "the test cluster has three primaries");
        for name in &rooms {
            cases::a_message_posted_on_one_node_streams_from_the_other(&a, &b, name).await;
        }
    }
}
