//! Many nodes, one state: two demo processes on one Redis and one S3 server,
//! with the same session secret and no sticky routing. A browser's requests
//! land on either node, and every scope behaves as on one node.
//!
//! Every case runs twice: on one Redis (`HYPERSTATE_REDIS_URL`) and on a
//! 3-primary Redis Cluster (`HYPERSTATE_REDIS_CLUSTER_URL`), where the chat
//! case uses a room on every shard. Both need `HYPERSTATE_S3_ENDPOINT` /
//! `HYPERSTATE_S3_BUCKET`; see [`nodes::two_nodes`] for the skip.

mod common;
mod nodes;
mod tcp;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use futures::future::join_all;
use nodes::{Node, TcpBrowser, free_port};

/// Concurrent cart additions in the lost-update test.
const ADDITIONS: usize = 500;

async fn a_page_made_on_one_node_is_read_and_changed_on_the_other(a: &Node, b: &Node) {
    let browser = TcpBrowser::new();
    let page = browser.load(a.addr, "/cart").await;
    assert_eq!(page.status, StatusCode::OK);
    let id = page
        .page_id()
        .expect("a full page load renders the page id");
    assert!(
        browser.cookie().is_some(),
        "the page load set the browser cookie"
    );
    let reply = browser
        .htmx_post(a.addr, "/cart/items", &id, "name=apple")
        .await;
    assert_eq!(reply.cart_items(), ["apple"], "{}", reply.body);

    // B reads A's item, and adds one that A then reads.
    let on_b = browser.htmx_get(b.addr, "/cart", &id).await;
    assert_eq!(on_b.cart_items(), ["apple"], "{}", on_b.body);
    let reply = browser
        .htmx_post(b.addr, "/cart/items", &id, "name=pear")
        .await;
    assert_eq!(reply.cart_items(), ["apple", "pear"], "{}", reply.body);
    let on_a = browser.htmx_get(a.addr, "/cart", &id).await;
    assert_eq!(on_a.cart_items(), ["apple", "pear"], "{}", on_a.body);
}

async fn concurrent_additions_through_both_nodes_are_all_kept(a: &Node, b: &Node) {
    let browser = TcpBrowser::new();
    let id = browser.load(a.addr, "/cart").await.page_id().unwrap();

    // All at once, alternating nodes: the nodes' compare-and-set races each other.
    let (browser_ref, id_ref) = (&browser, &id);
    let replies = join_all((0..ADDITIONS).map(|i| {
        let node = if i % 2 == 0 { a.addr } else { b.addr };
        async move {
            let form = format!("name=item-{i}");
            browser_ref
                .htmx_post(node, "/cart/items", id_ref, &form)
                .await
        }
    }))
    .await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    let expected: BTreeSet<String> = (0..ADDITIONS).map(|i| format!("item-{i}")).collect();
    for node in [a.addr, b.addr] {
        let items = browser.htmx_get(node, "/cart", &id).await.cart_items();
        assert_eq!(items.len(), ADDITIONS, "read on {node}");
        assert_eq!(items.into_iter().collect::<BTreeSet<_>>(), expected);
    }
}

async fn a_theme_set_on_one_node_is_seen_on_the_other(a: &Node, b: &Node) {
    let browser = TcpBrowser::new();
    let theme = |reply: &common::Reply| reply.text_of("theme-value");

    // B shows the default first, so it has read this session before the change.
    let on_b = browser.load(b.addr, "/settings").await;
    assert_eq!(theme(&on_b).as_deref(), Some("light"));
    let id = browser.load(a.addr, "/settings").await.page_id().unwrap();
    let reply = browser
        .htmx_post(a.addr, "/settings/theme", &id, "theme=dark")
        .await;
    assert_eq!(theme(&reply).as_deref(), Some("dark"), "{}", reply.body);
    assert_eq!(
        theme(&browser.load(b.addr, "/settings").await).as_deref(),
        Some("dark")
    );

    // And back: B changes it, A sees the change.
    let id = browser.load(b.addr, "/settings").await.page_id().unwrap();
    browser
        .htmx_post(b.addr, "/settings/theme", &id, "theme=dusk")
        .await;
    assert_eq!(
        theme(&browser.load(a.addr, "/settings").await).as_deref(),
        Some("dusk")
    );
}

