//! What processors that run emissions elsewhere share: counting emissions in flight,
//! waiting for none to be left, and shutting down with a deadline.
//!
//! The count and its wake-up are modelled with `loom` (see `loom_tests` below): under
//! `cfg(ventus_loom)` the atomics are loom's, and `Notify` is `loom_notify::Notify`, a
//! model of the part of tokio's `Notify` this module uses.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

#[cfg(ventus_loom)]
use self::loom_notify::Notify;
#[cfg(ventus_loom)]
use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(ventus_loom))]
use std::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(ventus_loom))]
use tokio::sync::Notify;

use super::cancel::Cancel;
use super::report::ShutdownReport;

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
    /// The id of the thread pool whose workers run these emissions (its `WORKER_OF`), 0
    /// if they do not run on one: a worker must not block waiting for them. Set once.
    pub(crate) pool: u64,
    pub(crate) tasks: Arc<InFlight>,
    /// Watched by every emission of this processor; set at a shutdown's deadline.
    pub(crate) cancel_all: Arc<Cancel>,
    /// Emissions that ended with their token not cancelled.
    finished: AtomicUsize,
    /// Emissions that ended with their token cancelled.
    cancelled: AtomicUsize,
}

impl Drain {
    /// The drain of the emissions that the workers of thread pool `pool` run.
    #[cfg_attr(not(feature = "thread-pool"), allow(dead_code))]
    pub(crate) fn on_pool(pool: u64) -> Self {
        Self {
            pool,
            ..Self::default()
        }
    }

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
        let first_wait = async {
            let wait = self.tasks.wait();
            match catch_unwind(AssertUnwindSafe(|| tokio::time::timeout(timeout, wait))) {
                Ok(wait) => wait.await.is_ok(),
                Err(_) => {
                    tracing::warn!(
                        "ventus shutdown without a time driver: waiting for every emission"
                    );
                    self.tasks.wait().await;
                    true
                }
            }
        };
        self.shutdown_with(first_wait, || {
            self.cancel_all.cancel();
        })
        .await
    }

    /// The shutdown protocol: `first_wait` waits until the deadline (`true`: nothing is
    /// left in flight); then `cancel` cancels the rest, which are waited for. Split from
    /// [`shutdown`](Self::shutdown), which gives tokio's timer and the drain's token, so
    /// the loom model can drive it with its own.
    async fn shutdown_with(
        &self,
        first_wait: impl Future<Output = bool>,
        cancel: impl FnOnce(),
    ) -> ShutdownReport {
        // Relaxed: plain counters, compared before and after the waits below.
        let finished = self.finished.load(Ordering::Relaxed);
        let cancelled = self.cancelled.load(Ordering::Relaxed);
        // Created by the caller but lazy: it starts here, after the loads above.
        if !first_wait.await {
            cancel();
            self.tasks.wait().await;
        }
        // Relaxed is enough: the wait's Acquire load of the count to zero synchronizes
        // with each emission's `exit`, which follows its `ended`.
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

/// A loom model of the part of tokio's `Notify` that [`InFlight`] uses, with its
/// documented semantics: `notify_waiters` completes every `Notified` created before the
/// call (tokio snapshots its count of `notify_waiters` calls when `notified()` is
/// called) and none created after; it stores no permit.
#[cfg(ventus_loom)]
mod loom_notify {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Mutex;

    #[derive(Default)]
    pub(crate) struct Notify {
        /// How many times `notify_waiters` was called; changed under `waiters`.
        calls: AtomicUsize,
        /// Wakers of pending `Notified` futures.
        waiters: Mutex<Vec<Waker>>,
    }

    impl Notify {
        pub(crate) fn notified(&self) -> Notified<'_> {
            Notified {
                notify: self,
                // SeqCst, as tokio loads its state word when it makes a `Notified`.
                calls: self.calls.load(Ordering::SeqCst),
            }
        }

        pub(crate) fn notify_waiters(&self) {
            let wakers = {
                let mut waiters = self.waiters.lock().unwrap();
                // SeqCst, as tokio bumps its call count under the waiter list's lock.
                self.calls.fetch_add(1, Ordering::SeqCst);
                std::mem::take(&mut *waiters)
            };
            // Woken outside the lock.
            for waker in wakers {
                waker.wake();
            }
        }
    }

    pub(crate) struct Notified<'a> {
        notify: &'a Notify,
        /// `notify.calls` when this future was made.
        calls: usize,
    }

    impl Notified<'_> {
        /// tokio's `enable` puts the waiter on the list; for `notify_waiters` only the
        /// snapshot taken at creation matters, so here it does nothing.
        pub(crate) fn enable(self: Pin<&mut Self>) -> bool {
            false
        }
    }

    impl Future for Notified<'_> {
        type Output = ();

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let mut waiters = self.notify.waiters.lock().unwrap();
            // SeqCst: read under the lock `notify_waiters` bumps it under.
            if self.notify.calls.load(Ordering::SeqCst) != self.calls {
                return Poll::Ready(());
            }
            waiters.push(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[cfg(all(test, ventus_loom))]
mod loom_tests {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::Poll;

    use loom::future::block_on;
    use loom::sync::atomic::{AtomicBool, Ordering};
    use loom::sync::Notify;
    use loom::thread;

    use super::{Drain, InFlight};

    /// A one-shot signal between model threads; loom's `Notify` may wake spuriously,
    /// so the flag says whether it was really given.
    #[derive(Default)]
    struct Gate {
        open: AtomicBool,
        notify: Notify,
    }

    impl Gate {
        fn open(&self) {
            // Release/Acquire: what the opener did before is seen by the thread let through.
            self.open.store(true, Ordering::Release);
            self.notify.notify();
        }

        fn pass(&self) {
            while !self.open.load(Ordering::Acquire) {
                self.notify.wait();
            }
        }
    }

    /// Every interleaving with at most three preemptions: enough for each race below
    /// (an end, a wake-up and a check each preempting the others), and bounded so the
    /// model finishes in seconds.
    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(f);
    }

    /// `wait` never returns while an emission counted before it started is unfinished,
    /// and it is woken when the last one ends (a lost wake-up deadlocks the model). An
    /// emission that starts and ends during the wait does not keep it waiting forever.
    #[test]
    fn wait_returns_only_after_the_emissions_counted_before_it() {
        model(|| {
            let tasks = Arc::new(InFlight::default());
            let done = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
            let mut threads = Vec::new();
            for i in 0..2 {
                let guard = tasks.guard();
                let done = done.clone();
                threads.push(thread::spawn(move || {
                    // Relaxed: the wait must make this visible by itself.
                    done[i].store(true, Ordering::Relaxed);
                    drop(guard);
                }));
            }
            block_on(tasks.wait());
            // Relaxed: only the wait's own synchronization may make the stores visible.
            assert!(
                done[0].load(Ordering::Relaxed),
                "wait returned before emission 0 ended"
            );
            assert!(
                done[1].load(Ordering::Relaxed),
                "wait returned before emission 1 ended"
            );
            assert_eq!(tasks.count(), 0);
            for t in threads {
                t.join().unwrap();
            }
        });
    }

    /// One emission counted before the wait ends while another starts and ends: the
    /// wait returns (no lost wake-up) and only after the first has ended.
    #[test]
    fn an_emission_during_the_wait_loses_no_wake_up() {
        model(|| {
            let tasks = Arc::new(InFlight::default());
            let done = Arc::new(AtomicBool::new(false));
            let guard = tasks.guard();
            let d = done.clone();
            let t1 = thread::spawn(move || {
                // Relaxed: the wait must make this visible by itself.
                d.store(true, Ordering::Relaxed);
                drop(guard);
            });
            let late = tasks.clone();
            let t2 = thread::spawn(move || drop(late.guard()));
            block_on(tasks.wait());
            // Relaxed: as above, the wait alone must order it.
            assert!(
                done.load(Ordering::Relaxed),
                "wait returned before the emission ended"
            );
            t1.join().unwrap();
            t2.join().unwrap();
            assert_eq!(tasks.count(), 0);
        });
    }

    /// A shutdown whose deadline has passed (its first wait is a single poll) with two
    /// emissions in flight: one finishes on its own, one ends only when cancelled. The
    /// report counts both, each once, the right way; and the shutdown returns only after
    /// both ended.
    #[test]
    fn shutdown_reports_every_emission_in_flight_once() {
        model(|| {
            let drain = Arc::new(Drain::default());
            // Set by the shutdown once it has started; the quick emission ends after it,
            // so both emissions are surely in flight when the shutdown starts.
            let started = Arc::new(Gate::default());
            let cancel = Arc::new(Gate::default());
            let quick = {
                let (guard, started) = (drain.enter(), started.clone());
                thread::spawn(move || {
                    started.pass();
                    guard.end(false);
                })
            };
            let stuck = {
                let (guard, cancel) = (drain.enter(), cancel.clone());
                thread::spawn(move || {
                    cancel.pass();
                    guard.end(true);
                })
            };
            let first_wait = async {
                started.open();
                let mut wait = pin!(drain.tasks.wait());
                std::future::poll_fn(|cx| Poll::Ready(wait.as_mut().poll(cx).is_ready())).await
            };
            let report = block_on(drain.shutdown_with(first_wait, || cancel.open()));
            assert_eq!((report.finished, report.cancelled), (1, 1));
            assert_eq!(drain.tasks.count(), 0);
            quick.join().unwrap();
            stuck.join().unwrap();
        });
    }

    /// A shutdown whose emissions all finish in time cancels nothing, and counts each
    /// emission in flight once, even one whose end races with the shutdown's start.
    /// An emission that ended before the shutdown is not counted.
    #[test]
    fn shutdown_in_time_counts_finished_emissions() {
        model(|| {
            let drain = Arc::new(Drain::default());
            drain.enter().end(false);
            let cancelled = Arc::new(AtomicBool::new(false));
            let started = Arc::new(Gate::default());
            let quick = {
                let (guard, started) = (drain.enter(), started.clone());
                thread::spawn(move || {
                    started.pass();
                    guard.end(false);
                })
            };
            let first_wait = async {
                started.open();
                drain.tasks.wait().await;
                true
            };
            // Relaxed: written and read on the shutdown's own thread.
            let report = block_on(
                drain.shutdown_with(first_wait, || cancelled.store(true, Ordering::Relaxed)),
            );
            assert_eq!((report.finished, report.cancelled), (1, 0));
            assert!(
                !cancelled.load(Ordering::Relaxed),
                "an in-time shutdown cancelled"
            );
            quick.join().unwrap();
        });
    }

    /// The deadline races with the emission: a timer thread may fire it at any point of
    /// the shutdown's first wait. The emission ends on its own, counted cancelled if its
    /// token was cancelled by then (as an emission checks its token when it ends).
    /// Whatever the interleaving, it is counted once, cancelled only if the shutdown did
    /// cancel, and the shutdown returns only after it ended. (With the stuck emission of
    /// the test above as well, the model takes minutes.)
    #[test]
    fn shutdown_counts_each_emission_once_whenever_the_deadline_fires() {
        use loom::future::AtomicWaker;

        model(|| {
            let drain = Arc::new(Drain::default());
            let started = Arc::new(Gate::default());
            let cancel = Arc::new(Gate::default());
            let quick = {
                let (guard, started, cancel) = (drain.enter(), started.clone(), cancel.clone());
                thread::spawn(move || {
                    started.pass();
                    // Acquire, as an emission reads its token: pairs with `Gate::open`.
                    guard.end(cancel.open.load(Ordering::Acquire));
                })
            };
            let deadline = Arc::new((AtomicBool::new(false), AtomicWaker::new()));
            let timer = {
                let deadline = deadline.clone();
                thread::spawn(move || {
                    // Release/Acquire: the first wait that sees it fired is woken for it.
                    deadline.0.store(true, Ordering::Release);
                    deadline.1.wake();
                })
            };
            let first_wait = async {
                started.open();
                let mut wait = pin!(drain.tasks.wait());
                std::future::poll_fn(|cx| {
                    if wait.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(true);
                    }
                    deadline.1.register_by_ref(cx.waker());
                    if deadline.0.load(Ordering::Acquire) {
                        Poll::Ready(false)
                    } else {
                        Poll::Pending
                    }
                })
                .await
            };
            let report = block_on(drain.shutdown_with(first_wait, || cancel.open()));
            assert_eq!(report.finished + report.cancelled, 1, "{report:?}");
            if report.cancelled == 1 {
                // Relaxed: the cancel, if any, ran on this thread.
                assert!(
                    cancel.open.load(Ordering::Relaxed),
                    "counted cancelled, never cancelled"
                );
            }
            assert_eq!(drain.tasks.count(), 0);
            quick.join().unwrap();
            timer.join().unwrap();
        });
    }
}

