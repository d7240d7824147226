//! The breaker's state machine: closed, open, half-open.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::BreakerOptions;
use crate::{Error, Result};

/// What the client is told to wait while a probe is under way: the probe may
/// end at any moment, so the shortest `Retry-After` HTTP can say.
const PROBING_RETRY_AFTER: Duration = Duration::from_secs(1);

/// What a [`CircuitBreaker`] does with the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls go through; consecutive backend failures are counted.
    Closed,
    /// Calls fail at once, without reaching the backend, until the cool-down
    /// ends.
    Open {
        /// What is left of the cool-down.
        retry_after: Duration,
    },
    /// The cool-down is over: the next call probes the backend (or a probe is
    /// under way, and the others fail fast until it ends).
    HalfOpen,
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakerState::Closed => f.write_str("closed"),
            BreakerState::Open { retry_after } => {
                write!(f, "open, probing in {} s", retry_after.as_secs_f64().ceil())
            }
            BreakerState::HalfOpen => f.write_str("half-open"),
        }
    }
}

/// A circuit breaker in front of one backend of one scope (see the
/// [module docs](super)). Calls go through [`CircuitBreaker::call`].
///
/// Every call of every request passes here, on every core, so while the
/// backend answers (closed, no failure counted) a call costs two atomic loads
/// and writes nothing shared. Failures and every change of state go through a
/// mutex that no `await` ever holds.
pub struct CircuitBreaker {
    scope: &'static str,
    backend: &'static str,
    options: BreakerOptions,
    machine: Mutex<Machine>,
    /// `epoch << 1 | 1` while closed, 0 otherwise: what a call needs to be
    /// let through without the lock. Written only under `machine`'s lock.
    closed: AtomicU64,
    /// Consecutive backend failures in the current closed phase. Written only
    /// under the lock; read without it, so that a success with nothing to
    /// reset takes no lock.
    failures: AtomicU32,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("scope", &self.scope)
            .field("backend", &self.backend)
            .field("options", &self.options)
            .field("state", &self.state())
            .finish()
    }
}

#[derive(Debug)]
struct Machine {
    phase: Phase,
    /// Bumped whenever the breaker closes, so that an outcome of a call
    /// admitted under an earlier closed phase (one that was still running when
    /// the breaker opened) changes nothing.
    epoch: u64,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Calls go through; the failure count is [`CircuitBreaker::failures`].
    Closed,
    Open {
        until: Instant,
    },
    HalfOpen {
        probing: bool,
    },
}

/// Why a call was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ticket {
    /// The breaker was closed, in this epoch.
    Closed { epoch: u64 },
    /// The call is the half-open probe.
    Probe,
}

impl CircuitBreaker {
    /// A closed breaker for the `backend` of `scope` (`"page"`, `"room"`,
    /// `"session"`): the labels of its metrics and its errors.
    pub fn new(scope: &'static str, backend: &'static str, options: BreakerOptions) -> Self {
        let mut options = options;
        // The field is public: a threshold of 0 would open on a success.
        options.failure_threshold = options.failure_threshold.max(1);
        let breaker = CircuitBreaker {
            scope,
            backend,
            options,
            machine: Mutex::new(Machine {
                phase: Phase::Closed,
                epoch: 0,
            }),
            closed: AtomicU64::new(closed_word(0)),
            failures: AtomicU32::new(0),
        };
        // Registers the series, so the gauge reads "closed" before any outage.
        breaker.report_state(0.0);
        breaker
    }

