//! The key-value handlers the session tests serve: one view, `kv`, whose keys
//! are set and read through the path.

#![allow(dead_code, unreachable_pub)] // each test binary uses part of it

use axum::extract::Path;
use hyperstate::session::View;
use hyperstate_axum::{Error, Session};

pub static KV: View = View::new("kv");

/// `POST /kv/{key}`: sets the key to the body.
pub async fn set(
    session: Session,
    Path(key): Path<String>,
    body: String,
) -> Result<&'static str, Error> {
    session.view(&KV).put(&key, &body).await?;
    Ok("ok")
}

/// `GET /kv/{key}`: the key's value, empty when unset.
pub async fn get_one(session: Session, Path(key): Path<String>) -> Result<String, Error> {
    Ok(session.view(&KV).get_or(&key, String::new()).await?)
}

/// `GET /kv`: the keys set, comma-separated.
pub async fn keys(session: Session) -> Result<String, Error> {
    let state = session.view(&KV).load().await?;
    Ok(state.keys().collect::<Vec<_>>().join(","))
}
