//! The shared document-store suite against a real S3-protocol server.
//!
//! `scripts/test` starts one (moto, see `scripts/services/s3.sh`) and exports
//! `HYPERSTATE_S3_ENDPOINT` and `HYPERSTATE_S3_BUCKET`. Without them the tests
//! skip loudly, unless `CI=true`, where a missing server is a failure.

use std::io::Write as _;
use std::sync::Arc;

use hyperstate::session::DocumentStore;
use hyperstate_s3::S3DocumentStore;

fn s3_available() -> bool {
    let configured = std::env::var("HYPERSTATE_S3_ENDPOINT").is_ok()
        && std::env::var("HYPERSTATE_S3_BUCKET").is_ok();
    if !configured {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "HYPERSTATE_S3_ENDPOINT / HYPERSTATE_S3_BUCKET are not set, and CI=true: the S3 server must run in CI"
        );
        // Straight to stderr, past the test harness's capture: a skip must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: no S3 server (set HYPERSTATE_S3_ENDPOINT and HYPERSTATE_S3_BUCKET, or run ./scripts/test)"
        );
    }
    configured
}

/// Each namespace is its own key prefix in the shared bucket.
fn s3_document_store(namespace: &str) -> Arc<dyn DocumentStore> {
    let endpoint = std::env::var("HYPERSTATE_S3_ENDPOINT").expect("checked by s3_available");
    let bucket = std::env::var("HYPERSTATE_S3_BUCKET").expect("checked by s3_available");
    Arc::new(
        S3DocumentStore::builder(bucket)
            .endpoint(endpoint)
            .prefix(format!("conformance/{namespace}"))
            .build()
            .expect("configuring the S3 store"),
    )
}

hyperstate_conformance::document_store_suite!(s3_document_store, ready = s3_available);