/// A model of the order in which an emission ends (`Emission::finish`, its `DrainGuard`,
/// `Tracker::finish`) against a thread waiting on its handle (`Emitted::wait`) that then
/// reads the processor's `in_flight`: the count must already be without the emission.
/// A copy of the protocol on loom's primitives (the real code uses `parking_lot`);
/// change both together. Run by `.ci/run` with `--cfg ventus_loom`.
#[cfg(all(test, ventus_loom))]
mod report_order_loom_tests {
    use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use loom::sync::{Arc, Condvar, Mutex};
    use loom::thread;

    /// One emission in flight, its outcome counters and its handle's tracker.
    struct Model {
        /// `InFlight::count`.
        count: AtomicUsize,
        /// `Drain::finished`.
        finished_stat: AtomicUsize,
        /// `Tracker::finished`.
        finished: AtomicBool,
        /// `Tracker::slot`: the report.
        slot: Mutex<Option<u32>>,
        /// `Tracker::ready`.
        ready: Condvar,
    }

    impl Model {
        fn new() -> Self {
            Self {
                // `track_in`: counted before the emission is handed on.
                count: AtomicUsize::new(1),
                finished_stat: AtomicUsize::new(0),
                finished: AtomicBool::new(false),
                slot: Mutex::new(None),
                ready: Condvar::new(),
            }
        }

