//! Many nodes, one PostgreSQL: two demo processes started with `--postgres`
//! on the same database and secret, no sticky routing. A browser's requests
//! land on either node, and pages, sessions and rooms behave as on one node.
//!
//! Needs `HYPERSTATE_POSTGRES_URL`; see [`nodes::postgres::two_nodes`] for the skip.

mod common;
mod nodes;
mod tcp;

use nodes::cases;
use nodes::free_port;
use nodes::postgres::two_nodes;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_made_on_one_node_is_read_and_extended_on_the_other() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    cases::a_page_made_on_one_node_is_read_and_changed_on_the_other(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_additions_through_both_nodes_are_all_kept() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    cases::concurrent_additions_through_both_nodes_are_all_kept(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_theme_set_on_one_node_is_seen_on_the_other() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    cases::a_theme_set_on_one_node_is_seen_on_the_other(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_posted_on_one_node_streams_from_the_other() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let name = format!("pg-two-nodes-{}", free_port());
    cases::a_message_posted_on_one_node_streams_from_the_other(&a, &b, &name).await;
}
