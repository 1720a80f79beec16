//! The handle the application keeps in its state: where held emissions run, their
//! counters, and the graceful-shutdown drain.

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tracing::Span;
use ventus::{
    Canceller, EmissionId, EmissionReport, EmitError, Emitted, EventEmitter, EventName, Outcome,
};

use crate::policy::RunPolicy;
use crate::slot::Slot as HeldSlot;

/// A request's slot of held emissions.
pub(crate) type Slot = HeldSlot<Pending>;

/// A held payload: `None` for an emission without one.
pub(crate) type Payload = Option<Box<dyn Any + Send + Sync>>;

/// Emits a held emission on the emitter: `emit`, `emit_with::<T>` or `emit_event::<E>`,
/// given back the payload it was held with.
pub(crate) type EmitFn = fn(&EventEmitter, &EventName, Payload) -> Result<Emitted, EmitError>;

/// One emission held with a request.
pub(crate) struct Pending {
    /// Where it will run and be counted.
    pub(crate) background: Background,
    /// Its event, for the logs and the emitter.
    pub(crate) event: EventName,
    /// The per-emission override of the router's policy.
    pub(crate) policy: Option<RunPolicy>,
    /// The span current when the handler emitted: the parent of the emission's span.
    pub(crate) span: Span,
    /// The payload, handed to `emit` at hand-off.
    pub(crate) payload: Payload,
    /// How to emit it.
    pub(crate) emit: EmitFn,
}

/// Runs the emissions that requests hold, after their responses, on the application's
/// [`EventEmitter`]; counts them; and drains them at shutdown.
///
/// A cheap `Clone` handle: put it in the router's state (the
/// [`BackgroundEmitter`](crate::BackgroundEmitter) extractor takes it from there through
/// [`FromRef`](axum_core::extract::FromRef)), keep a clone for
/// [`shutdown`](Self::shutdown) and [`metrics`](Self::metrics).
///
/// # How a held emission runs
///
/// When the response future of [`VentusLayer`](crate::VentusLayer) resolves, each
/// emission the [`RunPolicy`] lets through is emitted on the application's emitter
/// inside a `ventus_axum.emission` span (fields `event`, `method`, `path`) whose parent
/// is the span that was current when the handler emitted (an `info`-level span, so it
/// is there wherever a subscriber keeps `info`). The emitter's processor runs it, in
/// that span wherever it runs, and the emitter's linker, timeouts, bound, reports,
/// metrics and closed state all apply; ventus's `ventus.emission` and `ventus.handler`
/// spans open inside that span, so the request's span is their ancestor. This handle
/// follows the emission to its end ([`Emitted::on_finish`](ventus::Emitted::on_finish))
/// and keeps a [`Canceller`] of it for [`shutdown`](Self::shutdown).
///
/// When the emission ends with a handler that failed, panicked or timed out, the failure is
/// logged at `error` level with the event, the method and the path (and each failing
/// handler's name and error when the emitter was built with
/// [`detailed_reports(true)`](ventus::EventEmitterBuilder::detailed_reports)). ventus logs
/// each failure itself too, with the event and the handler, inside the span, so that
/// line carries the method and the path as well. The emission is counted in
/// [`BackgroundMetrics::failed`], and given to the
/// [`on_failure`](BackgroundBuilder::on_failure) callback if there is one. A panic is
/// caught by ventus and never reaches the server.
///
/// # Examples
///
/// ```
/// use ventus::{EventLinker, TokioEventEmitter};
/// use ventus_axum::Background;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on("UserCreated").subscribe(|name: &String| println!("welcome, {name}"))?;
/// let background = Background::new(TokioEventEmitter::with_linker(&linker));
/// assert_eq!(background.metrics().held, 0);
/// let router: axum::Router = axum::Router::new()
///     .layer(ventus_axum::VentusLayer::new())
///     .with_state(background.clone());
/// # let _ = router;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Background {
    inner: Arc<Inner>,
}

