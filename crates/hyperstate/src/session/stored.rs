//! Reading a session's stored document, and moving an unreadable one aside.
//!
//! A document that does not decode (truncated by a full disk, edited by hand,
//! written by an incompatible version) must not answer every request of its
//! browser with an error for ever. It is copied to the backend's quarantine
//! ([`DocumentStore::quarantine`](super::DocumentStore::quarantine)), then replaced, conditionally on its etag,
//! by an empty document: the session goes on from empty state, and a writer
//! that got there first (another request, another node) is never overwritten.
//! The request that wins the replacement logs it once at ERROR, with the
//! storage key (an HMAC, never the cookie) and where the bytes were kept.

use std::time::{SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use super::SessionKey;
use super::cache::Cached;
use super::doc::SessionDoc;
use super::service::Inner;
use super::store::{Document, PutCondition, PutOutcome};
use crate::{Error, Result};

/// Rounds of "read, find it corrupt, lose the replacement to another writer"
/// before giving up: losing means someone just wrote, so the next read almost
/// always finds a good document.
const ATTEMPTS: usize = 3;

/// The decoded document under `key` and its etag, read from the store; `None`
/// when there is none. An unreadable document is quarantined and replaced by an
/// empty one, which is what this returns then.
pub(crate) async fn read(inner: &Inner, key: &SessionKey) -> Result<Option<Arc<Cached>>> {
    let mut last_error = None;
    for _ in 0..ATTEMPTS {
        let Some(stored) = inner.store.get(key).await? else {
            return Ok(None);
        };
        match SessionDoc::decode(&stored.body) {
            Ok(doc) => {
                let bytes = stored.body.len();
                return Ok(Some(Arc::new(Cached::new(doc, stored.etag, bytes))));
            }
            Err(err) => {
                if let Some(replaced) = quarantine(inner, key, &stored, &err).await? {
                    return Ok(Some(replaced));
                }
                last_error = Some(err);
            }
        }
    }
    Err(last_error.unwrap_or(Error::SessionConflict {
        attempts: ATTEMPTS as u32,
    }))
}

/// Keeps `stored` aside and replaces it with an empty document; `None` when
/// another writer changed the key first (read it again).
async fn quarantine(
    inner: &Inner,
    key: &SessionKey,
    stored: &Document,
    error: &Error,
) -> Result<Option<Arc<Cached>>> {
    let store = inner.store.as_ref();
    let backend = store.backend_name();
    let location = store.quarantine(key, stored).await?;
    let fresh = SessionDoc {
        last_seen_at: now_ms(),
        ..SessionDoc::default()
    };
    // The replacement starts the revisions again from zero: the shared record
    // of the last good revision must go first, or it would outrank them.
    if let Some(register) = inner.coherence.register() {
        register.forget(key).await?;
    }
    let body = fresh.encode();
    let bytes = body.len();
    match store
        .put(key, body, PutCondition::Matches(&stored.etag))
        .await?
    {
        PutOutcome::Written(etag) => {
            if let Some(cache) = &inner.cache {
                cache.removed(*key);
            }
            let source = std::error::Error::source(error).map(ToString::to_string);
            tracing::error!(
                backend,
                session_key = %key,
                location = %location,
                bytes = stored.body.len(),
                error = source.as_deref().unwrap_or("unreadable"),
                "unreadable session document moved aside; the session starts empty"
            );
            metrics::counter!("hyperstate_session_quarantined_total", "backend" => backend)
                .increment(1);
            Ok(Some(Arc::new(Cached::new(fresh, etag, bytes))))
        }
        PutOutcome::Conflict => {
            tracing::debug!(
                backend,
                session_key = %key,
                location = %location,
                "an unreadable session document changed before it could be replaced; reading again"
            );
            Ok(None)
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}
