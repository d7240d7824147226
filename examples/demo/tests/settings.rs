//! `/settings` over HTTP, in process: session scope as a browser sees it,
//! across restarts of the app on the same data directory.

mod common;

use axum::http::StatusCode;
use common::{Browser, Reply};
use hyperstate_axum::{HttpConfig, Hyperstate};
use hyperstate_demo::DemoConfig;

fn start(dir: &std::path::Path) -> (Hyperstate, axum::Router) {
    let config = DemoConfig::new(dir).http(HttpConfig::default().secure_cookie(false));
    let state = hyperstate_demo::hyperstate(&config).expect("starting the demo");
    let app = hyperstate_demo::router(&state);
    (state, app)
}

fn draft(reply: &Reply) -> String {
    if reply.body.contains("data-empty") {
        String::new()
    } else {
        reply.text_of("draft-value").unwrap_or_default()
    }
}

#[tokio::test]
async fn theme_survives_an_app_restart_on_the_same_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let (state, app) = start(dir.path());
    let browser = Browser::new(app);
    let page = browser.load("/settings").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text_of("theme-value").as_deref(), Some("light"));
    let id = page.page_id().unwrap();
    let reply = browser
        .htmx_post("/settings/theme", &id, "theme=dark")
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text_of("theme-value").as_deref(), Some("dark"));
    assert!(browser.cookie().is_some(), "the first write set the cookie");
    state.shutdown().await;
    drop(state);

    let (state, app) = start(dir.path());
    let browser = browser.restarted(app);
    // A new tab, a new page id, the same theme.
    let page = browser.load("/settings").await;
    assert_eq!(page.text_of("theme-value").as_deref(), Some("dark"));
    // Another browser does not see it.
    let stranger = browser.another().load("/settings").await;
    assert_eq!(stranger.text_of("theme-value").as_deref(), Some("light"));
    state.shutdown().await;
}

#[tokio::test]
async fn draft_survives_a_restart_for_its_page_and_is_gone_for_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let (state, app) = start(dir.path());
    let browser = Browser::new(app);
    let tab = browser.load("/settings").await.page_id().unwrap();
    let reply = browser
        .htmx_post("/settings/draft", &tab, "draft=Dear+Sir%2C")
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(draft(&reply), "Dear Sir,");
    // Another page of the same browser does not see this tab's draft. (It is
    // opened on /cart: a fresh load of /settings itself would clear the draft.)
    let other_tab = browser.load("/cart").await.page_id().unwrap();
    assert_eq!(
        draft(&browser.htmx_get("/settings/draft", &other_tab).await),
        ""
    );
    state.shutdown().await;
    drop(state);

    let (state, app) = start(dir.path());
    let browser = browser.restarted(app);
    // The tab stayed open across the restart: its draft is back.
    let reply = browser.htmx_get("/settings/draft", &tab).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(draft(&reply), "Dear Sir,");
    // A fresh visit (a new page id) starts blank...
    let fresh = browser.load("/settings").await;
    assert_eq!(draft(&fresh), "");
    let new_tab = fresh.page_id().unwrap();
    assert_eq!(
        draft(&browser.htmx_get("/settings/draft", &new_tab).await),
        ""
    );
    // ... and clears the old draft for good.
    assert_eq!(draft(&browser.htmx_get("/settings/draft", &tab).await), "");
    state.shutdown().await;
}

#[tokio::test]
async fn reading_settings_sets_no_cookie_and_bad_input_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (state, app) = start(dir.path());
    let browser = Browser::new(app);
    let page = browser.load("/settings").await;
    assert!(browser.cookie().is_none(), "a read minted a cookie");
    let id = page.page_id().unwrap();
    let reply = browser.htmx_post("/settings/theme", &id, "theme=+++").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = browser.htmx_post("/settings/theme", &id, "nope=1").await;
    assert!(reply.status.is_client_error());
    let long = "x".repeat(5000);
    let reply = browser
        .htmx_post("/settings/draft", &id, &format!("draft={long}"))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    // The draft needs the page id: a post without one is refused, not stored.
    let reply = browser
        .send(
            axum::http::Request::post("/settings/draft")
                .header("hx-request", "true")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from("draft=x"))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    state.shutdown().await;
}

