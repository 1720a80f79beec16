//! The handle `emit` returns: wait for, or cancel, one emission.

use std::fmt;
use std::future::{poll_fn, Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Poll, Waker};

use parking_lot::{Condvar, Mutex};
use tokio_util::sync::CancellationToken;

use super::cancel::Cancel;
use super::drain::DrainGuard;
use super::report::{Counts, EmissionReport};
use crate::event::{EmissionId, EventName};
use crate::handler::guard_callback;

/// One emission after `emit`: await it (or [`wait`](Self::wait) from sync code) for its
/// [`EmissionReport`], or [`cancel`](Self::cancel) it.
///
/// Dropping the handle detaches: the emission goes on (fire-and-forget stays the
/// default). An emission that ran to its end inside `emit` (a sync context) comes back
/// finished.
///
/// The report is published last: by the time a wait returns it, the emission has left
/// its processor's [`in_flight`](crate::Processor::in_flight) count (and the emitter's
/// [`metrics`](crate::EventEmitter::metrics)), and its handlers are in the metrics'
/// counters.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = ventus::EventLinker::builder().build()?;
/// linker.on("Job").subscribe(|| async { 7 })?;
/// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
///
/// let report = emitter.emit("Job")?.await;
/// assert_eq!(report.counts().succeeded, 1);
/// # Ok(())
/// # }
/// ```
pub struct Emitted {
    id: EmissionId,
    inner: Inner,
}

enum Inner {
    /// Finished inside `emit` on the lean path: the report is its counts.
    Counted(Counts, EventName),
    Done(EmissionReport),
    Tracked(Arc<Tracker>),
}

/// The state an emission running elsewhere shares with its handle.
///
/// An emission has one handle, so at most one waiter: its waker (or the fact that a
/// thread blocks on `ready`) is kept beside the report, under the same lock, and
/// `finish` costs one lock and no `Notify` (whose `notify_waiters` takes a lock of its
/// own and a locked add, each a cache-line transfer when the emission ends on another
/// thread than its handle's).
pub(crate) struct Tracker {
    /// Set, with the report stored, under `slot`'s lock when the emission ends; read
    /// without the lock as a fast check. Written once.
    finished: AtomicBool,
    /// Guarded: the report and the handle's waker.
    slot: Mutex<Slot>,
    /// Wakes a thread blocked in [`Emitted::wait`]; paired with `slot`'s lock.
    ready: Condvar,
    /// Set by [`Emitted::cancel`].
    pub(crate) cancel: Cancel,
    /// The thread pool (by id) whose workers run the emission; 0 if none. Its workers
    /// refuse to block in [`Emitted::wait`] for it. Set at `new`, or (an ordered
    /// emission, tracked before its processor took it) when the processor tracks it.
    pool: AtomicU64,
    /// The token of [`Emission::cancellation`](crate::Emission::cancellation), made on
    /// first ask; cancelling it cancels the emission, and `Emitted::cancel` cancels it.
    pub(crate) token: OnceLock<CancellationToken>,
    /// Whether `slot` holds the span the emission was made in; read without the lock, so
    /// an emission made in no span never takes it for its span.
    has_span: bool,
}

/// What `Tracker::slot` guards.
#[derive(Default)]
struct Slot {
    /// The report, from `finish` until the handle takes it.
    report: Option<EmissionReport>,
    /// The awaiting handle's waker, woken by `finish` after the lock is released.
    waker: Option<Waker>,
    /// The callback of [`Emitted::on_finish`]: given the report by `finish`, after the
    /// lock is released, instead of storing it.
    callback: Option<OnFinish>,
    /// The span current where the emission was tracked, if there was one: the parent of
    /// its `ventus.emission` span wherever it runs, or with ventus's spans off the span
    /// it runs in. Taken out by the run that starts the emission, or by `finish` if
    /// none did (and dropped after the lock), so it closes when the emission ends,
    /// however long a handle or canceller of it is kept.
    made_in: Option<tracing::Span>,
}

/// A callback of [`Emitted::on_finish`].
type OnFinish = Box<dyn FnOnce(EmissionReport) + Send>;

impl Tracker {
    /// `pool`: see [`Tracker::pool`]; `made_in`: see [`Slot::made_in`].
    pub(crate) fn new(pool: u64, made_in: Option<tracing::Span>) -> Arc<Self> {
        Arc::new(Self {
            pool: AtomicU64::new(pool),
            finished: AtomicBool::new(false),
            has_span: made_in.is_some(),
            slot: Mutex::new(Slot {
                made_in,
                ..Slot::default()
            }),
            ready: Condvar::new(),
            cancel: Cancel::default(),
            token: OnceLock::new(),
        })
    }