/// What every clone of a [`Background`] shares.
struct Inner {
    /// The application's emitter; held emissions run on it. Immutable.
    emitter: EventEmitter,
    /// Hand-off tasks not yet ended; `wait_for_tasks` and `shutdown` wait for it to
    /// reach zero.
    running: AtomicU64,
    /// Woken (`notify_waiters`) when `running` drops to zero while `waiters` is not.
    idle: Notify,
    /// Calls of `wait_for_tasks` in progress; a task reaching zero skips the wake (and
    /// its lock) when there are none.
    waiters: AtomicU64,
    /// The emissions handed off and not yet finished, to cancel at a shutdown deadline.
    live: Mutex<Live>,
    /// Set by `shutdown` when its deadline passed, before it cancels what `live` holds:
    /// a hand-off that registers after that cancels its emission itself.
    deadline_passed: AtomicBool,
    /// Set once by `shutdown`; read by `BackgroundEmitter::emit*` and at hand-off.
    closed: AtomicBool,
    /// Called with each run that had a failing handler. Immutable.
    on_failure: Option<OnFailure>,
    /// The counters of [`BackgroundMetrics`].
    counters: Counters,
}

type OnFailure = Arc<dyn Fn(&Failure<'_>) + Send + Sync>;

/// How long [`Background::shutdown`] waits, at most, for the emissions it cancelled at
/// its deadline to end.
const CANCEL_GRACE: Duration = Duration::from_secs(1);

/// Monotonic counters. Each is only ever incremented, and read as a snapshot: they carry
/// no ordering with other memory, so `Relaxed` is enough everywhere.
#[derive(Default)]
struct Counters {
    held: AtomicU64,
    handed_off: AtomicU64,
    skipped: AtomicU64,
    dropped: AtomicU64,
    refused: AtomicU64,
    finished: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Builds a [`Background`] with options.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let failures = Arc::new(AtomicUsize::new(0));
/// let seen = failures.clone();
/// let emitter = ventus::TokioEventEmitter::with_linker(&ventus::EventLinker::builder().build().unwrap());
/// let background = ventus_axum::Background::builder(emitter)
///     .on_failure(move |failure| {
///         seen.fetch_add(1, Ordering::Relaxed);
///         eprintln!("{} {}: `{}` failed", failure.method, failure.path, failure.event);
///     })
///     .build();
/// # let _ = background;
/// ```
pub struct BackgroundBuilder {
    emitter: EventEmitter,
    on_failure: Option<OnFailure>,
}

impl BackgroundBuilder {
    /// Calls `callback` after each emission that had a handler fail, panic or time out,
    /// on the thread that finished it (a worker of the emitter's processor). It must not
    /// block.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter = ventus::TokioEventEmitter::with_linker(&ventus::EventLinker::builder().build().unwrap());
    /// let background = ventus_axum::Background::builder(emitter)
    ///     .on_failure(|failure| eprintln!("{}: {}", failure.path, failure.report))
    ///     .build();
    /// # let _ = background;
    /// ```
    pub fn on_failure(mut self, callback: impl Fn(&Failure<'_>) + Send + Sync + 'static) -> Self {
        self.on_failure = Some(Arc::new(callback));
        self
    }

    /// The handle.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter = ventus::TokioEventEmitter::new();
    /// let background = ventus_axum::Background::builder(emitter).build();
    /// assert!(!background.is_closed());
    /// ```
    pub fn build(self) -> Background {
        Background {
            inner: Arc::new(Inner {
                emitter: self.emitter,
                running: AtomicU64::new(0),
                idle: Notify::new(),
                waiters: AtomicU64::new(0),
                live: Mutex::new(Live::default()),
                deadline_passed: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                on_failure: self.on_failure,
                counters: Counters::default(),
            }),
        }
    }
}

impl fmt::Debug for BackgroundBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackgroundBuilder")
            .field("on_failure", &self.on_failure.is_some())
            .finish_non_exhaustive()
    }
}

/// A run after a response that had a handler fail, panic or time out, as given to
/// [`BackgroundBuilder::on_failure`].
///
/// # Examples
///
/// ```
/// fn log(failure: &ventus_axum::Failure<'_>) {
///     let counts = failure.report.counts();
///     eprintln!(
///         "{} {} `{}`: {} failed, {} panicked",
///         failure.method, failure.path, failure.event, counts.failed, counts.panicked
///     );
/// }
/// # let _ = log;
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Failure<'a> {
    /// The event.
    pub event: &'a str,
    /// The request's method.
    pub method: &'a Method,
    /// The request's path.
    pub path: &'a str,
    /// The run's report (per handler too if the emitter keeps detailed reports).
    pub report: &'a EmissionReport,
}

