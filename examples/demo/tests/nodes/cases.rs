//! The cases every shared backend passes with two nodes `a` and `b`: a
//! browser's requests land on either node, and every scope behaves as on one
//! node. Each test binary starts the nodes on its backend and runs these.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use futures::future::join_all;

use super::{Node, TcpBrowser};
use crate::common::Reply;

/// Concurrent cart additions in the lost-update test.
const ADDITIONS: usize = 500;

pub async fn a_page_made_on_one_node_is_read_and_changed_on_the_other(a: &Node, b: &Node) {
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

pub async fn concurrent_additions_through_both_nodes_are_all_kept(a: &Node, b: &Node) {
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

pub async fn a_theme_set_on_one_node_is_seen_on_the_other(a: &Node, b: &Node) {
    let browser = TcpBrowser::new();
    let theme = |reply: &Reply| reply.text_of("theme-value");

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

/// Through the room `name`.
pub async fn a_message_posted_on_one_node_streams_from_the_other(a: &Node, b: &Node, name: &str) {
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

/// Expands the cases into one `#[tokio::test]` each, every test on the two
/// nodes `$start` (a future of `Option<(Node, Node)>`: `None` after a skip)
/// brings up; with `rooms: "prefix"`, the chat case too, in a room of that
/// prefix.
macro_rules! two_node_tests {
    (@each $start:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some((a, b)) = $start.await else {
                    return;
                };
                $crate::nodes::cases::$case(&a, &b).await;
            }
        )*
    };
    ($start:expr $(, rooms: $prefix:literal)?) => {
        $crate::nodes::cases::two_node_tests!(@each $start;
            a_page_made_on_one_node_is_read_and_changed_on_the_other,
            concurrent_additions_through_both_nodes_are_all_kept,
            a_theme_set_on_one_node_is_seen_on_the_other
        );
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_message_posted_on_one_node_streams_from_the_other() {
                let Some((a, b)) = $start.await else {
                    return;
                };
                let name = format!("{}-{}", $prefix, $crate::nodes::free_port());
                $crate::nodes::cases::a_message_posted_on_one_node_streams_from_the_other(
                    &a, &b, &name,
                )
                .await;
            }
        )?
    };
}
pub(crate) use two_node_tests;
