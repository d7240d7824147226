//! The page frame shared by every full page.

use hyperstate_axum::assets;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

/// Which htmx generation a page loads (`?htmx=4`); 2.x by default.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub(crate) enum HtmxVersion {
    #[default]
    #[serde(rename = "2")]
    V2,
    #[serde(rename = "4")]
    V4,
}

impl HtmxVersion {
    /// The value of `?htmx=` that selects this version.
    pub(crate) fn as_query(self) -> &'static str {
        match self {
            HtmxVersion::V2 => "2",
            HtmxVersion::V4 => "4",
        }
    }
}

/// The `?htmx=` query of full-page routes.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    #[serde(default)]
    pub(crate) htmx: HtmxVersion,
}

/// A full HTML document. hyperstate's layer injects the page id into its head.
pub(crate) fn page(title: &str, htmx: HtmxVersion, body: Markup) -> Markup {
    let (script, label) = match htmx {
        HtmxVersion::V2 => (assets::HTMX_2, "htmx 2"),
        HtmxVersion::V4 => (assets::HTMX_4, "htmx 4"),
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · hyperstate demo" }
                link rel="stylesheet" href="/assets/demo.css";
                script src=(script) {}
                script src="/assets/demo.js" {}
            }
            body data-htmx=(label) {
                header {
                    a href="/" { "hyperstate demo" }
                    span.htmx-version { (label) }
                }
                main {
                    h1 { (title) }
                    p #error role="alert" hidden {}
                    (body)
                }
            }
        }
    }
}