    /// Records the pool whose workers run the emission (see [`Tracker::pool`]).
    pub(crate) fn set_pool(&self, pool: u64) {
        if pool != 0 {
            self.pool.store(pool, Ordering::Relaxed);
        }
    }

    /// Cancels the emission: the flag, and the token if one was made.
    pub(crate) fn cancel(&self) {
        self.cancel.cancel();
        if let Some(token) = self.token.get() {
            token.cancel();
        }
    }

    /// Takes the span the emission was made in, for the run that enters it (each run
    /// path takes it once, when it starts). Moved out under the lock, not cloned: a
    /// subscriber's `clone_span` is its own code.
    pub(crate) fn take_made_in(&self) -> Option<tracing::Span> {
        if !self.has_span {
            return None;
        }
        self.slot.lock().made_in.take()
    }

    /// Publishes the report and wakes the handle's waiter; later calls do nothing.
    pub(crate) fn finish(&self, report: EmissionReport) {
        if self.is_finished() {
            return;
        }
        let (waker, callback, made_in) = {
            let mut slot = self.slot.lock();
            // Tested again under the lock: two racing calls store one report.
            if self.is_finished() {
                return;
            }
            let made_in = slot.made_in.take();
            let taken = match slot.callback.take() {
                // An `on_finish` handle: the report goes to its callback, not the slot.
                Some(callback) => (None, Some((callback, report))),
                None => {
                    slot.report = Some(report);
                    (slot.waker.take(), None)
                }
            };
            // Release: a waiter that sees `finished` without the lock sees the report.
            // Stored under the lock, so a waiter that tested it under the lock and saw
            // `false` has registered (waker, callback or condvar wait) before this store.
            self.finished.store(true, Ordering::Release);
            (taken.0, taken.1, made_in)
        };
        // Closed outside the lock: a subscriber's `on_close` is its own code.
        drop(made_in);
        // Woken after the lock is released. `notify_all` with no thread waiting is a
        // plain load.
        self.ready.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
        if let Some((callback, report)) = callback {
            call_on_finish(callback, report);
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// The report, if the emission has finished; otherwise registers `waker` (when
    /// given) to be woken by `finish`.
    fn poll_report(&self, waker: &Waker) -> Option<EmissionReport> {
        let mut slot = self.slot.lock();
        if self.is_finished() {
            return Some(take(&mut slot));
        }
        match &mut slot.waker {
            Some(old) if old.will_wake(waker) => {}
            other => *other = Some(waker.clone()),
        }
        None
    }

    /// Blocks this thread until the emission has finished; returns its report.
    fn block(&self) -> EmissionReport {
        let mut slot = self.slot.lock();
        while !self.is_finished() {
            self.ready.wait(&mut slot);
        }
        take(&mut slot)
    }
}

impl Tracker {
    /// Gives the report to `callback` once the emission has finished: at once, on this
    /// thread, if it has; otherwise on the thread that finishes it.
    fn on_finish(&self, callback: OnFinish) {
        let report = {
            let mut slot = self.slot.lock();
            if !self.is_finished() {
                slot.callback = Some(callback);
                return;
            }
            take(&mut slot)
        };
        call_on_finish(callback, report);
    }
}

/// Calls an `on_finish` callback, with no lock held; a panic in it (or in dropping the
/// report) is logged and goes no further.
fn call_on_finish(callback: OnFinish, report: EmissionReport) {
    guard_callback("on_finish callback", move || callback(report));
}

fn take(slot: &mut Slot) -> EmissionReport {
    slot.report
        .take()
        .unwrap_or_else(|| unreachable!("an emission's report is taken once, by its handle"))
}

/// An emission's hold on its tracker: if the emission is dropped without running (a
/// queue dropped, a runtime gone before the task started), its handle still gets a
/// report, with every handler counted cancelled, instead of waiting forever.
pub(crate) struct TrackerGuard {
    pub(crate) tracker: Arc<Tracker>,
    pub(crate) id: EmissionId,
    pub(crate) event: crate::event::EventName,
    /// How many handlers the emission runs: all cancelled if it never starts.
    pub(crate) handlers: u32,
    /// The emitter's shared state, whose metrics count those cancellations.
    pub(crate) emitter: Arc<super::EmitterShared>,
    /// The processor-wide signal (a shutdown's deadline) that cancels this emission too.
    pub(crate) parent: Option<Arc<Cancel>>,
    /// A caller's token that cancels this emission too ([`Emission::track`](crate::Emission::track)).
    pub(crate) external: Option<CancellationToken>,
    /// The emission's place in its processor's in-flight count, until it is ended just
    /// before the report is published (by the run, which takes it, or by this guard).
    pub(crate) ticket: Option<DrainGuard>,

    /// An ordered emission, which `emit` accepted into its emitter's queue: a refusal
    /// by its processor at its turn still counts its handlers cancelled.
    pub(crate) ordered: bool,
}

impl TrackerGuard {
    /// Whether anything has asked this emission to stop. Lock-free unless a
    /// `CancellationToken` is involved.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.tracker.cancel.is_cancelled()
            || self.parent.as_ref().is_some_and(|p| p.is_cancelled())
            || self
                .external
                .as_ref()
                .is_some_and(CancellationToken::is_cancelled)
            || self
                .tracker
                .token
                .get()
                .is_some_and(CancellationToken::is_cancelled)
    }

    /// Completes when anything asks this emission to stop.
    pub(crate) async fn cancelled(&self) {
        let token = self.tracker.token.get();
        loop {
            // Made before the flags are tested, so a cancel in between still wakes us.
            let own = self.tracker.cancel.notified();
            let parent = self.parent.as_deref().map(Cancel::notified);
            if self.is_cancelled() {
                return;
            }
            tokio::select! {
                () = own => {}
                () = maybe(parent) => {}
                () = token_cancelled(self.external.as_ref()) => {}
                () = token_cancelled(token) => {}
            }
        }
    }
}

async fn maybe<F: std::future::Future<Output = ()>>(f: Option<F>) {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

async fn token_cancelled(token: Option<&CancellationToken>) {
    match token {
        Some(token) => token.cancelled().await,
        None => std::future::pending().await,
    }
}

impl Drop for TrackerGuard {
    fn drop(&mut self) {
        if !self.tracker.is_finished() {
            let mut report = EmissionReport::new(self.id, self.event.clone());
            report.counts.cancelled = self.handlers;
            self.emitter.metrics.record(&report.counts);
            // Dropped without running: cancelled, and out of the count before the report.
            if let Some(ticket) = self.ticket.take() {
                ticket.end(true);
            }
            self.tracker.finish(report);
        }
    }
}

impl Emitted {
    pub(crate) fn done(report: EmissionReport) -> Self {
        Self {
            id: report.id,
            inner: Inner::Done(report),
        }
    }

    /// An emission that finished inside `emit` with no detail beyond its counts.
    pub(crate) fn counted(id: EmissionId, event: EventName, counts: Counts) -> Self {
        Self {
            id,
            inner: Inner::Counted(counts, event),
        }
    }

    pub(crate) fn tracked(id: EmissionId, tracker: Arc<Tracker>) -> Self {
        Self {
            id,
            inner: Inner::Tracked(tracker),
        }
    }

    /// The emission's id.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Tick").subscribe(|| ())?;
    /// let emitted = ventus::TokioEventEmitter::with_linker(&linker).emit("Tick")?;
    /// let id = emitted.id();
    /// assert_eq!(emitted.wait().expect("no runtime on this thread").id(), id);
    /// # Ok(())
    /// # }
    /// ```
    pub fn id(&self) -> EmissionId {
        self.id
    }

    /// Whether every handler has finished (or been cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|| async {})?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    ///
    /// let emitted = emitter.emit("Job")?; // scheduled on this runtime
    /// assert!(!emitted.is_finished());
    /// emitter.wait_for_tasks().await;
    /// assert!(emitted.is_finished());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            Inner::Counted(..) | Inner::Done(_) => true,
            Inner::Tracked(t) => t.is_finished(),
        }
    }

