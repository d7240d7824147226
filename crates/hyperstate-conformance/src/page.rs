//! Cases for [`PageStore`] backends.
//!
//! Each case gets a factory `Fn(PageOptions) -> Arc<dyn PageStore>` so it can set
//! the TTL and limits it needs, and uses fresh random page keys so cases can share
//! one external server.

use std::sync::Arc;
use std::time::Duration;

use hyperstate::page::{Page, PageOptions, PageStatus, PageStore};
use hyperstate::{BrowserId, Error, Key, Limits, PageId};

/// Builds the backend under test with the given options.
pub trait Factory: Fn(PageOptions) -> Arc<dyn PageStore> + Send + Sync {}
impl<F: Fn(PageOptions) -> Arc<dyn PageStore> + Send + Sync> Factory for F {}

async fn new_page(store: Arc<dyn PageStore>) -> Page {
    Page::open(store, &BrowserId::generate(), PageId::generate())
        .await
        .expect("opening a page")
}

pub async fn round_trip_typed_values(make: &dyn Factory) {
    let page = new_page(make(PageOptions::default())).await;
    page.put("n", &42u32).await.unwrap();
    page.put("list", &vec!["a", "b"]).await.unwrap();
    page.put("map", &serde_json::json!({"x": [1, 2.5, null]}))
        .await
        .unwrap();
    assert_eq!(page.get_or("n", 0u32).await.unwrap(), 42);
    assert_eq!(
        page.get_or("list", Vec::<String>::new()).await.unwrap(),
        ["a", "b"]
    );
    assert_eq!(
        page.get_or("map", serde_json::Value::Null).await.unwrap(),
        serde_json::json!({"x": [1, 2.5, null]})
    );
    // Floats come back bit for bit (found by the property tests: serde_json's
    // default parser rounds some large exponents).
    let float = 5.646719798210702e299_f64;
    page.put("float", &float).await.unwrap();
    assert_eq!(
        page.get_or("float", 0.0f64).await.unwrap().to_bits(),
        float.to_bits()
    );
}

pub async fn missing_keys_return_the_default(make: &dyn Factory) {
    let page = new_page(make(PageOptions::default())).await;
    assert_eq!(page.get_or("absent", 7i64).await.unwrap(), 7);
    page.put("present", &1).await.unwrap();
    assert_eq!(page.get_or("absent", 7i64).await.unwrap(), 7);
}

pub async fn reads_do_not_create_pages(make: &dyn Factory) {
    let store = make(PageOptions::default());
    let (browser, id) = (BrowserId::generate(), PageId::generate());
    let page = Page::open(store.clone(), &browser, id).await.unwrap();
    assert_eq!(page.status(), PageStatus::Unknown);
    assert_eq!(page.get_or("k", 0).await.unwrap(), 0);
    assert!(!page.delete("k").await.unwrap());
    let again = Page::open(store.clone(), &browser, id).await.unwrap();
    assert_eq!(
        again.status(),
        PageStatus::Unknown,
        "a read created the page"
    );
    page.put("k", &1).await.unwrap();
    let again = Page::open(store, &browser, id).await.unwrap();
    assert_eq!(again.status(), PageStatus::Live);
}

pub async fn values_are_json_normalized(make: &dyn Factory) {
    let page = new_page(make(PageOptions::default())).await;
    // A tuple goes in; it comes back as the JSON array any backend would give.
    page.put("t", &(1, "two")).await.unwrap();
    assert_eq!(
        page.get_or("t", serde_json::Value::Null).await.unwrap(),
        serde_json::json!([1, "two"])
    );
    // Reading as the wrong type is a typed error naming the key, not a panic.
    let err = page.get_or("t", 0u8).await.unwrap_err();
    assert!(
        matches!(err, Error::Json { ref key, .. } if key == "t"),
        "{err:?}"
    );
}

pub async fn delete_is_idempotent(make: &dyn Factory) {
    let page = new_page(make(PageOptions::default())).await;
    page.put("k", &1).await.unwrap();
    assert!(page.delete("k").await.unwrap());
    assert!(!page.delete("k").await.unwrap());
    assert_eq!(page.get_or("k", 0).await.unwrap(), 0);
}

