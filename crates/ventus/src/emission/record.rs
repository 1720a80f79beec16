//! The record of an emission's outcomes: counts, per-handler reports, and what is
//! reported for handlers an emission dropped before they ended.

use std::sync::Arc;
use std::time::Instant;

use tracing::Span;

use super::drain::DrainGuard;
use super::handle::Tracker;
use super::report::{Counts, EmissionReport, HandlerReport, Outcome};
use super::settings::EmitterShared;
use super::Emission;
use crate::event::{EmissionId, EventName};
use crate::linker::registry::Subscriber;

/// Outcomes gathered while an emission runs.
pub(crate) struct Recorder {
    pub(crate) counts: Counts,
    pub(crate) details: Option<Vec<HandlerReport>>,
    /// For a tracked emission, until it finishes: what to report if it is dropped first.
    pub(crate) unfinished: Option<Unfinished>,
}

/// A tracked emission that has not sent its report yet.
pub(crate) struct Unfinished {
    pub(crate) tracker: Arc<Tracker>,
    pub(crate) id: EmissionId,
    pub(crate) event: EventName,
    pub(crate) handlers: u32,
    pub(crate) emitter: Arc<EmitterShared>,
    /// The emission's place in its processor's in-flight count, moved here with the
    /// duty to report: ended before the report is published, however the run ends.
    pub(crate) ticket: Option<DrainGuard>,
}

impl Recorder {
    /// `handlers`: room to reserve for the detailed list.
    pub(crate) fn new(detailed: bool, handlers: usize) -> Self {
        Self {
            counts: Counts::default(),
            details: detailed.then(|| Vec::with_capacity(handlers)),
            unfinished: None,
        }
    }

    /// Makes sure the handle of `emission` hears of its end even if the run is dropped
    /// (its runtime shut down): the handlers not done by then count as cancelled.
    pub(crate) fn tracking(mut self, emission: &mut Emission<'_>) -> Self {
        let id = emission.id;
        self.unfinished = emission.tracker.as_mut().map(|guard| Unfinished {
            tracker: guard.tracker.clone(),
            id,
            event: guard.event.clone(),
            handlers: guard.handlers,
            emitter: guard.emitter.clone(),
            ticket: guard.ticket.take(),
        });
        self
    }

    pub(crate) fn add(
        &mut self,
        sub: &Subscriber,
        outcome: Outcome,
        started: Option<Instant>,
        span: &Span,
    ) {
        let ended = started.map(|_| Instant::now());
        self.add_ended(sub, outcome, started, ended, span);
    }

    pub(crate) fn add_ended(
        &mut self,
        sub: &Subscriber,
        outcome: Outcome,
        started: Option<Instant>,
        ended: Option<Instant>,
        span: &Span,
    ) {
        self.counts.add(&outcome);
        let duration = started
            .zip(ended)
            .map(|(s, e)| e.saturating_duration_since(s))
            .unwrap_or_default();
        if !span.is_disabled() {
            span.record("outcome", outcome_name(&outcome));
            span.record("duration_us", duration.as_micros() as u64);
        }
        if let Some(details) = &mut self.details {
            details.push(HandlerReport {
                subscription: sub.id,
                handler: sub.handler.name,
                outcome,
                duration,
            });
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let Some(unfinished) = self.unfinished.take() else {
            return;
        };
        let mut counts = self.counts;
        counts.cancelled += unfinished.handlers.saturating_sub(counts.total());
        unfinished.emitter.metrics.record(&counts);
        // Dropped before it ended (its runtime shut down): cancelled, and out of the
        // in-flight count before the report, as in `Emission::finish`.
        if let Some(ticket) = unfinished.ticket {
            ticket.end(true);
        }
        unfinished.tracker.finish(EmissionReport {
            id: unfinished.id,
            event: unfinished.event,
            counts,
            handlers: self.details.take().unwrap_or_default(),
        });
    }
}

pub(crate) fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::Failed(err) if err.is_panic() => "panicked",
        Outcome::Failed(err) if err.is_timeout() => "timed out",
        Outcome::Failed(_) => "failed",
        Outcome::Cancelled => "cancelled",
    }
}