    /// Cancels the handlers that have not finished: async handlers are dropped at their
    /// next await point and reported [`Cancelled`](crate::Outcome::Cancelled); a
    /// `blocking` handler already running goes on on its thread but is no longer waited
    /// for. `false` if the emission had already finished.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Forever").subscribe(|| std::future::pending::<()>())?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    ///
    /// let emitted = emitter.emit("Forever")?;
    /// assert!(emitted.cancel());
    /// assert_eq!(emitted.await.counts().cancelled, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn cancel(&self) -> bool {
        match &self.inner {
            Inner::Counted(..) | Inner::Done(_) => false,
            Inner::Tracked(t) if t.is_finished() => false,
            Inner::Tracked(t) => {
                t.cancel();
                true
            }
        }
    }

    /// A handle that cancels this emission, as [`cancel`](Self::cancel) does, and that
    /// can be cloned and kept after this handle is awaited, waited for or given to
    /// [`on_finish`](Self::on_finish): for code that must be able to stop an emission
    /// while something else waits for its report (a shutdown deadline, a watchdog).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Forever").subscribe(|| std::future::pending::<()>())?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    ///
    /// let emitted = emitter.emit("Forever")?;
    /// let canceller = emitted.canceller();
    /// let waiting = tokio::spawn(async move { emitted.await }); // the handle is gone
    /// assert!(canceller.clone().cancel());
    /// assert_eq!(waiting.await?.counts().cancelled, 1);
    /// assert!(canceller.is_finished());
    /// # Ok(())
    /// # }
    /// ```
    pub fn canceller(&self) -> Canceller {
        Canceller {
            tracker: match &self.inner {
                Inner::Counted(..) | Inner::Done(_) => None,
                Inner::Tracked(t) => Some(t.clone()),
            },
        }
    }

    /// Calls `callback` with the emission's report once it has finished, instead of
    /// awaiting the handle: at once, on this thread, if it has finished already;
    /// otherwise on the thread that finishes the emission, as its last step (the
    /// emission has left its processor's in-flight count by then, as for a wait).
    ///
    /// Nothing is spawned and nothing polls: this is how code that runs many emissions
    /// (a server, an adapter) follows each one's end without a task per emission. The
    /// callback must be quick and must not block: it runs on a processor's thread (a
    /// runtime worker, a pool worker) or inside `emit` itself. A panic in it is caught
    /// and logged. Take a [`canceller`](Self::canceller) first to be able to cancel the
    /// emission afterwards.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Resize").subscribe(|px: u32| async move { px / 2 })?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    ///
    /// let (tx, rx) = mpsc::channel();
    /// emitter.emit_with("Resize", 640_u32)?.on_finish(move |report| {
    ///     tx.send(report.counts().succeeded).ok();
    /// });
    /// assert_eq!(rx.recv()?, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_finish(self, callback: impl FnOnce(EmissionReport) + Send + 'static) {
        match self.inner {
            Inner::Counted(counts, event) => call_on_finish(
                Box::new(callback),
                EmissionReport::counted(self.id, event, counts),
            ),
            Inner::Done(report) => call_on_finish(Box::new(callback), report),
            Inner::Tracked(tracker) => tracker.on_finish(Box::new(callback)),
        }
    }

    /// Blocks this thread until the emission has finished, and returns its report.
    ///
    /// For sync code; async code awaits the handle instead. On a multi-thread runtime's
    /// thread the wait is wrapped in `block_in_place`.
    ///
    /// # Errors
    ///
    /// Gives the handle back, without waiting, if the emission has not finished and
    /// waiting here could stop it from ever finishing:
    ///
    /// - this thread drives a current-thread runtime (the emission may be scheduled on
    ///   it);
    /// - this thread is a worker of the [`ThreadPoolProcessor`](crate::ThreadPoolProcessor)
    ///   that runs the emission (a handler waiting on an emission of its own pool): it may
    ///   be queued behind this very handler, with every other worker as busy. Whatever the
    ///   pool's size, such a wait is refused; the handle still gets its report, so hand it
    ///   to code off the pool, or emit on another emitter.
    ///
    /// # Examples
    ///
    /// From sync code, `wait` blocks until the report is there:
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Resize").subscribe(|px: u32| async move { px / 2 })?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    ///
    /// let report = emitter.emit_with("Resize", 640_u32)?.wait().expect("no runtime on this thread");
    /// assert_eq!(report.counts().succeeded, 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// On the thread of a current-thread runtime it gives the handle back; await it instead:
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let linker = ventus::EventLinker::builder().build()?;
    /// # linker.on("Job").subscribe(|| async {})?;
    /// # let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    /// let emitted = emitter.emit("Job")?; // scheduled on this runtime
    /// let emitted = emitted.wait().expect_err("waiting here would stop the emission from running");
    /// assert_eq!(emitted.await.counts().succeeded, 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// In a handler on a thread-pool worker, for an emission of the same pool, it gives
    /// the handle back too; wait off the pool:
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::mpsc;
    /// use std::sync::Mutex;
    ///
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Inner").subscribe(|| ())?;
    /// let (tx, rx) = mpsc::channel();
    /// let tx = Mutex::new(tx);
    /// linker.on("Outer").subscribe(move |pool: &ventus::ThreadPoolEventEmitter| {
    ///     let inner = pool.emit("Inner").unwrap();
    ///     // On a worker of the pool that runs `inner`: refused, the handle comes back.
    ///     let handle = inner.wait().unwrap_err();
    ///     tx.lock().unwrap().send(handle).unwrap();
    /// })?;
    ///
    /// let pool = ventus::ThreadPoolEventEmitter::with_linker(&linker, 1);
    /// pool.emit_with("Outer", pool.clone())?.wait().unwrap();
    /// // Off the pool, the wait goes ahead.
    /// assert_eq!(rx.recv()?.wait().unwrap().counts().succeeded, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn wait(self) -> Result<EmissionReport, Emitted> {
        let tracker = match self.inner {
            Inner::Counted(counts, event) => {
                return Ok(EmissionReport::counted(self.id, event, counts))
            }
            Inner::Done(report) => return Ok(report),
            Inner::Tracked(ref t) if t.is_finished() => return Ok(t.block()),
            Inner::Tracked(ref t) => t.clone(),
        };
        if is_worker_of(tracker.pool.load(Ordering::Relaxed)) {
            return Err(self);
        }
        let block = || tracker.block();
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Err(_) => Ok(block()),
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                Ok(tokio::task::block_in_place(block))
            }
            Ok(_) => Err(self),
        }
    }
}

