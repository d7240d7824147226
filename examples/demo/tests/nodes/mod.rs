//! Demo processes that share one state, with the same session secret and no
//! sticky routing, as behind a load balancer: a [`Node`] each, started on
//! [`redis`] and S3 or on [`postgres`]; a browser that talks to any of them;
//! and the [`cases`] every shared backend passes.

#![allow(dead_code, unreachable_pub, unused_imports, unused_macros)] // each test binary uses part of it

mod browser;
pub mod cases;
mod node;
pub mod postgres;
pub mod redis;

pub use browser::TcpBrowser;
pub use node::{Node, free_port};
