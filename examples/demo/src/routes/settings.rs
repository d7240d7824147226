//! Settings: session-scoped state, durable across restarts.
//!
//! - `theme` has the `Session` policy: every tab and every later visit sees it,
//!   across server restarts.
//! - `draft` has the `Reconnect` policy: it belongs to the tab (page id) that
//!   wrote it, survives a server restart while that tab stays open, and a fresh
//!   visit to `/settings` starts blank.

use axum::Form;
use axum::extract::Query;
use hyperstate_axum::prelude::*;
use maud::{Markup, html};
use serde::Deserialize;

use crate::AppError;
use crate::layout::{self, PageQuery};

static SETTINGS: View = View::new("settings").reconnect(&[DRAFT.name()]);

const DEFAULT_THEME: &str = "light";
const THEME: Key<String> = Key::new("theme", || DEFAULT_THEME.to_owned());
const DRAFT: Key<String> = Key::or_default("draft");
const MAX_THEME_CHARS: usize = 32;
const MAX_DRAFT_CHARS: usize = 4000;

/// `GET /settings`: the page, with the current values. A fresh load of the page
/// clears any earlier draft (the `Reconnect` policy).
pub(crate) async fn show(
    session: Session,
    Query(query): Query<PageQuery>,
) -> Result<Markup, AppError> {
    let state = session.view(&SETTINGS).load().await?;
    let theme = state.get(&THEME)?;
    let draft = state.get(&DRAFT)?;
    Ok(layout::page(
        "Settings",
        query.htmx,
        html! {
            p.muted {
                "These live in session state: the theme sticks across tabs and server restarts; "
                "the draft belongs to this tab and survives a restart while the tab stays open."
            }
            form #theme-form hx-post="/settings/theme" hx-target="#theme" hx-swap="outerHTML" {
                label for="theme-input" { "Theme" }
                input #theme-input type="text" name="theme" value=(theme) required maxlength=(MAX_THEME_CHARS);
                button type="submit" { "Save theme" }
            }
            (theme_fragment(&theme))
            form #draft-form hx-post="/settings/draft" hx-target="#draft" hx-swap="outerHTML" {
                label for="draft-input" { "Draft" }
                textarea #draft-input name="draft" rows="4" maxlength=(MAX_DRAFT_CHARS) { (draft) }
                button type="submit" { "Save draft" }
            }
            (draft_fragment(&draft))
            button #reload-draft hx-get="/settings/draft" hx-target="#draft" hx-swap="outerHTML" {
                "Show this tab's saved draft"
            }
        },
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ThemeForm {
    theme: String,
}

/// `POST /settings/theme` (field `theme`): saves the theme; answers with its fragment.
pub(crate) async fn set_theme(
    session: Session,
    Form(form): Form<ThemeForm>,
) -> Result<Markup, AppError> {
    let theme = form.theme.trim();
    if theme.is_empty() {
        return Err(AppError::BadInput("the theme must not be empty"));
    }
    if theme.chars().count() > MAX_THEME_CHARS {
        return Err(AppError::BadInput(
            "the theme must be at most 32 characters",
        ));
    }
    session.view(&SETTINGS).put(&THEME, theme).await?;
    Ok(theme_fragment(theme))
}

#[derive(Debug, Deserialize)]
pub(crate) struct DraftForm {
    draft: String,
}

/// `POST /settings/draft` (field `draft`, htmx with the page id): saves this
/// tab's draft; an empty draft removes it.
pub(crate) async fn set_draft(
    session: Session,
    Form(form): Form<DraftForm>,
) -> Result<Markup, AppError> {
    if form.draft.chars().count() > MAX_DRAFT_CHARS {
        return Err(AppError::BadInput(
            "the draft must be at most 4000 characters",
        ));
    }
    let view = session.view(&SETTINGS);
    if form.draft.is_empty() {
        view.delete(&DRAFT).await?;
    } else {
        view.put(&DRAFT, &form.draft).await?;
    }
    Ok(draft_fragment(&form.draft))
}

/// `GET /settings/draft` (htmx with the page id): this tab's saved draft.
pub(crate) async fn show_draft(session: Session) -> Result<Markup, AppError> {
    let draft = session.view(&SETTINGS).get(&DRAFT).await?;
    Ok(draft_fragment(&draft))
}

fn theme_fragment(theme: &str) -> Markup {
    html! {
        p #theme { "Current theme: " strong #theme-value { (theme) } }
    }
}

fn draft_fragment(draft: &str) -> Markup {
    html! {
        section #draft {
            @if draft.is_empty() {
                p.muted #draft-value data-empty { "No saved draft for this tab." }
            } @else {
                p { "Saved draft for this tab:" }
                pre #draft-value { (draft) }
            }
        }
    }
}
