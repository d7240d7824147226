//! The state machine on tokio's paused clock: no test sleeps for real.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use tokio::sync::oneshot;

use super::*;
use crate::test_support::prometheus_sample as sample;

const COOL_DOWN: Duration = Duration::from_secs(2);

fn breaker() -> CircuitBreaker {
    CircuitBreaker::new(
        "page",
        "test",
        BreakerOptions::default()
            .failure_threshold(3)
            .cool_down(COOL_DOWN),
    )
}

fn backend_error() -> Error {
    Error::backend("test", "get", std::io::Error::other("connection reset"))
}

/// One call through `breaker` with `outcome`; counts the runs of the work in `runs`.
async fn call(breaker: &CircuitBreaker, runs: &AtomicU32, outcome: Result<()>) -> Result<()> {
    breaker
        .call(async {
            runs.fetch_add(1, Ordering::SeqCst);
            outcome
        })
        .await
}

async fn fail(breaker: &CircuitBreaker, times: u32) {
    let runs = AtomicU32::new(0);
    for _ in 0..times {
        let _ = call(breaker, &runs, Err(backend_error())).await;
    }
}

fn assert_fails_fast(result: Result<()>, retry_after: Duration) {
    match result {
        Err(Error::BackendUnavailable {
            scope: "page",
            backend: "test",
            retry_after: got,
        }) => assert_eq!(got, retry_after),
        other => panic!("expected BackendUnavailable, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn opens_after_consecutive_backend_failures_and_then_fails_without_calling() {
    let breaker = breaker();
    fail(&breaker, 2).await;
    assert_eq!(breaker.state(), BreakerState::Closed);
    fail(&breaker, 1).await;
    assert_eq!(
        breaker.state(),
        BreakerState::Open {
            retry_after: COOL_DOWN
        }
    );

    let runs = AtomicU32::new(0);
    tokio::time::advance(Duration::from_millis(500)).await;
    let result = call(&breaker, &runs, Ok(())).await;
    assert_fails_fast(result, COOL_DOWN - Duration::from_millis(500));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        0,
        "an open breaker called the backend"
    );
}

#[tokio::test(start_paused = true)]
async fn answers_that_are_not_backend_failures_reset_the_count() {
    let breaker = breaker();
    let runs = AtomicU32::new(0);
    for answer in [
        Ok(()),
        Err(Error::ValueTooLarge { size: 2, limit: 1 }),
        Err(Error::SessionConflict { attempts: 8 }),
        Err(Error::TooManyMembers { limit: 1 }),
    ] {
        fail(&breaker, 2).await;
        let _ = call(&breaker, &runs, answer).await;
        assert_eq!(breaker.state(), BreakerState::Closed);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn after_the_cool_down_one_probe_goes_through_and_its_success_closes() {
    let breaker = breaker();
    fail(&breaker, 3).await;
    tokio::time::advance(COOL_DOWN).await;
    assert_eq!(breaker.state(), BreakerState::HalfOpen);

    let (answer, answered) = oneshot::channel::<()>();
    let runs = AtomicU32::new(0);
    let probe = breaker.call(async {
        runs.fetch_add(1, Ordering::SeqCst);
        answered.await.ok();
        Ok(())
    });
    let others = async {
        // Polled after the probe started: the probe holds the half-open slot.
        tokio::task::yield_now().await;
        let other = AtomicU32::new(0);
        let result = call(&breaker, &other, Ok(())).await;
        assert_fails_fast(result, PROBING_RETRY_AFTER);
        assert_eq!(other.load(Ordering::SeqCst), 0);
        answer.send(()).unwrap();
    };
    let (probed, ()) = tokio::join!(probe, others);
    probed.unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(breaker.state(), BreakerState::Closed);
    call(&breaker, &runs, Ok(())).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_opens_for_another_cool_down() {
    let breaker = breaker();
    fail(&breaker, 3).await;
    tokio::time::advance(COOL_DOWN).await;
    fail(&breaker, 1).await;
    assert_eq!(
        breaker.state(),
        BreakerState::Open {
            retry_after: COOL_DOWN
        }
    );
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_probe_lets_the_next_call_probe() {
    let breaker = breaker();
    fail(&breaker, 3).await;
    tokio::time::advance(COOL_DOWN).await;
    let hung = breaker.call(std::future::pending::<Result<()>>());
    // The caller gives up (a client that went away): the probe is dropped.
    assert!(
        tokio::time::timeout(Duration::from_millis(10), hung)
            .await
            .is_err()
    );
    let runs = AtomicU32::new(0);
    call(&breaker, &runs, Ok(())).await.unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn late_failures_of_calls_from_before_the_outage_do_not_reopen_it() {
    let breaker = breaker();
    // Calls that hang in the backend as the outage starts; they time out
    // only after the breaker has opened, probed and closed again.
    let (time_out, timed_out) = tokio::sync::watch::channel(false);
    let stale = || {
        let mut timed_out = timed_out.clone();
        breaker.call(async move {
            let _ = timed_out.wait_for(|&out| out).await;
            Err::<(), _>(backend_error())
        })
    };
    let outage_and_recovery = async {
        // Every stale call is admitted (polled once) before the outage.
        tokio::task::yield_now().await;
        fail(&breaker, 3).await;
        tokio::time::advance(COOL_DOWN).await;
        let runs = AtomicU32::new(0);
        call(&breaker, &runs, Ok(())).await.unwrap();
        assert_eq!(breaker.state(), BreakerState::Closed);
        time_out.send(true).unwrap();
    };
    let (a, b, c, ()) = tokio::join!(stale(), stale(), stale(), outage_and_recovery);
    assert!(a.is_err() && b.is_err() && c.is_err());
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "failures of calls admitted before the breaker last closed must not count"
    );
}

#[tokio::test(start_paused = true)]
async fn metrics_show_the_state_the_opens_and_the_rejections() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let labels = r#"{scope="page",backend="test"}"#;
    let state = format!("hyperstate_breaker_state{labels}");
    let opens = format!("hyperstate_breaker_opens_total{labels}");
    let rejections = format!("hyperstate_breaker_rejections_total{labels}");

    let breaker = breaker();
    assert_eq!(sample(&handle.render(), &state), Some(0.0));
    fail(&breaker, 3).await;
    fail(&breaker, 2).await;
    let rendered = handle.render();
    assert_eq!(sample(&rendered, &state), Some(1.0), "{rendered}");
    assert_eq!(sample(&rendered, &opens), Some(1.0), "{rendered}");
    assert_eq!(sample(&rendered, &rejections), Some(2.0), "{rendered}");

    tokio::time::advance(COOL_DOWN).await;
    let (answer, answered) = oneshot::channel::<()>();
    let probe = breaker.call(async {
        answered.await.ok();
        Ok(())
    });
    let watch = async {
        tokio::task::yield_now().await;
        assert_eq!(sample(&handle.render(), &state), Some(2.0));
        answer.send(()).unwrap();
    };
    let (probed, ()) = tokio::join!(probe, watch);
    probed.unwrap();
    assert_eq!(sample(&handle.render(), &state), Some(0.0));
}
