//! What processors that run emissions elsewhere share: counting emissions in flight,
//! waiting for none to be left, and shutting down with a deadline.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::emitter::Cancel;

use super::ShutdownReport;

/// Counts emissions in flight and wakes async waiters when none is left.
#[derive(Default)]
pub(crate) struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

impl InFlight {
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    pub(crate) fn enter(&self) {
        // AcqRel pairs with the decrement in `exit`, so `wait` never sees a stale zero
        // for an emission accepted before it started waiting.
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn exit(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }

    /// `enter` now, `exit` when the guard drops (the emission finished or was dropped).
    pub(crate) fn guard(self: &Arc<Self>) -> InFlightGuard {
        self.enter();
        InFlightGuard(self.clone())
    }

    pub(crate) async fn wait(&self) {
        // Nothing in flight: done without touching the `Notify` (whose waiter list is
        // behind a lock).
        if self.count() == 0 {
            return;
        }
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            // Registered before the check, so a decrement to zero between the check and
            // the await still wakes this waiter.
            notified.as_mut().enable();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

pub(crate) struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.exit();
    }
}

/// Emissions in flight, how they ended, and the token that cancels them all.
#[derive(Default)]
pub(crate) struct Drain {
    pub(crate) tasks: Arc<InFlight>,
    /// Watched by every emission of this processor; set at a shutdown's deadline.
    pub(crate) cancel_all: Arc<Cancel>,
    /// Emissions that ended with their token not cancelled.
    finished: AtomicUsize,
    /// Emissions that ended with their token cancelled.
    cancelled: AtomicUsize,
}

impl Drain {
    /// Counts an emission's end; `cancelled`: it was cancelled.
    pub(crate) fn ended(&self, cancelled: bool) {
        // Relaxed: statistics for the shutdown report, which reads them after `wait`.
        let counter = if cancelled {
            &self.cancelled
        } else {
            &self.finished
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an emission in flight until the returned guard ends or drops: one
    /// reference to the drain per emission, through which its end is counted.
    pub(crate) fn enter(self: &Arc<Self>) -> DrainGuard {
        self.tasks.enter();
        DrainGuard(self.clone())
    }

    /// Waits for the emissions in flight until `timeout`, cancels the rest, and waits
    /// for them to end. Without a time driver on the calling runtime, nothing is
    /// cancelled and every emission is waited for.
    pub(crate) async fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        // Relaxed: plain counters, compared before and after the waits below.
        let finished = self.finished.load(Ordering::Relaxed);
        let cancelled = self.cancelled.load(Ordering::Relaxed);
        let wait = self.tasks.wait();
        let in_time = match catch_unwind(AssertUnwindSafe(|| tokio::time::timeout(timeout, wait))) {
            Ok(wait) => wait.await.is_ok(),
            Err(_) => {
                tracing::warn!("ventus shutdown without a time driver: waiting for every emission");
                self.tasks.wait().await;
                true
            }
        };
        if !in_time {
            self.cancel_all.cancel();
            self.tasks.wait().await;
        }
        ShutdownReport {
            finished: self.finished.load(Ordering::Relaxed) - finished,
            cancelled: self.cancelled.load(Ordering::Relaxed) - cancelled,
        }
    }
}

/// An emission in flight, from [`Drain::enter`]: counts its end when dropped.
pub(crate) struct DrainGuard(Arc<Drain>);

impl DrainGuard {
    /// The emission ended; `cancelled`: it was cancelled.
    pub(crate) fn end(self, cancelled: bool) {
        self.0.ended(cancelled);
    }
}

impl Drop for DrainGuard {
    fn drop(&mut self) {
        self.0.tasks.exit();
    }
}