/// Counters of a [`Background`] and its clones, from [`Background::metrics`].
///
/// Every emission a handler asks for ends in exactly one of `refused`, `skipped`,
/// `dropped`, `finished` or `cancelled`, unless it is still held with a request whose
/// response has not come, or `in_flight`. Nothing is dropped uncounted.
///
/// # Examples
///
/// ```
/// let background = ventus_axum::Background::new(ventus::TokioEventEmitter::new());
/// let m = background.metrics();
/// assert_eq!((m.held, m.handed_off, m.skipped, m.dropped, m.in_flight), (0, 0, 0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackgroundMetrics {
    /// Emissions held with a request (`BackgroundEmitter::emit*` returned `Ok`).
    pub held: u64,
    /// Held emissions started after their response.
    pub handed_off: u64,
    /// Held emissions the [`RunPolicy`] kept from running (the status did not let them).
    pub skipped: u64,
    /// Held emissions whose request ended without a response: the handler was cancelled
    /// (a timeout layer, a client gone before the response) or panicked, or the service
    /// returned an error.
    pub dropped: u64,
    /// Emissions refused: at `emit*` (see [`HoldError`](crate::HoldError)), or at
    /// hand-off because the handle was shut down or the emitter refused the run
    /// ([`EmitError`](ventus::EmitError), logged with the event, method and path).
    pub refused: u64,
    /// Handed-off emissions whose run ended with every handler run to its end (whatever
    /// their handlers returned).
    pub finished: u64,
    /// Finished runs in which some handler failed, panicked or timed out.
    pub failed: u64,
    /// Handed-off emissions that ended with a handler cancelled: at a
    /// [`shutdown`](Background::shutdown) deadline, or by the emitter itself (its own
    /// shutdown, its runtime gone). Logged at `warn` level with the event, method and
    /// path.
    pub cancelled: u64,
    /// Handed-off emissions whose run has not ended.
    pub in_flight: u64,
}

/// What [`Background::shutdown`] did.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let background = ventus_axum::Background::new(ventus::TokioEventEmitter::new());
/// let report = background.shutdown(std::time::Duration::from_secs(1)).await;
/// assert_eq!((report.finished, report.cancelled, report.refused), (0, 0, 0));
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainReport {
    /// Emissions whose run ended between the start of the shutdown and its return.
    pub finished: u64,
    /// Emissions that ended cancelled between the start of the shutdown and its return:
    /// those still running at the deadline.
    pub cancelled: u64,
    /// Emissions refused since the shutdown started (emitted, or reaching hand-off, on a
    /// closed handle).
    pub refused: u64,
    /// Emissions cancelled at the deadline that had not ended when the shutdown returned:
    /// waiting for their turn behind other work of the emitter (an earlier emission of a
    /// submission-ordered emitter, a busy thread pool), which then start no handler, or
    /// in a handler that does not yield. Each is counted in
    /// [`BackgroundMetrics::cancelled`] when it ends. (One that ends at the very moment
    /// the shutdown returns may be counted both here and in `cancelled`.)
    pub abandoned: u64,
}

