use axum::{
    Form, Router,
    response::Html,
    routing::{get, post},
};
use hyperstate_axum::prelude::*;
use serde::Deserialize;

/// This app's slice of each browser's durable session.
static PREFS: View = View::new("prefs");
/// The tab's counter: declared once, with its type and its default.
const COUNT: Key<u64> = Key::or_default("n");
/// The browser's theme, in the `prefs` view.
const THEME: Key<String> = Key::new("theme", || "light".to_owned());

/// GET /: a full page load. hyperstate gives the tab a fresh page id and
/// injects it, so every htmx request from this page sends it back.
async fn home(page: Page, session: Session) -> Result<Html<String>, Error> {
    let n = page.get(&COUNT).await?;
    let theme = session.view(&PREFS).get(&THEME).await?;
    Ok(Html(format!(
        r##"<!doctype html>
<html><head><script src="{htmx}"></script></head>
<body class="{theme}">
  <button hx-post="/count" hx-target="#n">+1</button> <b id="n">{n}</b>
  <form hx-post="/theme" hx-target="#theme">
    <select name="theme"><option>light</option><option>dark</option></select>
    <button>Save</button> <span id="theme">{theme}</span>
  </form>
</body></html>"##,
        htmx = assets::HTMX_2,
    )))
}

/// POST /count: this tab's counter (page state; a refresh starts at 0).
async fn count(page: Page) -> Result<String, Error> {
    Ok(page.update(&COUNT, |n| n + 1).await?.to_string())
}

#[derive(Deserialize)]
struct ThemeForm {
    theme: String,
}

/// POST /theme: this browser's theme (session state, durable; the first
/// write sets the browser's cookie).
async fn theme(session: Session, Form(form): Form<ThemeForm>) -> Result<&'static str, Error> {
    let theme = if form.theme == "dark" {
        "dark"
    } else {
        "light"
    };
    session.view(&PREFS).put(&THEME, theme).await?;
    Ok(theme)
}

/// The routes, with hyperstate's layer, and the htmx it serves.
pub fn app(state: &Hyperstate) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/count", post(count))
        .route("/theme", post(theme))
        .layer(state.layer())
        .merge(assets::routes())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Pages and rooms in memory, sessions in ./data: nothing to set up.
    let state = Hyperstate::builder().build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    // Timeouts, connection caps, HTTP/1.1 and HTTP/2, graceful shutdown.
    serve(listener, app(&state))
        .hyperstate(&state)
        .run(shutdown_signal())
        .await?;
    state.shutdown().await;
    Ok(())
}
