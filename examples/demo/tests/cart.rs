//! The cart over HTTP, in process: page scope as a browser sees it.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::Browser;
use hyperstate_axum::{HttpConfig, Hyperstate};

fn browser() -> Browser {
    let state = Hyperstate::builder()
        .config(HttpConfig::default().secure_cookie(false))
        .without_sessions()
        .build()
        .unwrap();
    Browser::new(hyperstate_demo::router(&state))
}

#[tokio::test]
async fn full_page_has_the_page_id_injected_and_fragments_do_not() {
    let browser = browser();
    let page = browser.load("/cart").await;
    assert_eq!(page.status, StatusCode::OK);
    let id = page.page_id().expect("page id injected into the document");
    assert_eq!(id.len(), 30);
    assert!(page.body.contains("htmx:configRequest") && page.body.contains("htmx:config:request"));
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");

    let fragment = browser.htmx_post("/cart/items", &id, "name=apple").await;
    assert_eq!(fragment.status, StatusCode::OK);
    assert_eq!(
        fragment.page_id(),
        None,
        "fragment got an injected page id: {}",
        fragment.body
    );
    assert!(!fragment.body.contains("<script"));
    assert_eq!(fragment.cart_items(), ["apple"]);
}

#[tokio::test]
async fn browser_cookie_is_http_only_and_same_site_lax() {
    let browser = browser();
    let page = browser
        .send(Request::get("/cart").body(Body::empty()).unwrap())
        .await;
    let cookie = page.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("hs_bid="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    // The index page uses no state: it sets no cookie.
    let index = browser.another().load("/").await;
    assert!(index.headers.get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn state_follows_the_page_and_a_refresh_resets_it() {
    let browser = browser();
    let first = browser.load("/cart").await.page_id().unwrap();
    browser.htmx_post("/cart/items", &first, "name=apple").await;
    let reply = browser.htmx_post("/cart/items", &first, "name=pear").await;
    assert_eq!(reply.cart_items(), ["apple", "pear"]);

    // Refresh: a new document, a new page id, an empty cart.
    let refreshed = browser.load("/cart").await;
    let second = refreshed.page_id().unwrap();
    assert_ne!(first, second);
    assert!(refreshed.cart_items().is_empty());
    let reply = browser.htmx_post("/cart/items", &second, "name=plum").await;
    assert_eq!(reply.cart_items(), ["plum"]);
}

#[tokio::test]
async fn two_tabs_have_two_carts() {
    let browser = browser();
    let tab1 = browser.load("/cart").await.page_id().unwrap();
    let tab2 = browser.load("/cart").await.page_id().unwrap();
    browser.htmx_post("/cart/items", &tab1, "name=apple").await;
    let reply = browser.htmx_post("/cart/items", &tab2, "name=pear").await;
    assert_eq!(reply.cart_items(), ["pear"]);
    let reply = browser.htmx_post("/cart/items", &tab1, "name=fig").await;
    assert_eq!(reply.cart_items(), ["apple", "fig"]);
}

#[tokio::test]
async fn malformed_page_id_is_a_400_with_a_message() {
    let browser = browser();
    browser.load("/cart").await;
    for bad in ["nope", "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", &"a".repeat(300)] {
        let reply = browser.htmx_post("/cart/items", bad, "name=x").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(reply.body.contains("malformed page id"), "{}", reply.body);
    }
}

#[tokio::test]
async fn htmx_request_without_page_id_is_a_400_that_says_why() {
    let browser = browser();
    let reply = browser
        .send(
            Request::post("/cart/items")
                .header("hx-request", "true")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("name=x"))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("X-Page-Id"), "{}", reply.body);
}

#[tokio::test]
async fn plain_form_post_carries_the_page_in_a_field() {
    let browser = browser();
    let id = browser.load("/cart").await.page_id().unwrap();
    browser.htmx_post("/cart/items", &id, "name=apple").await;
    let reply = browser
        .send(
            Request::post("/cart/items")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("name=pear&_page_id={id}")))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.cart_items(), ["apple", "pear"]);
}

#[tokio::test]
async fn another_browser_with_the_page_id_sees_and_changes_nothing() {
    let owner = browser();
    let id = owner.load("/cart").await.page_id().unwrap();
    owner.htmx_post("/cart/items", &id, "name=apple").await;

    let thief = owner.another();
    thief.load("/").await; // a cookie of its own, or none: either way not the owner's
    let reply = thief.htmx_post("/cart/items", &id, "name=stolen").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.cart_items(),
        ["stolen"],
        "the thief saw the owner's cart"
    );
    let reply = thief.htmx_post("/cart/clear", &id, "").await;
    assert!(reply.cart_items().is_empty());

    let reply = owner.htmx_post("/cart/items", &id, "name=pear").await;
    assert_eq!(
        reply.cart_items(),
        ["apple", "pear"],
        "the thief changed the owner's cart"
    );
}