impl Background {
    /// A handle whose held emissions run on `emitter` (any `EventEmitter<P>`; a clone of
    /// the one the rest of the application uses shares its linker, settings and metrics).
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter = ventus::TokioEventEmitter::new();
    /// let background = ventus_axum::Background::new(emitter.clone());
    /// assert!(background.emitter().linker().same_as(emitter.linker()));
    /// ```
    pub fn new(emitter: impl Into<EventEmitter>) -> Self {
        Self::builder(emitter).build()
    }

    /// A builder, for options such as [`on_failure`](BackgroundBuilder::on_failure).
    ///
    /// # Examples
    ///
    /// ```
    /// let background = ventus_axum::Background::builder(ventus::TokioEventEmitter::new())
    ///     .on_failure(|failure| eprintln!("{}", failure.report))
    ///     .build();
    /// # let _ = background;
    /// ```
    pub fn builder(emitter: impl Into<EventEmitter>) -> BackgroundBuilder {
        BackgroundBuilder {
            emitter: emitter.into(),
            on_failure: None,
        }
    }

    /// The emitter held emissions run on.
    ///
    /// # Examples
    ///
    /// ```
    /// let background = ventus_axum::Background::new(ventus::TokioEventEmitter::new());
    /// assert!(!background.emitter().is_closed());
    /// ```
    pub fn emitter(&self) -> &EventEmitter {
        &self.inner.emitter
    }

    /// A snapshot of the counters shared by this handle and its clones.
    ///
    /// # Examples
    ///
    /// ```
    /// let background = ventus_axum::Background::new(ventus::TokioEventEmitter::new());
    /// assert_eq!(background.clone().metrics(), background.metrics());
    /// ```
    pub fn metrics(&self) -> BackgroundMetrics {
        let c = &self.inner.counters;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        BackgroundMetrics {
            held: get(&c.held),
            handed_off: get(&c.handed_off),
            skipped: get(&c.skipped),
            dropped: get(&c.dropped),
            refused: get(&c.refused),
            finished: get(&c.finished),
            failed: get(&c.failed),
            cancelled: get(&c.cancelled),
            in_flight: self.inner.running.load(Ordering::Relaxed),
        }
    }