impl IntoFuture for Emitted {
    type Output = EmissionReport;
    type IntoFuture = Pin<Box<dyn Future<Output = EmissionReport> + Send>>;

    /// Waits for the emission's report.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the wait; the emission goes on.
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let tracker = match self.inner {
                Inner::Counted(counts, event) => {
                    return EmissionReport::counted(self.id, event, counts)
                }
                Inner::Done(report) => return report,
                Inner::Tracked(tracker) => tracker,
            };
            if tracker.is_finished() {
                return tracker.block();
            }
            poll_fn(|cx| match tracker.poll_report(cx.waker()) {
                Some(report) => Poll::Ready(report),
                None => Poll::Pending,
            })
            .await
        })
    }
}

impl fmt::Debug for Emitted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emitted")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Cancels one emission; made by [`Emitted::canceller`].
///
/// Cheap to clone, and independent of the [`Emitted`] it came from: it stays usable
/// after that handle is awaited, waited for, given to [`Emitted::on_finish`] or
/// dropped. It keeps no more of the emission than its report's slot.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = ventus::EventLinker::builder().build()?;
/// linker.on("Tick").subscribe(|| ())?;
/// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
///
/// let emitted = emitter.emit("Tick")?;
/// let canceller = emitted.canceller();
/// emitted.await; // finished: nothing left to cancel
/// assert!(!canceller.cancel());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Canceller {
    /// `None` for an emission that had finished when the canceller was made.
    tracker: Option<Arc<Tracker>>,
}

