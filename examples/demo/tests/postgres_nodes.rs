//! Many nodes, one PostgreSQL: two demo processes started with `--postgres`
//! on the same database and secret, no sticky routing. A browser's requests
//! land on either node, and pages, sessions and rooms behave as on one node:
//! the cases of [`nodes::cases`].
//!
//! Needs `HYPERSTATE_POSTGRES_URL`; see [`nodes::postgres::two_nodes`] for the skip.

mod common;
mod nodes;
mod tcp;

nodes::cases::two_node_tests!(nodes::postgres::two_nodes(), rooms: "pg-two-nodes");