    /// Whether [`shutdown`](Self::shutdown) was called on this handle or a clone.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let background = ventus_axum::Background::new(ventus::TokioEventEmitter::new());
    /// assert!(!background.is_closed());
    /// background.shutdown(std::time::Duration::ZERO).await;
    /// assert!(background.clone().is_closed());
    /// # }
    /// ```
    pub fn is_closed(&self) -> bool {
        // Acquire: pairs with the Release in `shutdown`; a reader that sees the flag also
        // sees the tracker closed.
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Waits until no handed-off emission is running (at once if none is), without
    /// closing anything: emissions handed off meanwhile are waited for too.
    ///
    /// When it returns, the metrics count every run that ended (`finished`, `failed`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future stops the wait and nothing else.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let background = ventus_axum::Background::new(ventus::TokioEventEmitter::new());
    /// background.wait_for_tasks().await; // nothing in flight: returns at once
    /// assert!(!background.is_closed());
    /// # }
    /// ```
    pub async fn wait_for_tasks(&self) {
        // SeqCst, with the decrement and the load of `waiters` in `Running::drop`: either
        // the emission that brings `running` to zero sees this waiter and wakes it, or
        // this waiter's load below sees zero.
        self.inner.waiters.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.inner);
        loop {
            let idle = self.inner.idle.notified();
            tokio::pin!(idle);
            // Registered before the count is read: an emission that ends between the read
            // and the await still wakes this waiter.
            idle.as_mut().enable();
            // SeqCst: see above and `shutdown`; it also acquires the decrements, so the
            // counters the ended emissions bumped are visible once zero is seen.
            if self.inner.running.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }

    /// Stops taking emissions, waits up to `deadline` for those in flight, cancels the
    /// rest, and reports.
    ///
    /// From the call on, `BackgroundEmitter::emit*` returns [`HoldError::Closed`](crate::HoldError::Closed) and a
    /// held emission reaching hand-off is refused (both counted in
    /// [`DrainReport::refused`] and logged). Emissions already handed off get until the
    /// deadline to finish; those still running then are cancelled (their async handlers
    /// dropped at their next await point, as with [`ventus::Emitted::cancel`]) and
    /// counted in [`DrainReport::cancelled`]. The application's emitter stays open.
    ///
    /// It returns within `deadline` + 1 s: past the deadline, the cancelled emissions
    /// get up to a second to end. One that has not ended then is counted in
    /// [`DrainReport::abandoned`]: it is waiting for its turn on the emitter (behind a
    /// long emission of a submission-ordered emitter, or on a busy thread pool), and then
    /// starts no handler when the turn comes, or it is in a handler that does not yield
    /// (a sync handler still running on a pool worker).
    ///
    /// With `axum::serve(..).with_graceful_shutdown(signal)`, call it once `serve` has
    /// returned: every connection has been closed by then, so every request has produced
    /// its response and handed its emissions on, and the drain sees them all.
    ///
    /// The deadline needs the runtime's time driver (`#[tokio::main]` and
    /// `#[tokio::test]` enable it).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the wait; the handle stays closed, and nothing is
    /// cancelled that was not already.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use axum::{routing::post, Router};
    /// use ventus_axum::{Background, BackgroundEmitter, VentusLayer};
    ///
    /// async fn create(emitter: BackgroundEmitter) -> &'static str {
    ///     emitter.emit("Created").ok();
    ///     "created"
    /// }
    ///
    /// #[tokio::main]
    /// async fn main() -> std::io::Result<()> {
    ///     let background = Background::new(ventus::TokioEventEmitter::new());
    ///     let app = Router::new()
    ///         .route("/", post(create))
    ///         .layer(VentusLayer::new())
    ///         .with_state(background.clone());
    ///     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    ///     axum::serve(listener, app)
    ///         .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.unwrap() })
    ///         .await?;
    ///     let report = background.shutdown(Duration::from_secs(10)).await;
    ///     eprintln!("{} finished, {} cancelled", report.finished, report.cancelled);
    ///     Ok(())
    /// }
    /// ```
    pub async fn shutdown(&self, deadline: Duration) -> DrainReport {
        let c = &self.inner.counters;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let (finished, cancelled, refused) = (get(&c.finished), get(&c.cancelled), get(&c.refused));
        // SeqCst, with the increment and the load in `hand_off` and the load of `running`
        // in `wait_for_tasks`: a hand-off either sees the flag and refuses, or has counted
        // its emission before the wait reads the count, so none starts after this returns.
        self.inner.closed.store(true, Ordering::SeqCst);
        let mut abandoned = 0;
        if tokio::time::timeout(deadline, self.wait_for_tasks())
            .await
            .is_err()
        {
            // SeqCst, with the load in `hand_off` after its registration: a hand-off
            // either registered before the take below, or sees the flag.
            self.inner.deadline_passed.store(true, Ordering::SeqCst);
            let live = std::mem::take(&mut *self.inner.live.lock());
            // Cancelled outside the lock. A running emission ends at its handlers' next
            // await point; one still waiting for its turn (behind the emitter's other
            // work) ends when it gets it, without starting a handler. Each counts itself
            // cancelled in its `on_finish`.
            for canceller in live.into_cancellers() {
                canceller.cancel();
            }
            if tokio::time::timeout(CANCEL_GRACE, self.wait_for_tasks())
                .await
                .is_err()
            {
                abandoned = self.inner.running.load(Ordering::SeqCst);
                tracing::warn!(
                    abandoned,
                    "background shutdown: emissions cancelled at the deadline have not ended \
                     (waiting for their turn on the emitter, or in a handler that does not \
                     yield); they are counted cancelled when they end"
                );
            }
        }
        DrainReport {
            finished: get(&c.finished) - finished,
            cancelled: get(&c.cancelled) - cancelled,
            refused: get(&c.refused) - refused,
            abandoned,
        }
    }

    // ---- used by the extractor and the layer ----

    pub(crate) fn count_held(&self) {
        Counters::bump(&self.inner.counters.held, 1);
    }

    pub(crate) fn count_refused(&self) {
        Counters::bump(&self.inner.counters.refused, 1);
    }

    /// A held emission whose request ended without a response.
    pub(crate) fn drop_pending(pending: Pending, slot: &Slot, why: &'static str) {
        Counters::bump(&pending.background.inner.counters.dropped, 1);
        tracing::warn!(
            parent: &pending.span,
            event = %pending.event,
            method = %slot.method,
            path = slot.path(),
            "emission dropped: {why}"
        );
    }

    /// A held emission whose response came: run it, or skip it by the policy.
    pub(crate) fn settle(
        pending: Pending,
        slot: &Arc<Slot>,
        status: StatusCode,
        router: RunPolicy,
    ) {
        let policy = pending.policy.unwrap_or(router);
        if !policy.allows(status) {
            Counters::bump(&pending.background.inner.counters.skipped, 1);
            tracing::info!(
                parent: &pending.span,
                event = %pending.event,
                status = status.as_u16(),
                method = %slot.method,
                path = slot.path(),
                policy = policy.as_str(),
                "emission skipped: its policy does not run it after this status"
            );
            return;
        }
        Self::hand_off(pending, slot);
    }

    fn hand_off(pending: Pending, slot: &Arc<Slot>) {
        let Pending {
            background,
            event,
            span,
            payload,
            emit,
            ..
        } = pending;
        // Counted before the closed check: see `shutdown`. It owns the handle from here
        // on, and gives the count back when dropped.
        let running = Running::enter(background);
        let this = &running.0;
        if this.inner.closed.load(Ordering::SeqCst) {
            this.count_refused();
            tracing::warn!(
                parent: &span,
                event = %event,
                method = %slot.method,
                path = slot.path(),
                "emission refused: the background emitter was shut down"
            );
            return;
        }
        Counters::bump(&this.inner.counters.handed_off, 1);
        let span = tracing::info_span!(
            parent: &span,
            "ventus_axum.emission",
            event = %event,
            method = %slot.method,
            path = slot.path(),
        );
        // Emitted inside the span: ventus runs the emission in it, wherever its
        // processor runs it.
        let emitted = match span.in_scope(|| emit(&this.inner.emitter, &event, payload)) {
            Ok(emitted) => emitted,
            Err(err) => {
                this.count_refused();
                tracing::error!(
                    parent: &span,
                    event = %event,
                    method = %slot.method,
                    path = slot.path(),
                    error = %err,
                    "emission refused by the emitter"
                );
                return;
            }
        };
        let registered = (!emitted.is_finished()).then(|| this.register(&emitted));
        let slot = slot.clone();
        emitted.on_finish(move |report| {
            let this = &running.0;
            if let Some(key) = registered {
                // Dropped after the lock is released.
                let entry = this.inner.live.lock().remove(key);
                drop(entry);
            }
            this.ended(&span, report.event(), &slot.method, slot.path(), &report);
            drop((span, slot, report));
            // Last: once the count is zero, the counters are final.
            drop(running);
        });
    }

    /// Registers a running emission to be cancelled at a shutdown deadline; cancels it
    /// at once if that deadline has passed.
    fn register(&self, emitted: &Emitted) -> (usize, EmissionId) {
        let canceller = emitted.canceller();
        let key = self
            .inner
            .live
            .lock()
            .insert(emitted.id(), canceller.clone());
        // SeqCst: see `shutdown`. Registered after its take: cancelled here.
        if self.inner.deadline_passed.load(Ordering::SeqCst) {
            canceller.cancel();
        }
        (key, emitted.id())
    }

    fn ended(
        &self,
        span: &Span,
        event: &str,
        method: &Method,
        path: &str,
        report: &EmissionReport,
    ) {
        let counts = report.counts();
        if counts.cancelled > 0 {
            Counters::bump(&self.inner.counters.cancelled, 1);
            let why = if self.inner.deadline_passed.load(Ordering::Relaxed) {
                "still running at the shutdown deadline"
            } else {
                "by the emitter (its shutdown, or its runtime gone)"
            };
            tracing::warn!(
                parent: span,
                event,
                %method,
                path,
                cancelled = counts.cancelled,
                "emission cancelled: {why}"
            );
            return;
        }
        Counters::bump(&self.inner.counters.finished, 1);
        if counts.failed + counts.panicked + counts.timed_out == 0 {
            return;
        }
        Counters::bump(&self.inner.counters.failed, 1);
        let mut named = false;
        for handler in report.handlers() {
            if let Outcome::Failed(err) = &handler.outcome {
                named = true;
                tracing::error!(
                    parent: span,
                    event,
                    handler = handler.handler,
                    %method,
                    path,
                    error = %err,
                    "handler failed after the response"
                );
            }
        }
        if !named {
            tracing::error!(
                parent: span,
                event,
                %method,
                path,
                failed = counts.failed,
                panicked = counts.panicked,
                timed_out = counts.timed_out,
                "handlers failed after the response (ventus logged each, with its handler, \
                 in this span; build the emitter with `detailed_reports(true)` to have them \
                 named here too)"
            );
        }
        if let Some(callback) = &self.inner.on_failure {
            callback(&Failure {
                event,
                method,
                path,
                report,
            });
        }
    }
}

/// The emissions handed off and still running, each with its canceller: a slab whose
/// entries carry the emission's id, so a key reused after `shutdown` took the slab
/// cannot remove another emission's entry.
#[derive(Default)]
struct Live {
    entries: Vec<Option<(EmissionId, Canceller)>>,
    free: Vec<usize>,
}

impl Live {
    fn insert(&mut self, id: EmissionId, canceller: Canceller) -> usize {
        match self.free.pop() {
            Some(key) => {
                self.entries[key] = Some((id, canceller));
                key
            }
            None => {
                self.entries.push(Some((id, canceller)));
                self.entries.len() - 1
            }
        }
    }

