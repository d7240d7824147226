//! A production server for an axum [`Router`]: HTTP/1.1 and HTTP/2 (h2c
//! prior knowledge) on one port, timeouts that free connections which do
//! nothing, connection caps per client address and in total (kept below the
//! open-file limit), and a graceful shutdown that ends room streams and
//! drains connections within a bound.
//!
//! One client must not be able to deny service to others by holding
//! connections open: every connection is a file descriptor, and when they
//! run out `accept` fails for everyone. Hence the caps, the timeouts, and an
//! accept loop that backs off instead of spinning when descriptors run out.

mod activity;
mod config;
mod limits;
mod rlimit;
mod service;
mod signal;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::ServeConfig;
pub use signal::shutdown_signal;

use activity::Activity;
use limits::ConnectionLimits;
use service::ConnectionService;

use hyperstate_http::Hyperstate;

/// Serves `app` on `listener` with the default [`ServeConfig`]; see [`Server`].
///
/// ```no_run
/// # async fn run(app: axum::Router, state: hyperstate_axum::Hyperstate) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
/// hyperstate_axum::serve(listener, app)
///     .hyperstate(&state)
///     .run(hyperstate_axum::shutdown_signal())
///     .await?;
/// state.shutdown().await;
/// # Ok(()) }
/// ```
pub fn serve(listener: TcpListener, app: Router) -> Server {
    Server::new(listener, app)
}

/// A server for an axum [`Router`], built on hyper-util's HTTP/1-and-2
/// connection builder. Every request carries axum's
/// `ConnectInfo<SocketAddr>`, so [`ClientAddr`](crate::ClientAddr) and
/// [`RequestContext::client`](hyperstate_http::RequestContext::client) know the peer.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    app: Router,
    config: ServeConfig,
    end_streams: Vec<CancellationToken>,
}

impl Server {
    /// Serves `app` on `listener`, with the default [`ServeConfig`].
    pub fn new(listener: TcpListener, app: Router) -> Self {
        Server {
            listener,
            app,
            config: ServeConfig::default(),
            end_streams: Vec::new(),
        }
    }

    /// Sets the timeouts and caps.
    pub fn config(mut self, config: ServeConfig) -> Self {
        self.config = config;
        self
    }

    /// Ends `state`'s room streams when shutdown begins (cancels its
    /// supervisor's token), so open SSE connections do not hold up the drain.
    pub fn hyperstate(self, state: &Hyperstate) -> Self {
        self.end_streams(state.supervisor().shutdown_token())
    }

    /// Cancels `token` when shutdown begins: for long-lived responses (SSE)
    /// the app ends on that signal.
    pub fn end_streams(mut self, token: CancellationToken) -> Self {
        self.end_streams.push(token);
        self
    }

    /// Serves until `shutdown` resolves, then stops accepting, cancels the
    /// stream tokens and waits for open connections to finish, at most
    /// [`ServeConfig::drain_timeout`]; those still open then are closed.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> io::Result<()> {
        let Server {
            listener,
            app,
            config,
            end_streams,
        } = self;
        let file_limit = rlimit::raise_file_limit(config.raise_file_limit);
        let cap = rlimit::connection_cap(config.max_connections, file_limit, config.reserved_files);
        tracing::info!(
            max_connections = cap,
            max_connections_per_client = ?config.max_connections_per_client,
            "connection caps"
        );
        let limits = ConnectionLimits::new(cap, config.max_connections_per_client);
        let builder = Arc::new(connection_builder(&config));
        let graceful = GracefulShutdown::new();
        // Closes the connections a drain did not end in time.
        let close_all = CancellationToken::new();

        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                biased;
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        back_off(&err).await;
                        continue;
                    }
                },
            };
            let permit = match limits.admit(peer.ip()) {
                Ok(permit) => permit,
                Err(refused) => {
                    // Closed at once (dropped): it costs nothing more, and the
                    // loop goes on to the next client.
                    metrics::counter!("hyperstate_connections_refused_total", "cap" => refused.label())
                        .increment(1);
                    tracing::debug!(%peer, cap = refused.label(), "connection over the cap closed");
                    continue;
                }
            };
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(%peer, error = %err, "cannot set TCP_NODELAY");
            }
            let activity = Activity::new();
            let service = TowerToHyperService::new(ConnectionService {
                app: app.clone(),
                peer,
                activity: activity.clone(),
            });
            let builder = builder.clone();
            let watcher = graceful.watcher();
            let close_all = close_all.clone();
            let (header_read, idle) = (config.header_read_timeout, config.idle_timeout);
            // The connection has a task of its own, which polls nothing but
            // the connection; a second task waits for the timeouts and the
            // drain and aborts the first. So a request costs no timer and no
            // look at shared shutdown state, however often its task wakes.
            let connection = tokio::spawn(async move {
                let _permit = permit;
                let connection = watcher
                    .watch(builder.serve_connection_with_upgrades(TokioIo::new(stream), service));
                if let Err(err) = connection.await {
                    tracing::debug!(%peer, error = %err, "connection ended with an error");
                }
            });
            tokio::spawn(async move {
                let abort = connection.abort_handle();
                tokio::select! {
                    _ = connection => {}
                    () = activity.idle_expired(header_read, idle) => {
                        tracing::debug!(%peer, "idle connection closed");
                        abort.abort();
                    }
                    () = close_all.cancelled() => abort.abort(),
                }
            });
        }

        drop(listener);
        for token in end_streams {
            token.cancel();
        }
        tracing::info!(
            open = graceful.count(),
            "stopped accepting; draining connections"
        );
        if tokio::time::timeout(config.drain_timeout, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                after = ?config.drain_timeout,
                "connections still open after the drain timeout: closing them"
            );
            close_all.cancel();
        }
        Ok(())
    }
}

/// hyper's connection settings: HTTP/1.1 or HTTP/2, whichever the client
/// speaks first.
fn connection_builder(config: &ServeConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        // No `header_read_timeout`: hyper would arm a timer for every request.
        // The connection's activity watch bounds the same wait (see
        // `activity`), at no cost per request.
        .header_read_timeout(None)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(config.http2_max_concurrent_streams)
        .keep_alive_interval(config.http2_keep_alive_interval)
        .keep_alive_timeout(config.header_read_timeout);
    builder
}

/// After a failed `accept`. Out of descriptors or memory, accepting again at
/// once would fail again and spin the CPU: wait for connections to close. A
/// connection that failed before it was accepted is the client's problem.
async fn back_off(err: &io::Error) {
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    ) {
        return;
    }
    metrics::counter!("hyperstate_accept_errors_total").increment(1);
    // At most ten a second, given the pause below.
    tracing::warn!(error = %err, "accept failed; pausing");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
