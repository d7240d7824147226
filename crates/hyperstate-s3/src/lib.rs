//! S3-compatible object storage for hyperstate's session scope.
//!
//! [`S3DocumentStore`] implements [`DocumentStore`] on any
//! [`object_store::ObjectStore`] that supports conditional PUT (AWS S3, MinIO,
//! Cloudflare R2, moto, ...): create-if-absent is `PutMode::Create`
//! (`If-None-Match: *`), compare-and-swap is `PutMode::Update` (`If-Match`).
//! S3 etags are content hashes; the session document's revision counter makes
//! every commit's bytes differ, so a stale etag can never match by accident.
//!
//! # Layout
//!
//! ```text
//! <prefix>/<k0k1>/<key>.json                one document per session (key: 64 hex digits)
//! <prefix>/quarantine/<key>.<unix-ms>.json  unreadable documents, kept for inspection
//! ```
//!
//! `k0k1` is the first two hex digits of the key: S3 scales its request rate
//! per key prefix, so the sessions spread over 256 of them. Earlier versions
//! stored `<prefix>/<key>.json`; such a *legacy* document is still read (a
//! read that misses the new path tries the old one), and its session's next
//! write moves it: a create-if-absent at the new path (of two nodes moving one
//! session at once, one wins and the other reloads, as for any conflict), then
//! a check-then-delete of the old object. The sweeper's listing covers both
//! layouts; a delete removes whichever exists. Once no legacy object is left,
//! [`S3DocumentStore::legacy_layout`]`(false)` saves the extra GETs a read of
//! a session that does not exist costs (two more: the old path, then the new
//! one again, which a concurrent move may have just created).
//!
//! ```no_run
//! # fn main() -> hyperstate::Result<()> {
//! use hyperstate_s3::S3DocumentStore;
//!
//! // Credentials and region from the usual AWS_* environment variables.
//! let store = S3DocumentStore::builder("my-bucket")
//!     .endpoint("http://127.0.0.1:9000") // omit for AWS itself
//!     .prefix("sessions")
//!     .build()?;
//! # Ok(()) }
//! ```

mod layout;
mod store;

use std::sync::Arc;

#[cfg(doc)]
use hyperstate::session::DocumentStore;
use hyperstate::session::SessionKey;
use hyperstate::{Error, Result};
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::path::Path;

use layout::Layout;

const BACKEND: &str = "s3";

/// Session documents as objects `<prefix>/<k0k1>/<session key>.json` in a
/// bucket (see the crate docs for the layout).
///
/// Cheap to clone; clones share the client.
#[derive(Debug, Clone)]
pub struct S3DocumentStore {
    store: Arc<dyn ObjectStore>,
    layout: Layout,
    /// Whether documents at the legacy path are still looked for.
    legacy: bool,
}

/// Configures an [`S3DocumentStore`] on Amazon S3 or a compatible server.
#[derive(Debug, Clone)]
pub struct S3DocumentStoreBuilder {
    bucket: String,
    endpoint: Option<String>,
    prefix: String,
    legacy: bool,
}

impl S3DocumentStore {
    /// Starts configuring a store on `bucket`. Credentials, region and the rest
    /// come from the standard `AWS_*` environment variables
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, ...).
    pub fn builder(bucket: impl Into<String>) -> S3DocumentStoreBuilder {
        S3DocumentStoreBuilder {
            bucket: bucket.into(),
            endpoint: None,
            prefix: "sessions".into(),
            legacy: true,
        }
    }

    /// A store on an already-built object store, under `prefix`. The object store
    /// must support `PutMode::Create` and `PutMode::Update`.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        S3DocumentStore {
            store,
            layout: Layout::new(prefix),
            legacy: true,
        }
    }

    /// Whether to look for documents at the legacy path `<prefix>/<key>.json`
    /// (see the crate docs). Default: `true`. Turn it off once a listing of the
    /// prefix shows no `<key>.json` directly under it: a read of a session that
    /// does not exist then costs one GET instead of three.
    pub fn legacy_layout(mut self, on: bool) -> Self {
        self.legacy = on;
        self
    }

    /// The underlying object store (for raw access, e.g. benchmarks).
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Where the document of `key` is written: `<prefix>/<k0k1>/<key>.json`.
    pub fn path(&self, key: &SessionKey) -> Path {
        self.layout.path(key)
    }

    /// Where earlier versions wrote the document of `key`:
    /// `<prefix>/<key>.json`.
    pub fn legacy_path(&self, key: &SessionKey) -> Path {
        self.layout.legacy_path(key)
    }

    /// Where unreadable documents are kept aside
    /// (`<prefix>/quarantine/<key>.<unix-ms>.json`); hyperstate never deletes
    /// them.
    pub fn quarantine_prefix(&self) -> Path {
        self.layout.quarantine()
    }
}

impl S3DocumentStoreBuilder {
    /// Uses an S3-compatible server at `url` instead of AWS (path-style
    /// addressing; plain `http://` is allowed for local servers).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Stores documents under this key prefix. Default: `sessions`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// See [`S3DocumentStore::legacy_layout`]. Default: `true`.
    pub fn legacy_layout(mut self, on: bool) -> Self {
        self.legacy = on;
        self
    }

    /// Builds the store. No request is made yet.
    pub fn build(self) -> Result<S3DocumentStore> {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&self.bucket)
            .with_conditional_put(S3ConditionalPut::ETagMatch);
        if let Some(endpoint) = &self.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        let store = builder
            .build()
            .map_err(|err| Error::backend(BACKEND, "configure", err))?;
        Ok(S3DocumentStore::new(Arc::new(store), &self.prefix).legacy_layout(self.legacy))
    }
}
