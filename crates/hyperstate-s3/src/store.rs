//! [`DocumentStore`] on object storage, across both layouts (see
//! [`crate::layout`]).

use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use futures::TryStreamExt as _;
use hyperstate::session::{
    Document, DocumentStore, Etag, Listed, PutCondition, PutOutcome, SessionKey,
};
use hyperstate::{Error, Result};
use object_store::path::Path;
use object_store::{ObjectStoreExt as _, PutMode, PutOptions, PutPayload, UpdateVersion};

use crate::layout::{Found, as_legacy, legacy_etag};
use crate::{BACKEND, S3DocumentStore};

impl S3DocumentStore {
    /// The object at `path`, with the server's etag, if it exists.
    async fn fetch(&self, path: &Path) -> Result<Option<Document>> {
        let result = match self.store.get(path).await {
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

    /// Writes `body` at `path` under `mode`.
    async fn put_at(&self, path: &Path, body: Vec<u8>, mode: PutMode) -> Result<PutOutcome> {
        let options = PutOptions {
            mode,
            ..Default::default()
        };
        match self
            .store
            .put_opts(path, PutPayload::from(body), options)
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

    /// The etag of the object at `path`, `None` if there is none.
    async fn head_etag(&self, path: &Path, op: &'static str) -> Result<Option<String>> {
        match self.store.head(path).await {
            // An object without an etag can match no condition: "" never
            // equals a server etag.
            Ok(meta) => Ok(Some(meta.e_tag.unwrap_or_default())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(Error::backend(BACKEND, op, err)),
        }
    }

    /// Deletes the object at `path`, only while its etag is `etag` if one is
    /// given; whether one was deleted.
    async fn delete_at(&self, path: &Path, etag: Option<&str>) -> Result<bool> {
        // object_store has no conditional delete: check, then delete. The
        // sweeper only deletes sessions idle for the whole TTL, so the window
        // is harmless (see the trait's contract).
        let Some(current) = self.head_etag(path, "delete").await? else {
            return Ok(false);
        };
        if etag.is_some_and(|etag| current != etag) {
            return Ok(false);
        }
        match self.store.delete(path).await {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(err) => Err(Error::backend(BACKEND, "delete", err)),
        }
    }

    /// The write that replaces the legacy document of `key` (whose server etag
    /// must still be `legacy`): a create at the new path, then the old object
    /// goes.
    async fn move_legacy(
        &self,
        key: &SessionKey,
        body: Vec<u8>,
        legacy: &str,
    ) -> Result<PutOutcome> {
        let old = self.layout.legacy_path(key);
        // The old object must still be the one the caller read: had another
        // node moved the session and the new object been deleted since (by the
        // sweeper, or a logout), a create alone would bring back the stale
        // document.
        if self.head_etag(&old, "put").await?.as_deref() != Some(legacy) {
            return Ok(PutOutcome::Conflict);
        }
        // Create-only: of two nodes moving one session at once, one wins; the
        // other conflicts, reloads from the new path and writes again.
        let outcome = self
            .put_at(&self.layout.path(key), body, PutMode::Create)
            .await?;
        if let PutOutcome::Written(_) = &outcome {
            // The write is durable at the new path, which every read tries
            // first: an old object left behind is shadowed, and the sweeper
            // removes it once the session expires. So a failure here is no
            // failure of the write.
            if let Err(err) = self.delete_at(&old, Some(legacy)).await {
                tracing::warn!(
                    session_key = %key,
                    error = %err,
                    "a session moved to the new S3 layout; its old object stays until swept"
                );
            }
        }
        Ok(outcome)
    }
}

#[async_trait]
impl DocumentStore for S3DocumentStore {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<Document>> {
        let path = self.layout.path(key);
        if let Some(document) = self.fetch(&path).await? {
            return Ok(Some(document));
        }
        if !self.legacy {
            return Ok(None);
        }
        if let Some(old) = self.fetch(&self.layout.legacy_path(key)).await? {
            return Ok(Some(Document {
                etag: legacy_etag(old.etag.0),
                ..old
            }));
        }
        // A move creates the new object before it deletes the old one, so a
        // move between the two GETs above left the document at the new path:
        // looking there again keeps "absent" meaning absent.
        self.fetch(&path).await
    }

    async fn put(
        &self,
        key: &SessionKey,
        body: Vec<u8>,
        condition: PutCondition<'_>,
    ) -> Result<PutOutcome> {
        let mode = match condition {
            PutCondition::Absent => PutMode::Create,
            PutCondition::Matches(etag) => match as_legacy(etag) {
                Some(legacy) => return self.move_legacy(key, body, legacy).await,
                None => PutMode::Update(UpdateVersion {
                    e_tag: Some(etag.0.clone()),
                    version: None,
                }),
            },
        };
        self.put_at(&self.layout.path(key), body, mode).await
    }

    async fn delete(&self, key: &SessionKey, etag: Option<&Etag>) -> Result<bool> {
        match etag {
            Some(etag) => match as_legacy(etag) {
                Some(legacy) => {
                    self.delete_at(&self.layout.legacy_path(key), Some(legacy))
                        .await
                }
                None => self.delete_at(&self.layout.path(key), Some(&etag.0)).await,
            },
            None => {
                // Both: a session moved by an older copy of itself may have
                // left its old object behind.
                let new = self.delete_at(&self.layout.path(key), None).await?;
                let old =
                    self.legacy && self.delete_at(&self.layout.legacy_path(key), None).await?;
                Ok(new || old)
            }
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
            let location = self.layout.quarantine().join(name);
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
            .list(Some(self.layout.prefix()))
            .try_collect()
            .await
            .map_err(|err| Error::backend(BACKEND, "list", err))?;
        // A session found at both paths (an old object left behind by a move)
        // is listed twice: the sweeper judges each by what a read returns.
        Ok(metas
            .into_iter()
            .filter_map(|meta| {
                let Found::Session(key) = self.layout.classify(&meta.location) else {
                    return None;
                };
                let millis = meta.last_modified.timestamp_millis().max(0) as u64;
                let modified = UNIX_EPOCH + Duration::from_millis(millis);
                Some(Listed { key, modified })
            })
            .collect())
    }
}
