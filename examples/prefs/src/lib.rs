//! The preferences routes. A library so its tests can drive the router.

use axum::{
    Form, Router,
    http::StatusCode,
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use hyperstate_axum::prelude::*;
use serde::{Deserialize, Serialize};

/// This app's slice of the browser's session, declared once (the rules).
static PREFS: View = View::new("prefs");

#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    #[default]
    Light,
    Dark,
}

const THEME: Key<Theme> = Key::or_default("theme");
const TEXT_SIZE: Key<u8> = Key::new("text_size", || 16);
const LANGUAGE: Key<String> = Key::new("language", || "en".to_owned());

/// The form as posted. Serde refuses an unknown theme or a size that is not
/// a small number (axum answers 422 before the handler runs).
#[derive(Deserialize)]
struct PrefsForm {
    theme: Theme,
    text_size: u8,
    language: String,
}

/// GET /: renders the form with the browser's saved values, or the keys'
/// defaults for a browser that never saved (a read sets no cookie).
async fn home(_page: Page, session: Session) -> Result<Html<String>, Error> {
    let prefs = session.view(&PREFS);
    let (theme, size, language) = (
        prefs.get(&THEME).await?,
        prefs.get(&TEXT_SIZE).await?,
        prefs.get(&LANGUAGE).await?,
    );
    let (theme, dark) = match theme {
        Theme::Light => ("light", ""),
        Theme::Dark => ("dark", " selected"),
    };
    Ok(Html(format!(
        r##"<!doctype html>
<html><head><script src="{htmx}"></script></head>
<body style="font-size: {size}px" data-theme="{theme}" lang="{language}">
  <form hx-post="/prefs" hx-target="#saved">
    <select name="theme"><option value="light">light</option><option value="dark"{dark}>dark</option></select>
    <input name="text_size" type="number" min="10" max="32" value="{size}">
    <select name="language"><option>{language}</option><option>en</option><option>fr</option><option>de</option></select>
    <button>Save</button> <span id="saved"></span>
  </form>
</body></html>"##,
        htmx = assets::HTMX_2,
    )))
}

/// POST /prefs: all three keys in one durable commit, so a crash or a failed
/// store never leaves half the preferences saved. The first write mints the
/// browser's cookie.
async fn save(session: Session, Form(form): Form<PrefsForm>) -> Result<Response, Error> {
    if !(10..=32).contains(&form.text_size) {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            "text size must be 10 to 32",
        )
            .into_response());
    }
    if !["en", "fr", "de"].contains(&form.language.as_str()) {
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, "unknown language").into_response());
    }
    session
        .view(&PREFS)
        .write()
        .put(&THEME, &form.theme)
        .put(&TEXT_SIZE, &form.text_size)
        .put(&LANGUAGE, &form.language)
        .commit()
        .await?;
    Ok("saved".into_response())
}

/// POST /prefs/reset: back to the defaults, again as one commit.
async fn reset(session: Session) -> Result<&'static str, Error> {
    let prefs = session.view(&PREFS);
    prefs
        .write()
        .delete(&THEME)
        .delete(&TEXT_SIZE)
        .delete(&LANGUAGE)
        .commit()
        .await?;
    Ok("reset")
}

/// The routes, with hyperstate's layer, and the htmx it serves.
pub fn app(state: &Hyperstate) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/prefs", post(save))
        .route("/prefs/reset", post(reset))
        .layer(state.layer())
        .merge(assets::routes())
}
