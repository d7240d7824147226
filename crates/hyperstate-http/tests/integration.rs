//! The pieces of this crate carry a request from its headers to page and
//! session state and back to a `Set-Cookie`, with no web framework: what an
//! integration for another framework is built from. The helper below is the
//! middleware such an integration writes.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use http::{HeaderValue, Method, Request, header};
use hyperstate::memory::MemoryDocumentStore;
use hyperstate::page::Page;
use hyperstate::session::{RequestSession, SessionSecret, View};
use hyperstate::{Key, PageId};
use hyperstate_http::csrf::{self, FetchSite};
use hyperstate_http::page_id::{self, PAGE_ID_HEADER, PageSource};
use hyperstate_http::{
    ClientAddr, HttpConfig, Hyperstate, RateLimit, RequestContext, browser_cookie,
};

const COUNT: Key<u32> = Key::or_default("count");
const THEME: Key<String> = Key::new("theme", || "light".to_owned());

fn hyperstate(config: HttpConfig) -> Hyperstate {
    Hyperstate::builder()
        .session_store(Arc::new(MemoryDocumentStore::default()))
        .session_secret(SessionSecret::generate())
        .config(config)
        .build()
        .expect("sessions in memory need no disk")
}

/// What an integration's middleware does before the handler runs.
fn context(state: &Hyperstate, request: &Request<()>) -> Result<RequestContext, String> {
    let config = state.config();
    let headers = request.headers();
    let site = FetchSite::of(headers);
    let target = csrf::Target {
        uri: request.uri(),
        https: config.secure_cookie,
    };
    csrf::check(
        request.method(),
        target,
        site,
        headers,
        &config.trusted_origins,
    )?;
    let htmx = page_id::is_htmx(headers);
    let browser = browser_cookie::read(headers, &config.cookie_name, state.browser_ids());
    let carried = page_id::from_header(headers).map_err(|err| err.to_string())?;
    let page = PageSource::resolve(carried, htmx, request.method());
    let peer: IpAddr = [192, 0, 2, 1].into();
    let client = ClientAddr::of_request(&config.client_ip, headers, Some(peer));
    Ok(RequestContext::new(
        state.clone(),
        browser,
        page,
        htmx,
        site.is_another_site(),
        client,
    ))
}

/// What an integration's middleware does after the handler: the cookie to
/// set, if any, as a `Cookie` header for the browser's next request.
fn cookie_to_send_back(state: &Hyperstate, context: &RequestContext) -> Option<HeaderValue> {
    let now = SystemTime::now();
    let browser = context.browser_id_to_issue(now)?;
    let config = state.config();
    let set = browser_cookie::issue(
        state.browser_ids(),
        &browser,
        &config.cookie_name,
        config.secure_cookie,
        now,
    )?;
    let pair = set.to_str().ok()?.split(';').next()?.to_owned();
    HeaderValue::from_str(&pair).ok()
}

/// What an integration's `Page` extractor does.
async fn page(state: &Hyperstate, context: &RequestContext) -> hyperstate::Result<Page> {
    let browser = context.browser_id_or_mint()?;
    let store = state.pages().clone();
    Ok(match context.page_source() {
        PageSource::Fresh(id) => Page::fresh(store, &browser, id),
        PageSource::Carried(id) => Page::open(store, &browser, id).await?,
        PageSource::Absent => panic!("the requests of this test all carry a page"),
    })
}

fn htmx_post(cookie: &HeaderValue, page: PageId) -> Request<()> {
    Request::post("/count")
        .header(header::COOKIE, cookie)
        .header("hx-request", "true")
        .header(PAGE_ID_HEADER, page.to_string())
        .body(())
        .unwrap()
}

#[tokio::test]
async fn page_and_session_state_follow_the_browser_from_request_to_request() {
    let state = hyperstate(HttpConfig::default());
    let load = Request::get("/").body(()).unwrap();
    let loaded = context(&state, &load).unwrap();
    assert!(loaded.is_fresh_page_load());
    let first = page(&state, &loaded).await.unwrap();
    first.put(&COUNT, &1).await.unwrap();
    let cookie = cookie_to_send_back(&state, &loaded).expect("the load minted a browser id");
    let page_id = loaded.page_id().expect("a document load gets a page id");

    let next = context(&state, &htmx_post(&cookie, page_id)).unwrap();
    assert_eq!(next.browser_id(), loaded.browser_id());
    assert_eq!(
        page(&state, &next)
            .await
            .unwrap()
            .get(&COUNT)
            .await
            .unwrap(),
        1
    );
    assert!(
        cookie_to_send_back(&state, &next).is_none(),
        "a fresh cookie is not issued again"
    );

    // The session's first write goes under the browser id the cookie carries.
    let prefs = View::new("prefs");
    let sessions = state.sessions().cloned().expect("sessions are on");
    let session = RequestSession::new(sessions.clone(), Arc::new(next.clone()));
    session.view(&prefs).put(&THEME, "dark").await.unwrap();
    let again = context(&state, &htmx_post(&cookie, page_id)).unwrap();
    let read = RequestSession::new(sessions, Arc::new(again));
    assert_eq!(read.view(&prefs).get(&THEME).await.unwrap(), "dark");

    // Another browser presenting the same page id finds another, empty page.
    let stranger = context(&state, &Request::get("/").body(()).unwrap()).unwrap();
    let stranger_cookie = {
        stranger.browser_id_or_mint().unwrap();
        cookie_to_send_back(&state, &stranger).unwrap()
    };
    let elsewhere = context(&state, &htmx_post(&stranger_cookie, page_id)).unwrap();
    let theirs = page(&state, &elsewhere).await.unwrap();
    assert_eq!(theirs.get(&COUNT).await.unwrap(), 0);
    state.shutdown().await;
}

#[tokio::test]
async fn cross_site_posts_and_minting_past_the_allowance_are_refused() {
    let config = HttpConfig::default().browser_id_rate(Some(RateLimit::new(1, 1)));
    let state = hyperstate(config);
    let forged = Request::builder()
        .method(Method::POST)
        .uri("/count")
        .header("sec-fetch-site", "cross-site")
        .body(())
        .unwrap();
    assert!(context(&state, &forged).is_err());

    // One new browser id for this client, then a refusal saying when to retry.
    let load = || context(&state, &Request::get("/").body(()).unwrap()).unwrap();
    load().browser_id_or_mint().unwrap();
    match load().browser_id_or_mint() {
        Err(hyperstate::Error::RateLimited { what, .. }) => assert_eq!(what, "new browser ids"),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    state.shutdown().await;
}
