//! S3-compatible object storage for hyperstate's session scope.
//!
//! [`S3DocumentStore`] implements [`DocumentStore`] on any
//! [`object_store::ObjectStore`] that supports conditional PUT (AWS S3, MinIO,
//! Cloudflare R2, moto, ...): create-if-absent is `PutMode::Create`
//! (`If-None-Match: *`), compare-and-swap is `PutMode::Update` (`If-Match`).
//! S3 etags are content hashes; the session document's revision counter makes
//! every commit's bytes differ, so a stale etag can never match by accident.
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

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use futures::TryStreamExt as _;
use hyperstate::session::{
    Document, DocumentStore, Etag, Listed, PutCondition, PutOutcome, SessionKey,
};
use hyperstate::{Error, Result};
use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::path::Path;
use object_store::{
    ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload, UpdateVersion,
};

const BACKEND: &str = "s3";

/// Session documents as objects `<prefix>/<session key>.json` in a bucket.
///
/// Cheap to clone; clones share the client.
#[derive(Debug, Clone)]
pub struct S3DocumentStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
}

/// Configures an [`S3DocumentStore`] on Amazon S3 or a compatible server.
#[derive(Debug, Clone)]
pub struct S3DocumentStoreBuilder {
    bucket: String,
    endpoint: Option<String>,
    prefix: String,
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
        }
    }

    /// A store on an already-built object store, under `prefix`. The object store
    /// must support `PutMode::Create` and `PutMode::Update`.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        S3DocumentStore {
            store,
            prefix: Path::from(prefix),
        }
    }

    /// The underlying object store (for raw access, e.g. benchmarks).
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Where the document of `key` lives.
    pub fn path(&self, key: &SessionKey) -> Path {
        self.prefix.clone().join(format!("{key}.json"))
    }

    /// Where unreadable documents are kept aside
    /// (`<prefix>/quarantine/<key>.<unix-ms>.json`); hyperstate never deletes
    /// them.
    pub fn quarantine_prefix(&self) -> Path {
        self.prefix.clone().join("quarantine")
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
        Ok(S3DocumentStore::new(Arc::new(store), &self.prefix))
    }
}

#[async_trait]
impl DocumentStore for S3DocumentStore {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<Document>> {
        let result = match self.store.get(&self.path(key)).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(Error::backend(BACKEND, "get", err)),
        };
        let Some(etag) = result.meta.e_tag.clone() else {
            return Err(Error::backend(
                BACKEND,
                "get",
                "the server returned no ETag",
            ));
        };
        let body = result
            .bytes()
            .await
            .map_err(|err| Error::backend(BACKEND, "get", err))?;
        Ok(Some(Document {
            body: body.to_vec(),
            etag: Etag(etag),
        }))
    }

    async fn put(
        &self,
        key: &SessionKey,
        body: Vec<u8>,
        condition: PutCondition<'_>,
    ) -> Result<PutOutcome> {
        let mode = match condition {
            PutCondition::Absent => PutMode::Create,
            PutCondition::Matches(etag) => PutMode::Update(UpdateVersion {
                e_tag: Some(etag.0.clone()),
                version: None,
            }),
        };
        let options = PutOptions {
            mode,
            ..Default::default()
        };
        match self
            .store
            .put_opts(&self.path(key), PutPayload::from(body), options)
            .await
        {
            Ok(result) => match result.e_tag {
                Some(etag) => Ok(PutOutcome::Written(Etag(etag))),
                None => Err(Error::backend(
                    BACKEND,
                    "put",
                    "the server returned no ETag",
                )),
            },
            // 412 (etag moved on, or the object exists), 409 (a concurrent
            // conditional write won) and 404 (if-match on a deleted object).
            Err(
                object_store::Error::Precondition { .. }
                | object_store::Error::AlreadyExists { .. }
                | object_store::Error::NotFound { .. },
            ) => Ok(PutOutcome::Conflict),
            Err(err) => Err(Error::backend(BACKEND, "put", err)),
        }
    }

    async fn delete(&self, key: &SessionKey, etag: Option<&Etag>) -> Result<bool> {
        let path = self.path(key);
        // object_store has no conditional delete: check, then delete. The sweeper
        // only deletes sessions idle for the whole TTL, so the window is harmless
        // (see the trait's contract).
        let current = match self.store.head(&path).await {
            Ok(meta) => meta.e_tag,
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(err) => return Err(Error::backend(BACKEND, "delete", err)),
        };
        if etag.is_some_and(|etag| current.as_deref() != Some(etag.0.as_str())) {
            return Ok(false);
        }
        match self.store.delete(&path).await {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(err) => Err(Error::backend(BACKEND, "delete", err)),
        }
    }

    async fn quarantine(&self, key: &SessionKey, document: &Document) -> Result<String> {
        let millis = std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        // Create-only: a copy is never overwritten, two copies of one key in one
        // millisecond get a counter.
        for n in 0..16u32 {
            let name = match n {
                0 => format!("{key}.{millis}.json"),
                n => format!("{key}.{millis}-{n}.json"),
            };
            let location = self.quarantine_prefix().join(name);
            let options = PutOptions {
                mode: PutMode::Create,
                ..Default::default()
            };
            let payload = PutPayload::from(document.body.clone());
            match self.store.put_opts(&location, payload, options).await {
                Ok(_) => return Ok(location.to_string()),
                Err(
                    object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. },
                ) => continue,
                Err(err) => return Err(Error::backend(BACKEND, "quarantine", err)),
            }
        }
        Err(Error::backend(
            BACKEND,
            "quarantine",
            "every quarantine name for this key and millisecond is taken",
        ))
    }

    async fn list(&self) -> Result<Vec<Listed>> {
        let metas: Vec<_> = self
            .store
            .list(Some(&self.prefix))
            .try_collect()
            .await
            .map_err(|err| Error::backend(BACKEND, "list", err))?;
        Ok(metas
            .into_iter()
            .filter_map(|meta| {
                // Quarantined copies (`<key>.<unix-ms>.json`) are no key: skipped.
                let name = meta.location.filename()?;
                let key = SessionKey::parse_hex(name.strip_suffix(".json")?)?;
                let millis = meta.last_modified.timestamp_millis().max(0) as u64;
                let modified = UNIX_EPOCH + Duration::from_millis(millis);
                Some(Listed { key, modified })
            })
            .collect())
    }
}
