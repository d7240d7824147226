//! Page state through the fault proxy.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use hyperstate::page::{Page, PageOptions, PageStore};
use hyperstate::{BrowserId, PageId};
use hyperstate_conformance::fault_proxy::{FaultProxy, NetFault};
use hyperstate_redis::RedisPageStore;

use crate::support::{
    FAILING, TIMEOUT, allowed_after, assert_lost_reply_update_ran_once, assert_unavailable,
    assert_update_fails_unretried, bounded, proxied_redis,
};

fn fresh_page(store: &Arc<dyn PageStore>) -> Page {
    Page::fresh(store.clone(), &BrowserId::generate(), PageId::generate())
}

/// Reads `key` twice once the link is healthy again; both reads must agree.
async fn settled_value(fault: NetFault, page: &Page) -> String {
    let first: String = bounded("a read after the fault", page.get_or("k", String::new()))
        .await
        .unwrap_or_else(|err| panic!("{fault:?}: read after the fault cleared failed: {err:?}"));
    let again: String = bounded("a second read", page.get_or("k", String::new()))
        .await
        .unwrap();
    assert_eq!(first, again, "{fault:?}: re-reads disagree");
    first
}

async fn store() -> Option<(FaultProxy, Arc<dyn PageStore>)> {
    let (proxy, redis) = proxied_redis().await?;
    Some((
        proxy,
        Arc::new(RedisPageStore::new(redis, PageOptions::default())),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_is_a_typed_error_and_the_same_store_recovers() {
    let Some((proxy, store)) = store().await else {
        return;
    };
    for fault in FAILING {
        let page = fresh_page(&store);
        page.put("k", "old").await.unwrap();

        proxy.set(fault);
        let put = bounded(&format!("{fault:?}: put"), page.put("k", "new")).await;
        assert_unavailable(fault, "put", put);
        let get = bounded(&format!("{fault:?}: get"), page.get_or("k", String::new())).await;
        assert_unavailable(fault, "get", get);
        assert_update_fails_unretried(fault, |runs| {
            page.update_or("n", 0u32, move |n| {
                runs.fetch_add(1, Ordering::SeqCst);
                n + 1
            })
        })
        .await;
        assert!(
            bounded(&format!("{fault:?}: health"), store.check_health())
                .await
                .is_err()
        );

        proxy.set(NetFault::PassThrough);
        let value = settled_value(fault, &page).await;
        assert!(
            allowed_after(fault, "old", "new").contains(&value.as_str()),
            "{fault:?}: after a failed write the key holds {value:?}"
        );
        // The same store, no reconnect by hand: writes land again.
        page.put("k", "after").await.unwrap();
        assert_eq!(page.get_or("k", String::new()).await.unwrap(), "after");
        assert!(store.check_health().await.is_ok());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_whose_reply_is_lost_landed_once_and_is_not_retried() {
    let Some((proxy, store)) = store().await else {
        return;
    };
    let page = fresh_page(&store);
    // A first update loads the compare-and-set script, so the faulty one is a
    // single EVALSHA that Redis runs (a NOSCRIPT reply would be what is lost).
    assert_eq!(page.update_or("n", 0u32, |n| n + 1).await.unwrap(), 1);
    assert_lost_reply_update_ran_once(&proxy, |strike| {
        page.update_or("n", 0u32, move |n| {
            strike.now();
            n + 1
        })
    })
    .await;
    // The compare-and-set reached Redis: the increment is there, once.
    assert_eq!(page.get_or("n", 0u32).await.unwrap(), 2);
    assert_eq!(page.update_or("n", 0u32, |n| n + 1).await.unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delay_within_the_timeout_is_only_slower() {
    let Some((proxy, store)) = store().await else {
        return;
    };
    let page = fresh_page(&store);
    proxy.set(NetFault::Delay(TIMEOUT / 4));
    bounded("put", page.put("k", "slow")).await.unwrap();
    let value: String = bounded("get", page.get_or("k", String::new()))
        .await
        .unwrap();
    assert_eq!(value, "slow");
    assert_eq!(
        bounded("update", page.update_or("n", 0u32, |n| n + 1))
            .await
            .unwrap(),
        1
    );
}