#[tokio::test]
async fn bad_input_is_a_400_with_a_message() {
    let browser = browser();
    let id = browser.load("/cart").await.page_id().unwrap();
    let reply = browser.htmx_post("/cart/items", &id, "name=%20%20").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("must not be empty"));
    let reply = browser.htmx_post("/cart/items", &id, "nom=x").await;
    assert_eq!(reply.status.as_u16() / 100, 4, "{:?}", reply.status);
}

#[tokio::test]
async fn cart_too_large_is_a_413_and_keeps_the_cart() {
    let browser = browser();
    let id = browser.load("/cart").await.page_id().unwrap();
    let name = "x".repeat(100);
    let mut last_ok = 0;
    for n in 1..=1_000 {
        let reply = browser
            .htmx_post("/cart/items", &id, &format!("name={name}"))
            .await;
        if reply.status == StatusCode::PAYLOAD_TOO_LARGE {
            assert!(reply.body.contains("exceeds the limit"), "{}", reply.body);
            break;
        }
        assert_eq!(reply.status, StatusCode::OK);
        last_ok = n;
    }
    assert!(
        last_ok > 100 && last_ok < 1_000,
        "value limit never reached: {last_ok}"
    );
    let reply = browser.htmx_post("/cart/clear", &id, "").await;
    assert!(reply.cart_items().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_additions_on_one_page_keep_all_items() {
    let browser = browser();
    let id = browser.load("/cart").await.page_id().unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..200 {
        let (browser, id) = (browser.clone(), id.clone());
        tasks.spawn(async move {
            browser
                .htmx_post("/cart/items", &id, &format!("name=item{n}"))
                .await
        });
    }
    while let Some(reply) = tasks.join_next().await {
        assert_eq!(reply.unwrap().status, StatusCode::OK);
    }
    let reply = browser.htmx_post("/cart/items", &id, "name=last").await;
    let mut items = reply.cart_items();
    assert_eq!(items.len(), 201);
    items.sort();
    items.dedup();
    assert_eq!(items.len(), 201, "an item was lost or duplicated");
}

#[tokio::test]
async fn health_and_unknown_routes() {
    let browser = browser();
    assert_eq!(browser.load("/healthz").await.status, StatusCode::OK);
    assert_eq!(
        browser.load("/no/such/page").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        browser.load(hyperstate_axum::assets::HTMX_2).await.status,
        StatusCode::OK
    );
    assert_eq!(
        browser.load(hyperstate_axum::assets::HTMX_4).await.status,
        StatusCode::OK
    );
    let page = browser.load("/cart?htmx=4").await;
    assert!(page.body.contains(hyperstate_axum::assets::HTMX_4));
    assert_eq!(
        browser.load("/cart?htmx=9").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn cross_site_form_post_and_forged_origin_htmx_request_are_refused() {
    let browser = browser();
    let id = browser.load("/cart").await.page_id().unwrap();
    browser.htmx_post("/cart/items", &id, "name=apple").await;

    // A form on another site posting into the demo (the browser attaches cookies).
    let cross_site_form = Request::post("/cart/items")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .header(header::HOST, "127.0.0.1:3000")
        .body(Body::from(format!("name=evil&_page_id={id}")))
        .unwrap();
    let reply = browser.send(cross_site_form).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("cross-site"), "{}", reply.body);

    // An htmx-looking request with a forged Origin (no Sec-Fetch-Site).
    let forged = Request::post("/cart/items")
        .header("hx-request", "true")
        .header("x-page-id", &id)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "http://attacker.test")
        .header(header::HOST, "127.0.0.1:3000")
        .body(Body::from("name=evil"))
        .unwrap();
    assert_eq!(browser.send(forged).await.status, StatusCode::FORBIDDEN);

    // The same request from the demo's own origin goes through; nothing evil landed.
    let same_origin = Request::post("/cart/items")
        .header("hx-request", "true")
        .header("x-page-id", &id)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "http://127.0.0.1:3000")
        .header("sec-fetch-site", "same-origin")
        .header(header::HOST, "127.0.0.1:3000")
        .body(Body::from("name=pear"))
        .unwrap();
    let reply = browser.send(same_origin).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.cart_items(), ["apple", "pear"]);
}
