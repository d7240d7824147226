//! Reading a session's current document: from the node's cache when the
//! [`SessionCoherence`](super::SessionCoherence) proves it current, else from
//! the store (which then refills the cache).

use std::sync::Arc;

use super::SessionKey;
use super::cache::Cached;
use super::coherence::SessionCoherence;
use super::service::Inner;
use super::stored;
use crate::Result;
use crate::log_limit::RepeatedErrors;

/// A register that is down would otherwise log once per read.
static REGISTER_DOWN: RepeatedErrors = RepeatedErrors::new(crate::log_limit::INTERVAL);

/// The current document of `key`; `None` when none is stored.
pub(crate) async fn read(inner: &Inner, key: &SessionKey) -> Result<Option<Arc<Cached>>> {
    let Some(cache) = &inner.cache else {
        return stored::read(inner, key).await;
    };
    let stats = &inner.cache_stats;
    match &inner.coherence {
        SessionCoherence::Off => {}
        SessionCoherence::SingleNode => {
            if let Some(hit) = cache.get(key) {
                stats.hit();
                return Ok(Some(hit));
            }
        }
        SessionCoherence::Shared(register) => match register.latest(key).await {
            Ok(Some(latest)) => {
                if let Some(hit) = cache.get(key)
                    && hit.etag == latest.etag
                    && hit.doc.rev == latest.rev
                {
                    stats.hit();
                    return Ok(Some(hit));
                }
            }
            Ok(None) => {}
            // Correct and slower: without the register nothing proves the
            // cached copy current, so the store answers.
            Err(err) => {
                stats.register_error();
                let backend = register.backend_name();
                if REGISTER_DOWN.should_log(["session", "coherence", backend, "latest"]) {
                    tracing::warn!(
                        backend,
                        error = %err,
                        "session revision register unreachable; reading sessions from the store"
                    );
                }
            }
        },
    }
    stats.miss();
    let started = cache.read_started();
    let loaded = stored::read(inner, key).await?;
    if let Some(loaded) = &loaded {
        cache.offer(*key, loaded.clone(), started);
    }
    Ok(loaded)
}
