//! The app as seen by one connection: each request gets the peer address
//! (axum's `ConnectInfo`) and is counted in flight until its response is
//! made, or, for a streamed body (SSE), until that body is done.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::ConnectInfo;
use futures::future::BoxFuture;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tower::Service;

use super::activity::Activity;

/// The router, serving one connection from `peer`.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionService {
    pub(crate) app: Router,
    pub(crate) peer: SocketAddr,
    pub(crate) activity: Arc<Activity>,
}

impl Service<Request<Incoming>> for ConnectionService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        <Router as Service<Request<Body>>>::poll_ready(&mut self.app, cx)
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.request_started(request.version());
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let response = self.app.call(request);
        Box::pin(async move {
            let response = response.await?;
            if response.body().size_hint().exact().is_some() {
                // Made whole: what is left is hyper's write, which needs no
                // watching (and the body is not boxed once more for it).
                return Ok(response);
            }
            // The body owns the guard: a streamed response (SSE) stays in
            // flight until it ends or the client goes away.
            Ok(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _ = &in_flight;
                    frame
                }))
            }))
        })
    }
}