impl Canceller {
    /// Cancels the emission's handlers that have not finished, as [`Emitted::cancel`]
    /// does; `false` if the emission had already finished.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Forever").subscribe(|| std::future::pending::<()>())?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    ///
    /// let emitted = emitter.emit("Forever")?;
    /// let canceller = emitted.canceller();
    /// assert!(canceller.cancel());
    /// assert_eq!(emitted.await.counts().cancelled, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn cancel(&self) -> bool {
        match &self.tracker {
            Some(t) if !t.is_finished() => {
                t.cancel();
                true
            }
            _ => false,
        }
    }

    /// Whether the emission has finished (or been cancelled and ended).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Tick").subscribe(|| ())?;
    /// let emitted = ventus::TokioEventEmitter::with_linker(&linker).emit("Tick")?;
    /// let canceller = emitted.canceller();
    /// emitted.wait().expect("no runtime on this thread");
    /// assert!(canceller.is_finished());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_finished(&self) -> bool {
        self.tracker.as_ref().is_none_or(|t| t.is_finished())
    }
}

impl fmt::Debug for Canceller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Canceller")
            .field("finished", &self.is_finished())
            .finish()
    }
}

thread_local! {
    /// The id of the thread pool whose worker this thread is; 0 elsewhere.
    static WORKER_OF: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Marks this thread as a worker of pool `id` (ids start at 1), for the rest of its life.
pub(crate) fn set_worker_of(id: u64) {
    let _ = WORKER_OF.try_with(|pool| pool.set(id));
}

/// Whether this thread is a worker of pool `pool` (0: no pool). Unknown during
/// thread-local destruction: taken as yes, so a wait there is refused, never stuck.
pub(crate) fn is_worker_of(pool: u64) -> bool {
    pool != 0 && WORKER_OF.try_with(|id| id.get() == pool).unwrap_or(true)
}
