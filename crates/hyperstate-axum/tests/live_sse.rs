//! `LiveSse` through the layer: a state that stops decoding is reported and
//! ends the stream, a stale resume gets the whole state, the stream caps hold.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Extension;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use hyperstate_axum::prelude::*;
use hyperstate_axum::{ERROR_EVENT, LiveRoom};
use serde::Deserialize;
use tower::ServiceExt;

/// How long a test waits for something that must arrive.
const DELIVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize)]
struct Counter {
    n: u32,
}

fn app(state: &Hyperstate) -> (Router, Room) {
    let rooms = state.rooms(|_: &RoomKey| {
        RoomInit::new()
            .acl(Acl::new(Rights::ALL, Rights::ALL))
            .value("n", &0)
    });
    let room = rooms.room("counter").unwrap();
    let events = |live: LiveSse, Extension(rooms): Extension<Rooms>| async move {
        let room = rooms.room("counter")?;
        let who = Principal::app("reader");
        live.attach(
            &room,
            &who,
            |counter: &LiveRoom<Counter>, changed: &Changed| {
                let name = if *changed == Changed::Presence {
                    "presence"
                } else {
                    "n"
                };
                vec![SseFragment::named(name, counter.state().n.to_string())]
            },
        )
        .await
    };
    let router = Router::new()
        .route("/events", get(events))
        .layer(Extension(rooms))
        .layer(state.layer());
    (router, room)
}

fn state(config: HttpConfig) -> Hyperstate {
    Hyperstate::builder()
        .config(config)
        .without_sessions()
        .build()
        .unwrap()
}

async fn open(app: &Router, uri: &str, last_event_id: Option<u64>) -> (StatusCode, Body) {
    let mut request = Request::get(uri);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    (response.status(), response.into_body())
}

/// The SSE text of a stream up to and including the first block containing
/// `until`, or to its end (`until` = `None`).
async fn read(body: &mut Body, until: Option<&str>) -> String {
    let mut text = String::new();
    loop {
        let frame = tokio::time::timeout(DELIVERY, body.frame())
            .await
            .expect("no SSE event in time");
        match frame {
            Some(frame) => {
                if let Ok(data) = frame.unwrap().into_data() {
                    text.push_str(&String::from_utf8_lossy(&data));
                }
                if until.is_some_and(|u| text.contains(u)) {
                    return text;
                }
            }
            None => return text,
        }
    }
}

/// The SSE blocks of `text` as (event, data, id), comments skipped.
fn blocks(text: &str) -> Vec<(String, String, Option<String>)> {
    let mut found = Vec::new();
    for block in text.split("\n\n") {
        let (mut event, mut data, mut id) = (String::new(), String::new(), None);
        for line in block.lines() {
            match line.split_once(": ") {
                Some(("event", v)) => event = v.to_owned(),
                Some(("data", v)) => data = v.to_owned(),
                Some(("id", v)) => id = Some(v.to_owned()),
                _ => {}
            }
        }
        if !event.is_empty() || id.is_some() {
            found.push((event, data, id));
        }
    }
    found
}

#[tokio::test]
async fn a_state_that_stops_decoding_is_reported_and_ends_the_stream() {
    let state = state(HttpConfig::default());
    let (app, room) = app(&state);
    let (status, mut body) = open(&app, "/events", None).await;
    assert_eq!(status, StatusCode::OK);
    let first = blocks(&read(&mut body, Some("data: 0")).await);
    assert!(
        matches!(&first[0], (n, zero, Some(_)) if n == "n" && zero == "0"),
        "{first:?}"
    );

    let who = Principal::app("writer");
    room.put(&who, "n", &5).await.unwrap();
    read(&mut body, Some("data: 5")).await;
    // The app's type wants a number: the stream says so once, with no id (the
    // browser resumes from the last state it could show), and ends.
    room.put(&who, "n", "five").await.unwrap();
    let rest = blocks(&read(&mut body, None).await);
    let (event, data, id) = rest.last().unwrap();
    assert_eq!((event.as_str(), id), (ERROR_EVENT, &None), "{rest:?}");
    assert!(data.contains("could not read"), "{data}");
    assert!(!rest.iter().any(|(_, data, _)| data == "five"));
}

#[tokio::test]
async fn a_resume_the_room_cannot_serve_gets_the_whole_state() {
    let state = state(HttpConfig::default());
    let (app, room) = app(&state);
    let who = Principal::app("writer");
    room.put(&who, "n", &7).await.unwrap();
    let version = room.snapshot(&who).await.unwrap().version;
    // An id from some other stream (ahead of this room): the whole state, at
    // the room's version.
    let (status, mut body) = open(&app, "/events?since=3", Some(version + 100)).await;
    assert_eq!(status, StatusCode::OK);
    let text = blocks(&read(&mut body, Some("data: 7")).await);
    let expected = ("n".to_owned(), "7".to_owned(), Some(version.to_string()));
    assert_eq!(text[0], expected, "{text:?}");
}

#[tokio::test]
async fn the_stream_cap_holds_for_live_streams() {
    let state = state(HttpConfig::default().max_sse_streams(Some(1)));
    let (app, _room) = app(&state);
    let (status, held) = open(&app, "/events", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = open(&app, "/events", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    drop(held);
    let (status, _) = open(&app, "/events", None).await;
    assert_eq!(status, StatusCode::OK);
}
