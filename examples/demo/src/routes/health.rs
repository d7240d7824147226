//! `GET /healthz` and `GET /metrics`.

use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use hyperstate_axum::RequestContext;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder for this process (once; later calls are
/// no-ops). Call it before building stores so their metric handles attach to it.
pub fn install_metrics() {
    if PROMETHEUS.get().is_some() {
        return;
    }
    match PrometheusBuilder::new().install_recorder() {
        Ok(handle) => {
            let _ = PROMETHEUS.set(handle);
        }
        Err(err) => tracing::warn!(error = %err, "metrics recorder not installed"),
    }
}

/// `GET /healthz`: one line per backend; 503 when any cannot serve. The
/// backends come from the request's context (the layer puts it on every
/// request), not from an `Extension` every route would clone.
pub(crate) async fn check(context: RequestContext) -> impl IntoResponse {
    let mut healthy = true;
    let mut body = String::new();
    for backend in context.hyperstate().check_health().await {
        let verdict = match &backend.result {
            Ok(()) => "ok".to_owned(),
            Err(err) => {
                healthy = false;
                format!("down: {err}")
            }
        };
        body.push_str(&format!(
            "{} ({}): {verdict}\n",
            backend.scope, backend.backend
        ));
    }
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body)
}

/// `GET /metrics`: Prometheus text format.
pub(crate) async fn metrics() -> impl IntoResponse {
    match PROMETHEUS.get() {
        Some(handle) => (StatusCode::OK, handle.render()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "metrics are not enabled in this process",
        )
            .into_response(),
    }
}
