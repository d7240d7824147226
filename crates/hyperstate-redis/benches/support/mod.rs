//! What the Redis benchmarks share beyond the server to run against
//! (`hyperstate_conformance::services::redis_url`).

/// Whether to do a tiny run: `--quick`, or `--test` (what `scripts/bench --quick`
/// passes to every bench).
pub(crate) fn quick() -> bool {
    std::env::args().any(|a| a == "--quick" || a == "--test")
}