/// A page load another site started (a link, a redirect) must not erase the
/// tab's draft: only this site's own navigations, or a typed address, may.
#[tokio::test]
async fn only_a_navigation_of_this_site_clears_the_draft() {
    let dir = tempfile::tempdir().unwrap();
    let (state, app) = start(dir.path());
    let browser = Browser::new(app);
    let tab = browser.load("/settings").await.page_id().unwrap();
    let reply = browser
        .htmx_post("/settings/draft", &tab, "draft=keep+me")
        .await;
    assert_eq!(draft(&reply), "keep me");
    let navigate = |site: &'static str| {
        axum::http::Request::get("/settings")
            .header("accept", "text/html")
            .header("sec-fetch-site", site)
            .header("sec-fetch-mode", "navigate")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    for site in ["cross-site", "same-site"] {
        let page = browser.send(navigate(site)).await;
        assert_eq!(page.status, StatusCode::OK, "{site}");
        assert_eq!(
            draft(&browser.htmx_get("/settings/draft", &tab).await),
            "keep me",
            "a {site} page load erased the draft"
        );
    }
    browser.send(navigate("same-origin")).await;
    assert_eq!(draft(&browser.htmx_get("/settings/draft", &tab).await), "");
    state.shutdown().await;
}

/// Per-browser content must not be kept by a shared cache.
#[tokio::test]
async fn session_responses_are_not_stored_by_caches() {
    let dir = tempfile::tempdir().unwrap();
    let (state, app) = start(dir.path());
    let browser = Browser::new(app);
    let tab = browser.load("/settings").await.page_id().unwrap();
    browser
        .htmx_post("/settings/draft", &tab, "draft=mine")
        .await;
    for reply in [
        browser.htmx_get("/settings/draft", &tab).await,
        browser
            .htmx_post("/settings/theme", &tab, "theme=dark")
            .await,
    ] {
        assert_eq!(reply.status, StatusCode::OK);
        let cache = reply
            .headers
            .get("cache-control")
            .map(|v| v.to_str().unwrap());
        assert!(
            cache.is_some_and(|v| v.contains("no-store") && v.contains("private")),
            "{cache:?}"
        );
    }
    state.shutdown().await;
}

/// A truncated session file (a full disk, a bad restore) costs the browser its
/// settings, not every later request: the page answers, and saving works.
#[tokio::test]
async fn a_truncated_session_file_does_not_brick_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let (state, app) = start(dir.path());
    let browser = Browser::new(app);
    let tab = browser.load("/settings").await.page_id().unwrap();
    browser
        .htmx_post("/settings/theme", &tab, "theme=dark")
        .await;
    let shards = dir.path().join("sessions");
    let file = std::fs::read_dir(&shards)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().unwrap().len() == 2)
        .flat_map(|shard| std::fs::read_dir(shard).unwrap())
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|ext| ext == "json"))
        .expect("the session's file");
    // Found after a restart (a node caches what it wrote, so a file changed
    // behind a running node's back shows at its next write, not its next read).
    state.shutdown().await;
    drop(state);
    let body = std::fs::read(&file).unwrap();
    std::fs::write(&file, &body[..body.len() / 2]).unwrap();
    let (state, app) = start(dir.path());
    let browser = browser.restarted(app);

    let page = browser.load("/settings").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.text_of("theme-value").as_deref(), Some("light"));
    let tab = page.page_id().unwrap();
    let saved = browser
        .htmx_post("/settings/theme", &tab, "theme=blue")
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let page = browser.load("/settings").await;
    assert_eq!(page.text_of("theme-value").as_deref(), Some("blue"));
    let kept = std::fs::read_dir(shards.join("quarantine"))
        .unwrap()
        .count();
    assert_eq!(kept, 1, "the truncated file was not kept aside");
    state.shutdown().await;
}
