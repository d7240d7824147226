//! The tower layer that gives every request its state context.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::Request;
use tower::{Layer, Service};

use crate::{Hyperstate, request, response};

/// Installs hyperstate around a router: works out each request's browser and
/// page (see [`RequestContext`](crate::RequestContext)), answers 400 to a
/// malformed page id, sets the browser-id cookie when one was minted, and injects
/// the page id into full-page HTML. Made by [`Hyperstate::layer`].
#[derive(Debug, Clone)]
pub struct HyperstateLayer {
    hyperstate: Hyperstate,
}

impl HyperstateLayer {
    /// A layer for `hyperstate`.
    pub fn new(hyperstate: Hyperstate) -> Self {
        HyperstateLayer { hyperstate }
    }
}

impl<S> Layer<S> for HyperstateLayer {
    type Service = HyperstateService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HyperstateService {
            inner,
            hyperstate: self.hyperstate.clone(),
        }
    }
}

/// The service made by [`HyperstateLayer`].
#[derive(Debug, Clone)]
pub struct HyperstateService<S> {
    inner: S,
    hyperstate: Hyperstate,
}

impl<S> Service<Request<Body>> for HyperstateService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone that was driven to readiness serves this call; a fresh clone
        // stays behind for the next one (the usual tower pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        // One clone, which the request's context keeps: each clone and drop is a
        // write to a count every request on every core shares.
        let hyperstate = self.hyperstate.0.clone();
        Box::pin(async move {
            let (mut request, context) = match request::prepare(request, hyperstate).await {
                Ok(prepared) => prepared,
                Err(err) => return Ok(err.into_response()),
            };
            request.extensions_mut().insert(context.clone());
            let response = inner.call(request).await?;
            Ok(response::finish(response, &context, context.hyperstate().config()).await)
        })
    }
}