async fn a_message_posted_on_one_node_streams_from_the_other(a: &Node, b: &Node, name: &str) {
    let room = format!("/rooms/{name}");

    // Alice visits and joins through A...
    let alice = TcpBrowser::new();
    let page = alice.load(a.addr, &room).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        alice.cookie().is_some(),
        "the room page sets the browser cookie"
    );
    let id = page.page_id().unwrap();
    let joined = alice
        .htmx_post(a.addr, &format!("{room}/join"), &id, "")
        .await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.body);

    // ...streams from B...
    let mut events = alice.stream(b.addr, &format!("{room}/events")).await;

    // ...and posts through A: B delivers it (bounded wait in `until`).
    let posted = alice
        .htmx_post(
            a.addr,
            &format!("{room}/messages"),
            &id,
            "text=across-nodes",
        )
        .await;
    assert_eq!(
        posted.status,
        StatusCode::NO_CONTENT,
        "a member posts through A"
    );
    events
        .until(|e| e.event.as_deref() == Some("chat") && e.data.contains("across-nodes"))
        .await;
}

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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_page_made_on_one_node_is_read_and_changed_on_the_other() {
        let Some((a, b)) = nodes::two_nodes().await else {
            return;
        };
        super::a_page_made_on_one_node_is_read_and_changed_on_the_other(&a, &b).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_additions_through_both_nodes_are_all_kept() {
        let Some((a, b)) = nodes::two_nodes().await else {
            return;
        };
        super::concurrent_additions_through_both_nodes_are_all_kept(&a, &b).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_theme_set_on_one_node_is_seen_on_the_other() {
        let Some((a, b)) = nodes::two_nodes().await else {
            return;
        };
        super::a_theme_set_on_one_node_is_seen_on_the_other(&a, &b).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_theme_set_on_one_node_is_seen_on_the_other_at_once() {
        let Some((a, b)) = nodes::two_nodes().await else {
            return;
        };
        super::a_theme_set_on_one_node_is_seen_on_the_other_at_once(&a, &b).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_message_posted_on_one_node_streams_from_the_other() {
        let Some((a, b)) = nodes::two_nodes().await else {
            return;
        };
        let name = format!("two-nodes-{}", free_port());
        super::a_message_posted_on_one_node_streams_from_the_other(&a, &b, &name).await;
    }
}

/// The same cases on a Redis Cluster.
mod on_redis_cluster {
    use super::*;
    use hyperstate_conformance::redis_cluster;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_page_made_on_one_node_is_read_and_changed_on_the_other() {
        let Some((a, b, _)) = nodes::two_cluster_nodes().await else {
            return;
        };
        super::a_page_made_on_one_node_is_read_and_changed_on_the_other(&a, &b).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_additions_through_both_nodes_are_all_kept() {
        let Some((a, b, _)) = nodes::two_cluster_nodes().await else {
            return;
        };
        super::concurrent_additions_through_both_nodes_are_all_kept(&a, &b).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_theme_set_on_one_node_is_seen_on_the_other() {
        let Some((a, b, _)) = nodes::two_cluster_nodes().await else {
            return;
        };
        super::a_theme_set_on_one_node_is_seen_on_the_other(&a, &b).await;
    }

    /// One chat room on every shard of the cluster.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn messages_posted_on_one_node_stream_from_the_other_on_every_shard() {
        let Some((a, b, seed)) = nodes::two_cluster_nodes().await else {
            return;
        };
        let prefix = format!("two-nodes-{}", free_port());
        let rooms = redis_cluster::rooms_on_every_shard(&seed, &prefix).await;
        assert_eq!(rooms.len(), 3, "the test cluster has three primaries");
        for name in &rooms {
            super::a_message_posted_on_one_node_streams_from_the_other(&a, &b, name).await;
        }
    }
}