pub async fn clear_removes_every_key(make: &dyn Factory) {
    let page = new_page(make(PageOptions::default())).await;
    page.put("a", &1).await.unwrap();
    page.put("b", &2).await.unwrap();
    page.clear().await.unwrap();
    assert_eq!(page.get_or("a", 0).await.unwrap(), 0);
    assert_eq!(page.get_or("b", 0).await.unwrap(), 0);
    page.clear().await.unwrap();
}

pub async fn pages_and_browsers_are_isolated(make: &dyn Factory) {
    let store = make(PageOptions::default());
    let (browser, other_browser) = (BrowserId::generate(), BrowserId::generate());
    let (id, other_id) = (PageId::generate(), PageId::generate());
    let page = Page::open(store.clone(), &browser, id).await.unwrap();
    page.put("cart", &["apple"]).await.unwrap();

    let other_tab = Page::open(store.clone(), &browser, other_id).await.unwrap();
    assert_eq!(
        other_tab
            .get_or("cart", Vec::<String>::new())
            .await
            .unwrap(),
        Vec::<String>::new()
    );

    // Another browser presenting the same page id sees nothing and changes nothing.
    let thief = Page::open(store.clone(), &other_browser, id).await.unwrap();
    assert_eq!(thief.status(), PageStatus::Unknown);
    assert_eq!(
        thief.get_or("cart", Vec::<String>::new()).await.unwrap(),
        Vec::<String>::new()
    );
    thief.put("cart", &["stolen"]).await.unwrap();
    thief.clear().await.unwrap();
    assert_eq!(
        page.get_or("cart", Vec::<String>::new()).await.unwrap(),
        ["apple"]
    );
}

pub async fn update_is_atomic_under_concurrency(make: &dyn Factory) {
    const TASKS: usize = 1_000;
    let page = new_page(make(PageOptions::default())).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        let page = page.clone();
        tasks.spawn(async move { page.update_or("count", 0u64, |n| n + 1).await });
    }
    let mut seen = Vec::with_capacity(TASKS);
    while let Some(result) = tasks.join_next().await {
        seen.push(result.expect("task panicked").expect("update failed"));
    }
    assert_eq!(page.get_or("count", 0u64).await.unwrap(), TASKS as u64);
    // Every update saw a distinct predecessor: none was lost or applied twice.
    seen.sort_unstable();
    assert_eq!(seen, (1..=TASKS as u64).collect::<Vec<_>>());
}

pub async fn update_returns_the_new_value_and_uses_the_default(make: &dyn Factory) {
    let page = new_page(make(PageOptions::default())).await;
    let items = page
        .update_or("items", vec!["seed".to_string()], |mut items| {
            items.push("x".into());
            items
        })
        .await
        .unwrap();
    assert_eq!(items, ["seed", "x"]);
    assert_eq!(
        page.get_or("items", Vec::<String>::new()).await.unwrap(),
        ["seed", "x"]
    );
}

pub async fn failed_update_changes_nothing(make: &dyn Factory) {
    let limits = Limits::default().max_value_bytes(16);
    let page = new_page(make(PageOptions::default().limits(limits))).await;
    page.put("s", &"short").await.unwrap();
    let err = page
        .update_or("s", String::new(), |s| s.repeat(10))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ValueTooLarge { .. }), "{err:?}");
    assert_eq!(page.get_or("s", String::new()).await.unwrap(), "short");
}

pub async fn ttl_expires_idle_pages(make: &dyn Factory) {
    let ttl = Duration::from_secs(2);
    let store = make(PageOptions::default().ttl(ttl));
    let (browser, id) = (BrowserId::generate(), PageId::generate());
    let page = Page::open(store.clone(), &browser, id).await.unwrap();
    page.put("k", &1).await.unwrap();
    tokio::time::sleep(ttl + Duration::from_millis(500)).await;
    // Expired state is never returned, whether or not a sweep has run.
    assert_eq!(page.get_or("k", 0).await.unwrap(), 0);
    let again = Page::open(store.clone(), &browser, id).await.unwrap();
    assert_ne!(again.status(), PageStatus::Live);
    store.sweep().await.unwrap();
    assert_eq!(page.get_or("k", 0).await.unwrap(), 0);
    // Writing again starts a new, empty page.
    page.put("other", &2).await.unwrap();
    assert_eq!(page.get_or("k", 0).await.unwrap(), 0);
    assert_eq!(page.get_or("other", 0).await.unwrap(), 2);
}

