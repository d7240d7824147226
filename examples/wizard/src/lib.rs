//! The wizard's routes. A library so its tests can drive the router.

use axum::{
    Form, Router,
    http::StatusCode,
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use hyperstate_axum::prelude::*;
use serde::{Deserialize, Serialize};

/// The whole wizard as one value: read, validated and advanced as a unit, so
/// a step can never see half of another step's write.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Wizard {
    /// 0 = name, 1 = email, 2 = confirm, 3 = done.
    pub step: u8,
    pub name: String,
    pub email: String,
}

/// Declared once with its type: `page.get(&WIZARD)` is a `Wizard`, and a
/// fresh page reads `Wizard::default()` (step 0).
const WIZARD: Key<Wizard> = Key::or_default("wizard");

/// What a step posts: the step the form was rendered for, and its field.
#[derive(Deserialize)]
struct StepForm {
    step: u8,
    #[serde(default)]
    value: String,
}

/// GET /: the full page load. It takes `Page` (the rules: this binds the page
/// id to the browser before any htmx request can race for it).
async fn home(page: Page) -> Result<Html<String>, Error> {
    let wizard = page.get(&WIZARD).await?;
    Ok(Html(format!(
        r#"<!doctype html>
<html><head><script src="{htmx}"></script></head>
<body><div id="wizard">{}</div></body></html>"#,
        render(&wizard),
        htmx = assets::HTMX_2,
    )))
}

/// POST /next: validate the posted step against the stored one and advance,
/// atomically. A closure returning `Err` writes nothing.
async fn next(page: Page, Form(form): Form<StepForm>) -> Result<Response, Error> {
    let advanced = page
        .try_update(&WIZARD, |mut wizard| {
            advance(&mut wizard, &form)?;
            Ok::<_, String>(wizard)
        })
        .await?;
    Ok(match advanced {
        Ok(wizard) => Html(render(&wizard)).into_response(),
        // 422 with a message; htmx leaves the form in place on a 4xx.
        Err(why) => (StatusCode::UNPROCESSABLE_ENTITY, why).into_response(),
    })
}

/// The rules of each step, on the wizard as stored (not as the form claims).
fn advance(wizard: &mut Wizard, form: &StepForm) -> Result<(), String> {
    if form.step != wizard.step {
        // A stale tab, a double submit or a hand-made request.
        return Err(format!(
            "step {} was posted, but this wizard is at step {}",
            form.step, wizard.step
        ));
    }
    let value = form.value.trim();
    match wizard.step {
        0 if value.is_empty() => return Err("a name is required".into()),
        0 => wizard.name = value.to_owned(),
        1 if !value.contains('@') => return Err("an email needs an @".into()),
        1 => wizard.email = value.to_owned(),
        2 => {}
        _ => return Err("this wizard is finished".into()),
    }
    wizard.step += 1;
    Ok(())
}

/// The fragment for the current step: a form that posts back its step number.
fn render(wizard: &Wizard) -> String {
    let field = match wizard.step {
        0 => r#"<label>Name <input name="value"></label>"#.to_owned(),
        1 => r#"<label>Email <input name="value" type="email"></label>"#.to_owned(),
        2 => format!(
            "Confirm: {} &lt;{}&gt;",
            escape(&wizard.name),
            escape(&wizard.email)
        ),
        _ => return format!("<p>Done: welcome, {}.</p>", escape(&wizard.name)),
    };
    format!(
        r##"<form hx-post="/next" hx-target="#wizard">
  <p>Step {} of 3</p> <input type="hidden" name="step" value="{}">
  {field} <button>Next</button>
</form>"##,
        wizard.step + 1,
        wizard.step,
    )
}

/// What the user typed, safe inside HTML (a real app has a template engine).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The routes, with hyperstate's layer, and the htmx it serves.
pub fn app(state: &Hyperstate) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/next", post(next))
        .layer(state.layer())
        .merge(assets::routes())
}
