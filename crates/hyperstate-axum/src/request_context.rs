//! The [`RequestContext`] extractor: the framework-neutral
//! [`hyperstate_http::RequestContext`] the layer put in the request's
//! extensions.

use std::ops::Deref;

use axum::extract::FromRequestParts;
use http::request::Parts;

use crate::Error;

/// The per-request identity the [`HyperstateLayer`](crate::HyperstateLayer)
/// works out: the browser id from the cookie, the page id, whether this is an
/// htmx request and the client it comes from. Dereferences to
/// [`hyperstate_http::RequestContext`], where its methods are. Extractors for
/// each scope build on it; apps rarely need it directly.
///
/// Rejection: [`Error::LayerMissing`] (500) when the layer is not installed
/// around the route.
#[derive(Debug, Clone)]
pub struct RequestContext(pub hyperstate_http::RequestContext);

impl Deref for RequestContext {
    type Target = hyperstate_http::RequestContext;
    fn deref(&self) -> &hyperstate_http::RequestContext {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<hyperstate_http::RequestContext>()
            .cloned()
            .map(RequestContext)
            .ok_or(Error::LayerMissing)
    }
}