pub async fn ttl_slides_on_every_access(make: &dyn Factory) {
    let ttl = Duration::from_secs(2);
    let store = make(PageOptions::default().ttl(ttl));
    let (browser, id) = (BrowserId::generate(), PageId::generate());
    let page = Page::open(store.clone(), &browser, id).await.unwrap();
    page.put("k", &1).await.unwrap();
    // Five accesses 1.2 s apart: 6 s in all, three TTLs, never idle for one.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(
            page.get_or("k", 0).await.unwrap(),
            1,
            "page expired while in use"
        );
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        store
            .touch(&hyperstate::page::PageKey::derive(&browser, &id))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        Page::open(store, &browser, id).await.unwrap().status(),
        PageStatus::Live
    );
}

pub async fn sweep_frees_expired_pages_only(make: &dyn Factory) {
    let ttl = Duration::from_secs(2);
    let store = make(PageOptions::default().ttl(ttl));
    let old = new_page(store.clone()).await;
    old.put("k", &1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let young = new_page(store.clone()).await;
    young.put("k", &2).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    store.sweep().await.unwrap();
    assert_eq!(old.get_or("k", 0).await.unwrap(), 0);
    assert_eq!(young.get_or("k", 0).await.unwrap(), 2);
}

pub async fn limit_on_value_size(make: &dyn Factory) {
    let limits = Limits::default().max_value_bytes(32);
    let page = new_page(make(PageOptions::default().limits(limits))).await;
    let err = page.put("big", &"x".repeat(100)).await.unwrap_err();
    assert!(
        matches!(err, Error::ValueTooLarge { limit: 32, .. }),
        "{err:?}"
    );
    assert_eq!(page.get_or("big", String::new()).await.unwrap(), "");
}

pub async fn limit_on_keys_per_page(make: &dyn Factory) {
    let limits = Limits::default().max_keys(3);
    let page = new_page(make(PageOptions::default().limits(limits))).await;
    for key in ["a", "b", "c"] {
        page.put(key, &1).await.unwrap();
    }
    let err = page.put("d", &1).await.unwrap_err();
    assert!(
        matches!(err, Error::TooManyKeys { limit: 3, .. }),
        "{err:?}"
    );
    // Overwriting an existing key is still allowed at the limit.
    page.put("a", &2).await.unwrap();
    assert_eq!(page.get_or("a", 0).await.unwrap(), 2);
    assert_eq!(page.get_or("d", 0).await.unwrap(), 0);
}

pub async fn limit_on_bytes_per_page(make: &dyn Factory) {
    let limits = Limits::default().max_bytes(64);
    let page = new_page(make(PageOptions::default().limits(limits))).await;
    page.put("a", &"x".repeat(30)).await.unwrap(); // 1 + 32 bytes
    let err = page.put("b", &"y".repeat(30)).await.unwrap_err();
    assert!(
        matches!(err, Error::ScopeTooLarge { limit: 64, .. }),
        "{err:?}"
    );
    assert_eq!(page.get_or("b", String::new()).await.unwrap(), "");
    // Replacing a value counts the new size, not the sum of both.
    page.put("a", &"z".repeat(40)).await.unwrap();
}

pub async fn invalid_keys_are_rejected(make: &dyn Factory) {
    let page = new_page(make(PageOptions::default())).await;
    for key in ["", "a\u{0}b", &"k".repeat(1000)] {
        let err = page.put(key, &1).await.unwrap_err();
        assert!(matches!(err, Error::InvalidKey { .. }), "{key:?}: {err:?}");
        assert!(matches!(
            page.get_or(key, 0).await,
            Err(Error::InvalidKey { .. })
        ));
    }
}

pub async fn typed_keys_and_declined_updates(make: &dyn Factory) {
    const SEATS: Key<u32> = Key::new("seats", || 1);
    const GUESTS: Key<Vec<String>> = Key::or_default("guests");
    let store = make(PageOptions::default());
    let (browser, id) = (BrowserId::generate(), PageId::generate());
    let page = Page::open(store.clone(), &browser, id).await.unwrap();

    // Declining on a page with no state writes nothing: not even the page.
    let declined = page
        .try_update(&GUESTS, |_| Err::<Vec<String>, _>("closed"))
        .await
        .unwrap();
    assert_eq!(declined, Err("closed"));
    let again = Page::open(store.clone(), &browser, id).await.unwrap();
    assert_eq!(
        again.status(),
        PageStatus::Unknown,
        "a declined update created the page"
    );

    assert_eq!(page.get(&SEATS).await.unwrap(), 1);
    let book = |guest: &'static str| {
        move |mut guests: Vec<String>| {
            if guests.len() >= 2 {
                return Err(format!("no seat left for {guest}"));
            }
            guests.push(guest.to_owned());
            Ok(guests)
        }
    };
    assert_eq!(
        page.try_update(&GUESTS, book("ann"))
            .await
            .unwrap()
            .unwrap(),
        ["ann"]
    );
    assert_eq!(
        page.try_update(&GUESTS, book("bob"))
            .await
            .unwrap()
            .unwrap(),
        ["ann", "bob"]
    );
    let refused = page.try_update(&GUESTS, book("cy")).await.unwrap();
    assert_eq!(refused, Err("no seat left for cy".to_owned()));
    assert_eq!(page.get(&GUESTS).await.unwrap(), ["ann", "bob"]);

    // A typed key and a string key of the same name address the same value.
    page.put(&SEATS, &5).await.unwrap();
    assert_eq!(page.get_or("seats", 0u32).await.unwrap(), 5);
    assert_eq!(page.update(&SEATS, |n| n + 1).await.unwrap(), 6);
    assert!(page.delete(&SEATS).await.unwrap());
    assert_eq!(page.get(&SEATS).await.unwrap(), 1);
}

