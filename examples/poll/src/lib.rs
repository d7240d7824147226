//! A live poll: everyone who opens `/polls/{id}` votes with htmx buttons and
//! watches the tally change live over SSE.
//!
//! The poll is a room (shared, live state): its one key, `votes`, maps each
//! option to its count. `GET /polls/{id}` renders the tally at some room
//! version and connects to `GET /polls/{id}/events?since=VERSION`, which
//! [`LiveSse`] streams from exactly there: a typed mirror of the room
//! ([`Poll`]) re-rendered as named fragments (`tally`, `watching`) after
//! every change. `POST /polls/{id}/votes` with `option=NAME` counts a vote.

use std::collections::BTreeMap;

use axum::extract::{Extension, Path};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use hyperstate_axum::prelude::*;
use serde::Deserialize;

/// What can be voted for.
pub const OPTIONS: [&str; 3] = ["tea", "coffee", "water"];

/// The room key holding the counts.
const VOTES: Key<BTreeMap<String, u64>> = Key::or_default("votes");

/// The poll's state, as the room holds it: one field per room key.
#[derive(Debug, Clone, Deserialize)]
pub struct Poll {
    /// Votes per option.
    pub votes: BTreeMap<String, u64>,
}

/// The poll rooms, as a request extension.
#[derive(Debug, Clone)]
struct Polls(Rooms);

/// The app: the poll's routes, the hyperstate layer, and htmx served by the
/// library.
pub fn router(state: &Hyperstate) -> Router {
    // Every poll starts at zero for each option; anyone may read and vote.
    let polls = state.rooms(|_: &RoomKey| {
        let zero: BTreeMap<&str, u64> = OPTIONS.iter().map(|o| (*o, 0)).collect();
        RoomInit::new()
            .acl(Acl::new(
                Rights::READ | Rights::WRITE,
                Rights::READ | Rights::WRITE,
            ))
            .value(VOTES.name(), &zero)
    });
    Router::new()
        .route("/polls/{id}", get(show))
        .route("/polls/{id}/votes", post(vote))
        .route("/polls/{id}/events", get(events))
        .layer(Extension(Polls(polls)))
        .layer(state.layer())
        .merge(assets::routes())
}

/// `GET /polls/{id}`: the poll as it is, live from this version on.
async fn show(
    Extension(Polls(polls)): Extension<Polls>,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<Html<String>, Error> {
    let room = polls.room(&id)?;
    let poll = LiveRoom::<Poll>::from_snapshot(&room.snapshot(&who).await?)?;
    let buttons: String = OPTIONS
        .iter()
        .map(|o| format!(r#"<button name="option" value="{o}">{o}</button>"#))
        .collect();
    // The room key's charset (URL-unreserved) needs no HTML escaping.
    let key = room.key().as_str();
    Ok(Html(format!(
        r#"<!doctype html>
<html><head><title>Poll {key}</title>
<script src="{htmx}"></script><script src="{sse}"></script></head>
<body><h1>Tea, coffee or water?</h1>
<form hx-post="/polls/{key}/votes" hx-swap="none">{buttons}</form>
<div hx-ext="sse" sse-connect="/polls/{key}/events?since={version}">
<ul sse-swap="tally">{tally}</ul>
<p><span sse-swap="watching"></span> watching</p>
<p sse-swap="hyperstate-error"></p>
</div></body></html>"#,
        htmx = assets::HTMX_2,
        sse = assets::HTMX_2_SSE,
        version = poll.version(),
        tally = tally(poll.state()),
    )))
}

/// The counts as list items.
fn tally(poll: &Poll) -> String {
    poll.votes
        .iter()
        .map(|(option, n)| format!("<li>{option}: {n}</li>"))
        .collect()
}

/// `GET /polls/{id}/events`: the tally and the number watching, live.
async fn events(
    live: LiveSse,
    Extension(Polls(polls)): Extension<Polls>,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<RoomSse, Error> {
    let room = polls.room(&id)?;
    live.attach(&room, &who, |poll: &LiveRoom<Poll>, changed: &Changed| {
        if *changed == Changed::Presence {
            vec![SseFragment::named("watching", poll.attached().to_string())]
        } else {
            vec![SseFragment::named("tally", tally(poll.state()))]
        }
    })
    .await
}

/// A vote.
#[derive(Debug, Deserialize)]
struct Vote {
    option: String,
}

/// `POST /polls/{id}/votes`: counts one vote for a known option (400
/// otherwise). Every stream of the poll, the voter's included, gets the new
/// tally.
async fn vote(
    Extension(Polls(polls)): Extension<Polls>,
    Path(id): Path<String>,
    Caller(who): Caller,
    Form(vote): Form<Vote>,
) -> Result<StatusCode, Response> {
    if !OPTIONS.contains(&vote.option.as_str()) {
        return Err((StatusCode::BAD_REQUEST, "no such option").into_response());
    }
    let room = polls
        .room(&id)
        .map_err(|e| Error::from(e).into_response())?;
    room.update(&who, &VOTES, |mut votes| {
        *votes.entry(vote.option.clone()).or_default() += 1;
        votes
    })
    .await
    .map_err(|e| Error::from(e).into_response())?;
    Ok(StatusCode::NO_CONTENT)
}
