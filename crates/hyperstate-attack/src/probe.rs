//! The other user: a client on its own address that must keep being served
//! while the attack runs. It sends a health request every 100 ms on a fresh
//! connection, and after each attack it fills a cart, posts in a room and
//! writes its session, as a browser would.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::http::{self, Failure, Reply};

/// How long a probe request may take and still count as answered.
pub(crate) const ANSWER_WITHIN: Duration = Duration::from_secs(2);
const EVERY: Duration = Duration::from_millis(100);

/// What the health probe saw during one attack.
#[derive(Debug, Default, Clone)]
pub(crate) struct ProbeStats {
    /// Latency of each request answered 2xx within [`ANSWER_WITHIN`].
    pub(crate) answered: Vec<Duration>,
    /// Requests not answered 2xx in time (errors, timeouts, other statuses).
    pub(crate) failed: usize,
}

impl ProbeStats {
    pub(crate) fn sent(&self) -> usize {
        self.answered.len() + self.failed
    }

    /// Share of requests answered in time, 0–1.
    pub(crate) fn success_rate(&self) -> f64 {
        match self.sent() {
            0 => 0.0,
            n => self.answered.len() as f64 / n as f64,
        }
    }

    /// The 99th percentile latency, counting failures as [`ANSWER_WITHIN`].
    pub(crate) fn p99(&self) -> Duration {
        let mut all: Vec<Duration> = self.answered.clone();
        all.extend(std::iter::repeat_n(ANSWER_WITHIN, self.failed));
        all.sort();
        match all.len() {
            0 => Duration::ZERO,
            n => all[((n * 99).div_ceil(100)).saturating_sub(1).min(n - 1)],
        }
    }
}

/// Probes `/healthz` from `source` until `stop` turns true.
pub(crate) async fn health_loop(
    source: IpAddr,
    target: SocketAddr,
    mut stop: watch::Receiver<bool>,
) -> ProbeStats {
    let stats = Arc::new(Mutex::new(ProbeStats::default()));
    let mut inflight = Vec::new();
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        let stats = stats.clone();
        inflight.push(tokio::spawn(async move {
            let started = Instant::now();
            let request = empty(http::request("GET", target, "/healthz"));
            let outcome = http::once(source, target, request, ANSWER_WITHIN).await;
            let mut stats = stats.lock().unwrap_or_else(|e| e.into_inner());
            match outcome {
                Ok(reply) if reply.status.is_success() => stats.answered.push(started.elapsed()),
                _ => stats.failed += 1,
            }
        }));
    }
    for task in inflight {
        let _ = task.await;
    }
    stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn empty(builder: ::http::request::Builder) -> ::http::Request<Full<Bytes>> {
    builder
        .body(Full::new(Bytes::new()))
        .expect("static request parts are valid")
}

/// A browser on the probe's address: its cookie, once the server set one.
#[derive(Debug)]
pub(crate) struct Visitor {
    source: IpAddr,
    target: SocketAddr,
    cookie: Option<String>,
}

impl Visitor {
    /// The browser cookie (`name=value`) the server issued, if any.
    pub(crate) fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    pub(crate) fn new(source: IpAddr, target: SocketAddr) -> Self {
        Visitor {
            source,
            target,
            cookie: None,
        }
    }

    async fn send(
        &mut self,
        builder: ::http::request::Builder,
        body: String,
    ) -> Result<Reply, Failure> {
        let mut builder = builder;
        if let Some(cookie) = &self.cookie {
            builder = builder.header(::http::header::COOKIE, cookie.as_str());
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("request: {e}"))?;
        let reply = http::once(self.source, self.target, request, ANSWER_WITHIN).await?;
        if let Some(set) = reply.headers.get(::http::header::SET_COOKIE) {
            if let Some(pair) = set.to_str().ok().and_then(|v| v.split(';').next()) {
                self.cookie = Some(pair.to_owned());
            }
        }
        Ok(reply)
    }

    fn expect(what: &str, reply: &Reply) -> Result<(), Failure> {
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(format!("{what}: {} {}", reply.status, reply.body.trim()))
        }
    }

    /// Loads `/cart`, adds an item with htmx's headers, and checks it is listed.
    pub(crate) async fn cart(&mut self, item: &str) -> Result<(), Failure> {
        let page = self
            .send(http::request("GET", self.target, "/cart"), String::new())
            .await?;
        Self::expect("GET /cart", &page)?;
        let page_id = meta_content(&page.body, "hyperstate-page-id")
            .ok_or_else(|| "GET /cart: no page id in the HTML".to_owned())?;
        let add = http::form(self.target, "/cart/items", format!("name={item}"))
            .header("hx-request", "true")
            .header("x-page-id", page_id);
        let reply = self.send(add, format!("name={item}")).await?;
        Self::expect("POST /cart/items", &reply)?;
        if reply.body.contains(item) {
            Ok(())
        } else {
            Err(format!("POST /cart/items: {item} not in the cart"))
        }
    }

    /// Joins `room` and posts a message in it.
    pub(crate) async fn room_post(&mut self, room: &str, text: &str) -> Result<(), Failure> {
        let join = self
            .send(
                http::form(self.target, &format!("/rooms/{room}/join"), String::new()),
                String::new(),
            )
            .await?;
        Self::expect("POST join", &join)?;
        let body = format!("text={text}");
        let post = self
            .send(
                http::form(
                    self.target,
                    &format!("/rooms/{room}/messages"),
                    body.clone(),
                ),
                body,
            )
            .await?;
        Self::expect("POST message", &post)
    }

    /// Writes the session's theme and reads it back.
    pub(crate) async fn session_write(&mut self, theme: &str) -> Result<(), Failure> {
        let body = format!("theme={theme}");
        let reply = self
            .send(
                http::form(self.target, "/settings/theme", body.clone()),
                body,
            )
            .await?;
        Self::expect("POST /settings/theme", &reply)?;
        let page = self
            .send(
                http::request("GET", self.target, "/settings"),
                String::new(),
            )
            .await?;
        Self::expect("GET /settings", &page)?;
        if page.body.contains(theme) {
            Ok(())
        } else {
            Err(format!("GET /settings: theme {theme} not shown"))
        }
    }
}

/// The `content` of `<meta name="NAME" content="...">` in `html`.
fn meta_content<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let start = rest.find("content=\"")? + "content=\"".len();
    let end = rest[start..].find('"')?;
    Some(&rest[start..start + end])
}
