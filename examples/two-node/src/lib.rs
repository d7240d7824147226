//! A node: every scope's state in PostgreSQL, so any node answers any
//! request. A tab's counter (page), a browser's name (session) and a shared
//! vote count (room) — whichever node the balancer picks.

use std::sync::Arc;

use axum::{
    Extension, Form, Router,
    extract::Path,
    response::Html,
    routing::{get, post},
};
use hyperstate_axum::hyperstate::{page::PageOptions, room::RoomOptions};
use hyperstate_axum::prelude::*;
use hyperstate_postgres::{PgDocumentStore, PgPageStore, PgRoomStore, Postgres, PostgresOptions};
use serde::Deserialize;

const COUNT: Key<u64> = Key::or_default("count");
static PROFILE: View = View::new("profile");
const NAME: Key<String> = Key::new("name", || "stranger".to_owned());
const VOTES: Key<u64> = Key::or_default("votes");

/// One node's handle and its room registry.
#[derive(Debug, Clone)]
pub struct Node {
    pub state: Hyperstate,
    rooms: Rooms,
}

/// A node on the PostgreSQL at `url` (its schema brought up to date). Every
/// node needs the same `secret`: it signs the browser cookie and derives the
/// session storage keys, so a cookie one node issued is valid on the others.
pub async fn node(url: &str, secret: SessionSecret) -> Result<Node, Box<dyn std::error::Error>> {
    let db = Postgres::connect(url, PostgresOptions::default()).await?;
    let state = Hyperstate::builder()
        .pages(Arc::new(PgPageStore::new(
            db.clone(),
            PageOptions::default(),
        )))
        .rooms(Arc::new(PgRoomStore::new(
            db.clone(),
            RoomOptions::default(),
        )))
        .sessions(Arc::new(PgDocumentStore::new(db)), secret)
        // No node-local session cache: another node's write would leave it stale.
        .session_coherence(SessionCoherence::Off)
        .build()?;
    let all = Rights::READ | Rights::WRITE;
    let rooms = state.rooms(move |_: &RoomKey| Ok(RoomInit::new().acl(Acl::new(all, all))));
    Ok(Node { state, rooms })
}

/// GET /: the full page load (takes `Page`, which binds the page id).
async fn home(page: Page, session: Session) -> Result<Html<String>, Error> {
    let (count, name) = (
        page.get(&COUNT).await?,
        session.view(&PROFILE).get(&NAME).await?,
    );
    Ok(Html(format!(
        r##"<!doctype html>
<html><head><script src="{htmx}"></script></head><body>
  <p>Hello, <span id="name">{name}</span></p>
  <button hx-post="/count" hx-target="#count">+1</button> <b id="count">{count}</b>
</body></html>"##,
        name = name.replace('<', "&lt;"),
        htmx = assets::HTMX_2,
    )))
}

/// POST /count: the tab's counter, wherever the previous request landed.
async fn count(page: Page) -> Result<String, Error> {
    Ok(page.update(&COUNT, |n| n + 1).await?.to_string())
}

#[derive(Deserialize)]
struct NameForm {
    name: String,
}

/// POST /name: the browser's name, durable in PostgreSQL.
async fn name(session: Session, Form(form): Form<NameForm>) -> Result<String, Error> {
    session.view(&PROFILE).put(&NAME, &form.name).await?;
    Ok(form.name.replace('<', "&lt;"))
}

/// POST /polls/{poll}/vote and GET /polls/{poll}: a count every node shares
/// (each node's attached browsers hear of it through LISTEN/NOTIFY).
async fn vote(
    Extension(node): Extension<Node>,
    Path(poll): Path<String>,
    Caller(who): Caller,
) -> Result<String, Error> {
    Ok(node
        .rooms
        .room(&poll)?
        .update(&who, &VOTES, |n| n + 1)
        .await?
        .to_string())
}

async fn votes(
    Extension(node): Extension<Node>,
    Path(poll): Path<String>,
    Caller(who): Caller,
) -> Result<String, Error> {
    Ok(node.rooms.room(&poll)?.get(&who, &VOTES).await?.to_string())
}

/// The node's routes.
pub fn app(node: &Node) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/count", post(count))
        .route("/name", post(name))
        .route("/polls/{poll}", get(votes))
        .route("/polls/{poll}/vote", post(vote))
        .layer(Extension(node.clone()))
        .layer(node.state.layer())
        .merge(assets::routes())
}
