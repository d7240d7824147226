//! What happens to an unreadable session document, beyond the conformance
//! case: its bytes are kept where the backend says, the move is logged once at
//! ERROR with the storage key and the location, and counted in
//! `hyperstate_session_quarantined_total`.

use std::sync::{Arc, Mutex};

use hyperstate::fs::FsDocumentStore;
use hyperstate::memory::MemoryDocumentStore;
use hyperstate::session::{
    DocumentStore, PutCondition, PutOutcome, SessionKey, SessionOptions, SessionSecret, Sessions,
    View,
};
use hyperstate::{BrowserId, Supervisor};
use metrics_exporter_prometheus::PrometheusBuilder;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Keeps the fields of every ERROR event, as `name=value` text.
#[derive(Debug, Default)]
struct Errors(Mutex<Vec<String>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push_str(&format!("{}={value} ", field.name()));
    }
}

impl Subscriber for Errors {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if *event.metadata().level() == Level::ERROR {
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            self.0.lock().unwrap().push(fields.0);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Writes a session, truncates its stored document, reads it twice. Returns
/// the storage key, the truncated bytes, the ERROR events and the metrics.
async fn corrupt_and_read(
    store: Arc<dyn DocumentStore>,
) -> (SessionKey, Vec<u8>, Vec<String>, String) {
    let errors = Arc::new(Errors::default());
    let _logs = tracing::subscriber::set_default(errors.clone());
    let recorder = PrometheusBuilder::new().build_recorder();
    let metrics = recorder.handle();
    let _metrics = metrics::set_default_local_recorder(&recorder);

    let supervisor = Supervisor::new();
    let sessions = Sessions::new(
        store.clone(),
        SessionSecret::generate(),
        SessionOptions::default(),
        &supervisor,
    );
    let view = View::new("v");
    let session = sessions.session(&BrowserId::generate(), None);
    session.view(&view).put("k", &"value").await.unwrap();
    let good = store.get(&session.key()).await.unwrap().unwrap();
    let truncated = good.body[..good.body.len() - 3].to_vec();
    let outcome = store
        .put(
            &session.key(),
            truncated.clone(),
            PutCondition::Matches(&good.etag),
        )
        .await
        .unwrap();
    assert!(matches!(outcome, PutOutcome::Written(_)));

    for _ in 0..2 {
        let value: String = session
            .view(&view)
            .get_or("k", "default".into())
            .await
            .unwrap();
        assert_eq!(value, "default");
    }
    supervisor.shutdown().await;
    let events = errors.0.lock().unwrap().clone();
    (session.key(), truncated, events, metrics.render())
}

fn location_in(event: &str) -> &str {
    let start = event
        .find("location=")
        .expect("the event names the location")
        + "location=".len();
    event[start..].split(' ').next().unwrap()
}

#[tokio::test]
async fn memory_keeps_the_bytes_and_logs_the_key_once() {
    let store = MemoryDocumentStore::default();
    let (key, truncated, events, metrics) = corrupt_and_read(Arc::new(store.clone())).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].contains(&format!("session_key={key}")),
        "{events:?}"
    );
    let kept = store.quarantined();
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].0, &kept[0].1.body), (key, &truncated));
    assert!(
        metrics.contains(r#"hyperstate_session_quarantined_total{backend="memory"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn fs_keeps_the_bytes_in_its_quarantine_folder() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsDocumentStore::open(dir.path()).unwrap();
    let quarantine = store.dir().join("quarantine");
    let (key, truncated, events, metrics) = corrupt_and_read(Arc::new(store)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].contains(&format!("session_key={key}")),
        "{events:?}"
    );
    let location = std::path::PathBuf::from(location_in(&events[0]));
    assert!(location.starts_with(&quarantine), "{}", location.display());
    assert!(
        location
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(&key.to_string())
    );
    assert_eq!(std::fs::read(&location).unwrap(), truncated);
    assert_eq!(std::fs::read_dir(&quarantine).unwrap().count(), 1);
    assert!(
        metrics.contains(r#"hyperstate_session_quarantined_total{backend="fs"} 1"#),
        "{metrics}"
    );
}