    /// The scope this breaker guards.
    pub fn scope(&self) -> &'static str {
        self.scope
    }

    /// The name of the backend this breaker guards.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// Its thresholds.
    pub fn options(&self) -> &BreakerOptions {
        &self.options
    }

    /// What the breaker would do with a call now.
    pub fn state(&self) -> BreakerState {
        match self.lock().phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { until } => match until.checked_duration_since(Instant::now()) {
                Some(retry_after) if !retry_after.is_zero() => BreakerState::Open { retry_after },
                _ => BreakerState::HalfOpen,
            },
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Runs `work` (one backend call) unless the breaker is open, and counts
    /// its outcome. While open, fails at once with
    /// [`Error::BackendUnavailable`] and `work` never runs. A call dropped
    /// before it finishes counts as nothing; if it was the half-open probe,
    /// the next call probes instead.
    pub async fn call<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        let permit = self.admit()?;
        let result = work.await;
        permit.finish(&result);
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Machine> {
        // Every update below leaves the machine consistent, so a panic
        // elsewhere while it was held leaves nothing to repair.
        self.machine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn admit(&self) -> Result<Permit<'_>> {
        // Closed: let the call through without the lock. A breaker opening at
        // this moment is a race the lock would only have ordered the other way.
        let closed = self.closed.load(Ordering::Acquire);
        if closed & 1 == 1 {
            return Ok(Permit {
                breaker: self,
                ticket: Ticket::Closed { epoch: closed >> 1 },
                finished: false,
            });
        }
        let mut machine = self.lock();
        let ticket = match machine.phase {
            Phase::Closed => Ticket::Closed {
                epoch: machine.epoch,
            },
            Phase::Open { until } => {
                let now = Instant::now();
                if now < until {
                    drop(machine);
                    return Err(self.reject(until - now));
                }
                machine.phase = Phase::HalfOpen { probing: true };
                self.report_state(2.0);
                Ticket::Probe
            }
            Phase::HalfOpen { probing: false } => {
                machine.phase = Phase::HalfOpen { probing: true };
                Ticket::Probe
            }
            Phase::HalfOpen { probing: true } => {
                drop(machine);
                return Err(self.reject(PROBING_RETRY_AFTER));
            }
        };
        Ok(Permit {
            breaker: self,
            ticket,
            finished: false,
        })
    }

    fn reject(&self, retry_after: Duration) -> Error {
        metrics::counter!(
            "hyperstate_breaker_rejections_total",
            "scope" => self.scope,
            "backend" => self.backend
        )
        .increment(1);
        Error::BackendUnavailable {
            scope: self.scope,
            backend: self.backend,
            retry_after,
        }
    }

    fn record(&self, ticket: Ticket, failed: bool) {
        if !failed && matches!(ticket, Ticket::Closed { .. }) && self.no_failures_counted() {
            // A success with no failure to reset: nothing to change. (A failure
            // counted concurrently is ordered after this success.)
            return;
        }
        let mut machine = self.lock();
        match (ticket, machine.phase) {
            (Ticket::Closed { epoch }, Phase::Closed) if epoch == machine.epoch => {
                let failures = if failed {
                    self.failures.load(Ordering::Relaxed) + 1
                } else {
                    0
                };
                if failures >= self.options.failure_threshold {
                    self.open(&mut machine);
                    tracing::warn!(
                        scope = self.scope,
                        backend = self.backend,
                        failures,
                        cool_down_ms = self.options.cool_down.as_millis() as u64,
                        "backend failing: circuit breaker opened, requests that need it fail fast"
                    );
                } else {
                    self.failures.store(failures, Ordering::Relaxed);
                }
            }
            (Ticket::Probe, Phase::HalfOpen { probing: true }) if failed => {
                self.open(&mut machine);
                tracing::info!(
                    scope = self.scope,
                    backend = self.backend,
                    "backend still failing: circuit breaker opened again"
                );
            }
            (Ticket::Probe, Phase::HalfOpen { probing: true }) => {
                machine.phase = Phase::Closed;
                machine.epoch += 1;
                self.failures.store(0, Ordering::Relaxed);
                self.closed
                    .store(closed_word(machine.epoch), Ordering::Release);
                self.report_state(0.0);
                tracing::info!(
                    scope = self.scope,
                    backend = self.backend,
                    "backend answers again: circuit breaker closed"
                );
            }
            // An outcome from before the breaker last changed phase: it says
            // nothing about the backend now.
            _ => {}
        }
    }

    fn no_failures_counted(&self) -> bool {
        self.failures.load(Ordering::Relaxed) == 0
    }

    fn open(&self, machine: &mut Machine) {
        machine.phase = Phase::Open {
            until: Instant::now() + self.options.cool_down,
        };
        self.closed.store(0, Ordering::Release);
        self.failures.store(0, Ordering::Relaxed);
        self.report_state(1.0);
        metrics::counter!(
            "hyperstate_breaker_opens_total",
            "scope" => self.scope,
            "backend" => self.backend
        )
        .increment(1);
    }

    /// Sets the state gauge: 0 closed, 1 open, 2 half-open. Transitions are
    /// rare, so the handle is looked up each time and always belongs to the
    /// current recorder.
    fn report_state(&self, value: f64) {
        metrics::gauge!(
            "hyperstate_breaker_state",
            "scope" => self.scope,
            "backend" => self.backend
        )
        .set(value);
    }

    fn abandon_probe(&self) {
        let mut machine = self.lock();
        if let Phase::HalfOpen { probing: true } = machine.phase {
            machine.phase = Phase::HalfOpen { probing: false };
        }
    }
}

/// The value of [`CircuitBreaker::closed`] while closed in `epoch`.
fn closed_word(epoch: u64) -> u64 {
    epoch << 1 | 1
}

/// Whether a call's outcome says the backend is failing: only backend errors
/// do. Every other error is an answer from a working backend (or the caller's
/// fault), so it counts as a success.
fn is_backend_failure<T>(result: &Result<T>) -> bool {
    matches!(result, Err(Error::Backend { .. }))
}

/// A call let through; its outcome must be recorded with [`Permit::finish`].
struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    ticket: Ticket,
    finished: bool,
}

impl Permit<'_> {
    fn finish<T>(mut self, result: &Result<T>) {
        self.finished = true;
        self.breaker.record(self.ticket, is_backend_failure(result));
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        // A probe cancelled by its caller (a client that went away) proved
        // nothing either way: let the next call probe.
        if !self.finished && self.ticket == Ticket::Probe {
            self.breaker.abandon_probe();
        }
    }
}

#[cfg(test)]
#[path = "circuit_tests.rs"]
mod tests;
