//! Graceful shutdown of the real demo process: SIGTERM in the middle of a burst
//! of durable session writes, then a restart on the same data directory. Every
//! write that was answered 2xx must be there; a write refused during shutdown
//! must get an error (or no answer), never a 2xx.

mod common;
mod process;
mod tcp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use common::element_text;
use process::{PATIENCE, start, terminate};
use tcp::browser_cookie;

/// Concurrent clients in the burst.
const CLIENTS: usize = 24;
/// Every write here is a new browser from one address: past the per-client
/// limit on new browser ids they would be refused with 429.
const BURST_FLAGS: &[&str] = &["--browser-id-rate", "off"];
/// Acknowledged writes to see before sending SIGTERM (the burst keeps going).
const BEFORE_SIGTERM: usize = 100;

/// One request on a fresh connection; `Err` for anything that is not a full
/// response (refused connection, connection closed mid-request).
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<String>,
) -> Result<(StatusCode, HeaderMap, String), Box<dyn std::error::Error + Send + Sync>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, addr.to_string());
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    if form.is_some() {
        builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let request = builder.body(Full::new(Bytes::from(form.unwrap_or_default())))?;
    let response = tokio::time::timeout(PATIENCE, sender.send_request(request)).await??;
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(PATIENCE, body.collect()).await??;
    let text = String::from_utf8_lossy(&body.to_bytes()).into_owned();
    Ok((parts.status, parts.headers, text))
}

/// The theme the settings page shows.
fn shown_theme(body: &str) -> Option<&str> {
    element_text(body, "theme-value")
}

#[derive(Default)]
struct Tally {
    acked: std::sync::Mutex<Vec<(String, String)>>,
    acked_count: AtomicUsize,
    refused_with_status: AtomicUsize,
    no_answer: AtomicUsize,
}

/// One client: a new browser per write (its first write mints its cookie), as
/// fast as it can, until the server stops answering.
async fn client(addr: SocketAddr, id: usize, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    for n in 0.. {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let theme = format!("t{id}x{n}");
        match request(
            addr,
            "POST",
            "/settings/theme",
            None,
            Some(format!("theme={theme}")),
        )
        .await
        {
            Ok((status, headers, body)) if status.is_success() => {
                let cookie = browser_cookie(&headers).expect("a first write sets the cookie");
                assert_eq!(shown_theme(&body), Some(theme.as_str()), "{body}");
                tally.acked.lock().unwrap().push((cookie, theme));
                tally.acked_count.fetch_add(1, Ordering::SeqCst);
            }
            Ok((status, _, body)) => {
                // Refused while shutting down: must be an error with a message.
                assert!(status.is_server_error(), "{status}: {body}");
                assert!(!body.is_empty(), "{status} without a message");
                tally.refused_with_status.fetch_add(1, Ordering::SeqCst);
            }
            Err(_) => {
                // The listener is closed (or the connection was): the server is
                // going away. Nothing was acknowledged.
                tally.no_answer.fetch_add(1, Ordering::SeqCst);
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_burst_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = start(dir.path(), BURST_FLAGS).await;
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| tokio::spawn(client(demo.addr, id, tally.clone(), stop.clone())))
        .collect();
    let warmed_up = async {
        while tally.acked_count.load(Ordering::SeqCst) < BEFORE_SIGTERM {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(PATIENCE, warmed_up)
        .await
        .expect("the burst did not get going");

    // SIGTERM while the clients keep writing.
    terminate(&mut demo).await;
    // Clients still looping against the exited server end at their next request.
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.unwrap();
    }

    let acked = std::mem::take(&mut *tally.acked.lock().unwrap());
    let demo = start(dir.path(), BURST_FLAGS).await;
    let mut present = 0;
    for (cookie, theme) in &acked {
        let (status, _, body) = request(demo.addr, "GET", "/settings", Some(cookie), None)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            shown_theme(&body),
            Some(theme.as_str()),
            "an acknowledged write is missing after the restart"
        );
        present += 1;
    }
    eprintln!(
        "graceful shutdown: {} writes acknowledged, {present} present after restart, \
         {} refused with a 5xx, {} clients saw the server go away",
        acked.len(),
        tally.refused_with_status.load(Ordering::SeqCst),
        tally.no_answer.load(Ordering::SeqCst),
    );
    drop(demo);
}