/// Expands every page-store case into a `#[tokio::test]`.
///
/// `$make` is an expression of a type implementing [`Factory`]; `time = paused`
/// or `time = real` chooses how the TTL cases wait. The optional
/// `skip_unless = COND` skips every case (returning early) when `COND` is false,
/// for backends whose server may be absent; `COND` should print why.
#[macro_export]
macro_rules! page_store_suite {
    ($make:expr, time = $time:ident) => {
        $crate::page_store_suite!($make, time = $time, skip_unless = true);
    };
    ($make:expr, time = $time:ident, skip_unless = $cond:expr) => {
        $crate::page_store_suite!(@cases $make, $time, $cond;
            round_trip_typed_values, missing_keys_return_the_default, reads_do_not_create_pages,
            values_are_json_normalized, delete_is_idempotent, clear_removes_every_key,
            pages_and_browsers_are_isolated, update_is_atomic_under_concurrency,
            update_returns_the_new_value_and_uses_the_default, failed_update_changes_nothing,
            limit_on_value_size, limit_on_keys_per_page, limit_on_bytes_per_page,
            invalid_keys_are_rejected, typed_keys_and_declined_updates;
            ttl_expires_idle_pages, ttl_slides_on_every_access, sweep_frees_expired_pages_only);
    };
    (@cases $make:expr, $time:ident, $cond:expr; $($case:ident),*; $($ttl_case:ident),*) => {
        $(
            #[$crate::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if !($cond) { return; }
                $crate::page::$case(&$make).await;
            }
        )*
        $( $crate::page_store_suite!(@ttl $make, $time, $cond, $ttl_case); )*
    };
    (@ttl $make:expr, paused, $cond:expr, $case:ident) => {
        #[$crate::tokio::test(start_paused = true)]
        async fn $case() {
            if !($cond) { return; }
            $crate::page::$case(&$make).await;
        }
    };
    (@ttl $make:expr, real, $cond:expr, $case:ident) => {
        #[$crate::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            if !($cond) { return; }
            $crate::page::$case(&$make).await;
        }
    };
}
