//! The reference the page benchmarks are measured against: `redis-benchmark`
//! at the same concurrency on the same server, in the same run.

/// `redis-benchmark` GET and SET against the server at `url` (a cluster seed
/// node with `cluster`, which then spreads keys over every primary) with
/// `concurrency` clients and `ops` requests each: requests per second by test
/// name.
pub(crate) fn redis_benchmark(
    url: &str,
    concurrency: usize,
    ops: usize,
    cluster: bool,
) -> std::collections::HashMap<String, f64> {
    let authority = url.trim_start_matches("redis://").trim_end_matches('/');
    let (host, port) = authority.split_once(':').unwrap_or((authority, "6379"));
    let mut command = std::process::Command::new("redis-benchmark");
    command.args(["-h", host, "-p", port]);
    if cluster {
        command.arg("--cluster");
    }
    let output = command
        .args(["-c", &concurrency.to_string(), "-n", &ops.to_string()])
        .args(["-t", "get,set", "--csv"])
        .output()
        .expect("running redis-benchmark");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(',').map(|f| f.trim_matches('"'));
            let name = fields.next()?.to_owned();
            let rps = fields.next()?.parse().ok()?;
            Some((name, rps))
        })
        .collect()
}
