//! The metrics of attached subscribers: how many there are, and how often one
//! had to be resynced.

/// Why a subscriber was sent the whole state instead of the next diff; the
/// `reason` label of `hyperstate_room_resyncs_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ResyncReason {
    /// It fell behind and its bounded feed moved on (a slow SSE client).
    Lagged,
    /// A version went missing from the feed (a lost pub/sub message).
    Gap,
    /// It resumed (`Last-Event-ID`) from a version no longer buffered.
    Resume,
}

impl ResyncReason {
    fn label(self) -> &'static str {
        match self {
            ResyncReason::Lagged => "lagged",
            ResyncReason::Gap => "gap",
            ResyncReason::Resume => "resume",
        }
    }
}

/// One attached subscriber in `hyperstate_room_subscribers{backend}`, from
/// attach until drop: a drop guard, so every way a subscription ends (the SSE
/// client leaves, the stream errors, shutdown) takes it off the gauge.
#[derive(Debug)]
pub(super) struct SubscriberMetrics {
    backend: &'static str,
    attached: metrics::Gauge,
}

impl SubscriberMetrics {
    pub(super) fn attach(backend: &'static str) -> Self {
        let attached = metrics::gauge!("hyperstate_room_subscribers", "backend" => backend);
        attached.increment(1.0);
        // Registered now so the series reads 0 before the first resync.
        resyncs(backend, ResyncReason::Lagged).increment(0);
        SubscriberMetrics { backend, attached }
    }

    /// Counts one resync into `hyperstate_room_resyncs_total{backend, reason}`.
    pub(super) fn resynced(&self, reason: ResyncReason) {
        resyncs(self.backend, reason).increment(1);
    }
}

fn resyncs(backend: &'static str, reason: ResyncReason) -> metrics::Counter {
    metrics::counter!(
        "hyperstate_room_resyncs_total",
        "backend" => backend, "reason" => reason.label()
    )
}

impl Drop for SubscriberMetrics {
    fn drop(&mut self) {
        self.attached.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use metrics_exporter_prometheus::PrometheusBuilder;

    use super::*;
    use crate::test_support::prometheus_sample as sample;

    #[test]
    fn the_gauge_follows_the_guard_and_resyncs_count_by_reason() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let subscribers = r#"hyperstate_room_subscribers{backend="memory"}"#;
        let gaps = r#"hyperstate_room_resyncs_total{backend="memory",reason="gap"}"#;
        let lagged = r#"hyperstate_room_resyncs_total{backend="memory",reason="lagged"}"#;
        metrics::with_local_recorder(&recorder, || {
            let first = SubscriberMetrics::attach("memory");
            let second = SubscriberMetrics::attach("memory");
            assert_eq!(sample(&handle.render(), subscribers), Some(2.0));
            assert_eq!(sample(&handle.render(), lagged), Some(0.0));
            first.resynced(ResyncReason::Gap);
            drop(first);
            let rendered = handle.render();
            assert_eq!(sample(&rendered, subscribers), Some(1.0));
            assert_eq!(sample(&rendered, gaps), Some(1.0));
            drop(second);
            assert_eq!(sample(&handle.render(), subscribers), Some(0.0));
        });
    }
}
