//! Several session keys written as one unit: one durable commit, all or nothing.

use std::sync::Arc;

use hyperstate::memory::MemoryDocumentStore;
use hyperstate::session::{SessionOptions, SessionSecret, Sessions, View};
use hyperstate::{BrowserId, Error, Key, Limits, PageId, Supervisor};

const THEME: Key<String> = Key::new("theme", || "light".to_owned());
const FONT_SIZE: Key<u8> = Key::new("font_size", || 16);
const DRAFT: Key<String> = Key::or_default("draft");

fn sessions(supervisor: &Supervisor) -> Sessions {
    let options = SessionOptions::default().limits(Limits::default().max_value_bytes(64));
    Sessions::new(
        Arc::new(MemoryDocumentStore::default()),
        SessionSecret::generate(),
        options,
        supervisor,
    )
}

#[tokio::test]
async fn several_keys_are_one_commit() {
    let supervisor = Supervisor::new();
    let sessions = sessions(&supervisor);
    let view = sessions
        .session(&BrowserId::generate(), None)
        .view(&View::new("prefs"));
    let before = sessions.stats().commits;
    view.write()
        .put(&THEME, "dark")
        .put(&FONT_SIZE, &20)
        .put("legacy", &true)
        .commit()
        .await
        .unwrap();
    assert_eq!(sessions.stats().commits, before + 1, "one durable write");
    let state = view.load().await.unwrap();
    assert_eq!(state.get(&THEME).unwrap(), "dark");
    assert_eq!(state.get(&FONT_SIZE).unwrap(), 20);
    assert!(state.get_or("legacy", false).unwrap());

    view.write()
        .delete(&THEME)
        .put(&FONT_SIZE, &12)
        .commit()
        .await
        .unwrap();
    let state = view.load().await.unwrap();
    assert_eq!(
        (state.get(&THEME).unwrap(), state.get(&FONT_SIZE).unwrap()),
        ("light".to_owned(), 12)
    );
    supervisor.shutdown().await;
}

#[tokio::test]
async fn a_failing_write_stores_none_of_it() {
    let supervisor = Supervisor::new();
    let sessions = sessions(&supervisor);
    static PREFS: View = View::new("prefs").reconnect(&[DRAFT.name()]);
    let view = PREFS;
    let browser = BrowserId::generate();
    let prefs = sessions.session(&browser, None).view(&view);
    prefs.put(&FONT_SIZE, &18).await.unwrap();
    let commits = sessions.stats().commits;

    // A value over the limit, after a good one: neither is stored.
    let err = prefs
        .write()
        .put(&FONT_SIZE, &30)
        .put(&THEME, &"x".repeat(100))
        .commit()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ValueTooLarge { .. }), "{err:?}");
    // A `Reconnect` key needs the request's page id.
    let err = prefs
        .write()
        .put(&FONT_SIZE, &30)
        .put(&DRAFT, "Dear Sir,")
        .commit()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PageIdRequired { .. }), "{err:?}");
    assert_eq!(sessions.stats().commits, commits, "nothing was committed");
    assert_eq!(prefs.get(&FONT_SIZE).await.unwrap(), 18);

    // With a page id the same write goes through, as one.
    let tab = sessions
        .session(&browser, Some(PageId::generate()))
        .view(&view);
    tab.write()
        .put(&FONT_SIZE, &30)
        .put(&DRAFT, "Dear Sir,")
        .commit()
        .await
        .unwrap();
    let state = tab.load().await.unwrap();
    assert_eq!(
        (state.get(&FONT_SIZE).unwrap(), state.get(&DRAFT).unwrap()),
        (30, "Dear Sir,".to_owned())
    );
    supervisor.shutdown().await;
}

#[tokio::test]
async fn a_batch_over_the_key_limit_is_refused_whole() {
    let supervisor = Supervisor::new();
    let options = SessionOptions::default().limits(Limits::default().max_keys(2));
    let sessions = Sessions::new(
        Arc::new(MemoryDocumentStore::default()),
        SessionSecret::generate(),
        options,
        &supervisor,
    );
    let view = sessions
        .session(&BrowserId::generate(), None)
        .view(&View::new("prefs"));
    view.put(&FONT_SIZE, &18).await.unwrap();
    let err = view
        .write()
        .put(&FONT_SIZE, &20)
        .put(&THEME, "dark")
        .put("third", &3)
        .commit()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TooManyKeys { limit: 2, .. }),
        "{err:?}"
    );
    let state = view.load().await.unwrap();
    assert_eq!(
        (state.get(&FONT_SIZE).unwrap(), state.get(&THEME).unwrap()),
        (18, "light".to_owned())
    );
    supervisor.shutdown().await;
}