        /// `DrainGuard::end(false)`: the outcome, then out of the count.
        fn leave(&self) {
            self.finished_stat.fetch_add(1, Ordering::Relaxed);
            self.count.fetch_sub(1, Ordering::AcqRel);
        }

        /// `Tracker::finish`.
        fn publish(&self, report: u32) {
            let mut slot = self.slot.lock().unwrap();
            *slot = Some(report);
            self.finished.store(true, Ordering::Release);
            drop(slot);
            self.ready.notify_all();
        }

        /// `Emitted::wait`: the lock-free check, else `Tracker::block`.
        fn wait(&self) -> u32 {
            if self.finished.load(Ordering::Acquire) {
                return self.slot.lock().unwrap().take().unwrap();
            }
            let mut slot = self.slot.lock().unwrap();
            while !self.finished.load(Ordering::Acquire) {
                slot = self.ready.wait(slot).unwrap();
            }
            slot.take().unwrap()
        }
    }

    /// Runs an emission's end (in `leave_first` order or the other) against a waiter,
    /// and checks what the waiter sees once it has the report.
    fn check(leave_first: bool) {
        loom::model(move || {
            let model = Arc::new(Model::new());
            let m = model.clone();
            let emission = thread::spawn(move || {
                if leave_first {
                    m.leave();
                    m.publish(7);
                } else {
                    m.publish(7);
                    m.leave();
                }
            });
            assert_eq!(model.wait(), 7);
            // `in_flight()` (an Acquire load) right after the wait returned.
            assert_eq!(model.count.load(Ordering::Acquire), 0, "still counted");
            emission.join().unwrap();
            assert_eq!(model.finished_stat.load(Ordering::Relaxed), 1);
        });
    }

    /// The order the code keeps: out of the count, then the report.
    #[test]
    fn in_flight_drops_before_the_report_is_published() {
        check(true);
    }

    /// The model is strong enough to catch the old order (report first).
    #[test]
    #[should_panic(expected = "still counted")]
    fn the_report_first_lets_a_waiter_see_the_emission_counted() {
        check(false);
    }
}