    /// Takes the entry at `key` if it is still the one of emission `id`.
    fn remove(&mut self, (key, id): (usize, EmissionId)) -> Option<Canceller> {
        match self.entries.get_mut(key) {
            Some(entry) if entry.as_ref().is_some_and(|(held, _)| *held == id) => {
                self.free.push(key);
                entry.take().map(|(_, canceller)| canceller)
            }
            _ => None,
        }
    }

    fn into_cancellers(self) -> impl Iterator<Item = Canceller> {
        self.entries
            .into_iter()
            .flatten()
            .map(|(_, canceller)| canceller)
    }
}

/// One handed-off emission in `Inner::running`, from before it is emitted until its
/// `on_finish` callback has run (or been dropped, if the emission was refused).
struct Running(Background);

impl Running {
    fn enter(background: Background) -> Self {
        // SeqCst: ordered against the closed flag; see `Background::shutdown`.
        background.inner.running.fetch_add(1, Ordering::SeqCst);
        Self(background)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // SeqCst: releases this emission's counter updates to the waiter that sees zero, and
        // is ordered against `wait_for_tasks`'s increment of `waiters`.
        let inner = &self.0.inner;
        if inner.running.fetch_sub(1, Ordering::SeqCst) == 1
            && inner.waiters.load(Ordering::SeqCst) > 0
        {
            inner.idle.notify_waiters();
        }
    }
}

/// One call of `wait_for_tasks` in `Inner::waiters`, until it returns or is dropped.
struct Waiting<'a>(&'a Inner);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        // Relaxed: a stale positive count only costs a task an unneeded wake.
        self.0.waiters.fetch_sub(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for Background {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Background")
            .field("closed", &self.is_closed())
            .field("in_flight", &self.inner.running.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}
