//! The event emitter: resolves handlers and hands emissions to a processor.

mod awaited;
mod emission;
mod error;
mod handle;
mod lean;
mod metrics;
mod report;

use std::any::{type_name, TypeId};
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use std::sync::{Arc, OnceLock};
use std::task::Poll;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

pub(crate) use self::emission::NameRef;
pub use self::emission::{Emission, EmissionId};
pub use self::error::{Collision, EmitError, PayloadMismatch, Rejected};
pub(crate) use self::handle::Cancel;
pub use self::handle::Emitted;
pub use self::metrics::EmitterMetrics;
pub use self::report::{Counts, EmissionReport, HandlerReport, Outcome};

use self::emission::{PayloadSlot, Shared};
use self::metrics::Metrics;
use crate::event::{error_name, Event, EventKey, EventName, EventType};
use crate::linker::registry::{EventEntry, Registry, Slot, ANY_KEY};
use crate::linker::EventLinker;
use crate::processor::{ProcessError, Processor, ShutdownReport, TokioProcessor};

/// The emitter that behaves as Pyventus's `AsyncIOEventEmitter`.
///
/// - **Sync context** (no tokio runtime on this thread): `emit` runs the emission to
///   completion and returns after every handler, sync and async, has finished. Handlers
///   of one emission run concurrently on a runtime the emitter keeps for this purpose
///   (an emission whose handlers are all sync runs without one). Emissions that handlers
///   schedule meanwhile are waited for too; tasks a handler spawns itself with
///   `tokio::spawn` and leaves running are cancelled when the emission ends, as
///   `asyncio.run` cancels what is left on its loop.
/// - **Async context** (inside a runtime, in async code or in sync code running on one of
///   its threads, `spawn_blocking` included): the emission is scheduled on that runtime
///   and `emit` returns at once. [`wait_for_tasks`](EventEmitter::wait_for_tasks) waits
///   for every emission in flight. If the runtime shuts down first, the handlers that
///   have not finished are cancelled, as asyncio cancels tasks when its loop closes.
///
/// `emit` never blocks a runtime thread and never panics because of where it is called:
/// from a thread-local's destructor too, where it makes the emission on a helper thread,
/// as in a sync context, and returns when that emission would.
///
/// # Examples
///
/// The seed's first example, in a sync context:
///
/// ```
/// use ventus::{EventLinker, TokioEventEmitter};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on("StringEvent").subscribe(|| println!("Sync event callback!"))?;
/// linker.on("StringEvent").subscribe(|| async { println!("Async event callback!") })?;
///
/// let emitter = TokioEventEmitter::with_linker(&linker);
/// emitter.emit("StringEvent")?; // returns after both callbacks ran
/// # Ok(())
/// # }
/// ```
///
/// And its second, in an async context:
///
/// ```
/// # use ventus::{EventLinker, TokioEventEmitter};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let linker = EventLinker::builder().build()?;
/// # linker.on("StringEvent").subscribe(|| println!("Sync event callback!"))?;
/// let emitter = TokioEventEmitter::with_linker(&linker);
/// emitter.emit("StringEvent")?; // scheduled; returns at once
/// emitter.wait_for_tasks().await; // instead of the seed's `asyncio.sleep(0.5)`
/// # Ok(())
/// # }
/// ```
#[doc(alias = "AsyncIOEventEmitter")]
pub type TokioEventEmitter = EventEmitter<TokioProcessor>;

/// Emits events: resolves the handlers linked to an event and hands the
/// [`Emission`] to its processor `P`, which decides where the handlers run.
///
/// `EventEmitter<TokioProcessor>` ([`TokioEventEmitter`]) is the seed's emitter.
/// `EventEmitter` with no parameter holds any processor behind `dyn Processor`, so
/// emitters with different processors can be swapped at runtime; convert with `into()`.
/// Emitters are cheap `Clone` handles.
///
/// # Examples
///
/// ```
/// use ventus::{EventEmitter, EventLinker, TokioEventEmitter};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// let emitter: EventEmitter = TokioEventEmitter::with_linker(&linker).into();
/// emitter.emit("Anything")?;
/// # Ok(())
/// # }
/// ```
pub struct EventEmitter<P: ?Sized = dyn Processor> {
    linker: EventLinker,
    shared: Arc<EmitterShared>,
    processor: Arc<P>,
}

/// Settings and state an emitter shares with its clones and its emissions.
pub(crate) struct EmitterShared {
    /// Log each emission at debug level. Set once at build.
    pub(crate) debug: bool,
    /// The timeout of handlers without their own. Set once at build.
    pub(crate) timeout: Option<Duration>,
    /// Record each handler's outcome and duration in reports. Set once at build.
    pub(crate) detailed: bool,
    /// The `max_in_flight` bound and what to do when it is reached. Set once at build.
    pub(crate) limit: Option<Limit>,
    /// Set by `shutdown`; emissions are refused from then on.
    pub(crate) closed: AtomicBool,
    /// Counters for `metrics`.
    pub(crate) metrics: Metrics,
    /// None of `debug`, `timeout`, `detailed` and `limit` is set, so an emission may take
    /// the lean path if its handlers allow it. Set once at build.
    pub(crate) lean: bool,
}

pub(crate) struct Limit {
    permits: Arc<Semaphore>,
    max: usize,
    overflow: Overflow,
}

impl Limit {
    /// Tells this bound apart from others on the `HOLDING` stack.
    fn id(&self) -> usize {
        Arc::as_ptr(&self.permits) as usize
    }
}

thread_local! {
    /// The bounds (by [`Limit::id`]) whose places this thread holds while it runs an
    /// emission: a sync handler that emits again must not wait for its own place.
    ///
    /// Pushed by the emission itself while its handlers run on this thread (each pass of
    /// `Emission::try_run_inline`, each poll of `Emission::run`), so whichever processor
    /// drives it, on whichever thread, the marker is where the handlers are.
    static HOLDING: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Marks a bound as held by this thread until dropped; `true` if it was recorded.
struct Holding(bool);

impl Holding {
    /// Marks `limit`'s place as held by this thread. During thread-local destruction
    /// nothing is recorded; `acquire` then never blocks (see there).
    fn enter(limit: &Limit) -> Self {
        let id = limit.id();
        let recorded = HOLDING.try_with(|held| held.borrow_mut().push(id)).is_ok();
        Holding(recorded)
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        if self.0 {
            let _ = HOLDING.try_with(|held| held.borrow_mut().pop());
        }
    }
}

/// What `emit` does when an emitter's `max_in_flight` bound is reached.
///
/// [`EventEmitter::reserve`] always waits for room, whatever the policy.
///
/// # Examples
///
/// ```
/// use ventus::{EmitError, EventEmitter, EventLinker, Overflow};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on("Job").subscribe(|n: u32| async move { n })?;
/// let emitter = EventEmitter::builder().linker(&linker).max_in_flight(1, Overflow::Reject).build();
///
/// let first = emitter.emit_with("Job", 1_u32)?; // scheduled, not yet run
/// match emitter.emit_with("Job", 2_u32) {
///     Err(EmitError::Full(rejected)) => assert_eq!(rejected.into_payload::<u32>(), Some(2)),
///     other => panic!("expected a full emitter, got {other:?}"),
/// }
/// assert_eq!(first.await.counts().succeeded, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// Refuse the emission with [`EmitError::Full`], handing the payload back.
    Reject,
    /// Wait for room. A sync caller (no runtime on its thread) blocks until an emission
    /// ends; a caller inside a runtime cannot block it, so `emit` refuses as with
    /// `Reject` and async code waits with [`EventEmitter::reserve`]. A handler that emits
    /// on the emitter running it is refused too rather than wait for a place its own
    /// emission holds.
    Wait,
}

impl TokioEventEmitter {
    /// A tokio emitter on the [global linker](EventLinker::global).
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter = ventus::TokioEventEmitter::new();
    /// assert!(emitter.linker().same_as(ventus::EventLinker::global()));
    /// ```
    pub fn new() -> Self {
        Self::with_linker(EventLinker::global())
    }

    /// A tokio emitter on `linker`.
    ///
    /// # Examples
    ///
    /// ```
    /// let linker = ventus::EventLinker::builder().build().unwrap();
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    /// assert!(emitter.linker().same_as(&linker));
    /// ```
    pub fn with_linker(linker: &EventLinker) -> Self {
        EventEmitter::builder().linker(linker).build()
    }
}

impl Default for TokioEventEmitter {
    fn default() -> Self {
        Self::new()
    }
}

/// The emitter that runs emissions on a pool of worker threads, as Pyventus's
/// `ExecutorEventEmitter` runs them on a `concurrent.futures` executor.
///
/// `emit` queues the emission and returns its [`Emitted`] handle at once, in a sync or an
/// async context alike; a worker thread runs the handlers, sync and async (each worker
/// has a tokio runtime of its own). See
/// [`ThreadPoolProcessor`](crate::ThreadPoolProcessor) for the details.
///
/// `emitter.processor().shutdown(wait)` is Python's `shutdown(wait)`: emissions are
/// refused from then on, and those already accepted still run. Dropping the last clone of
/// the emitter does the same and waits for the workers. The async
/// [`shutdown(timeout)`](EventEmitter::shutdown) gives them a deadline instead.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = ventus::EventLinker::builder().build()?;
/// linker.on("Resize").subscribe(|px: &u32| px / 2)?;
/// linker.on("Resize").subscribe(|px: u32| async move { px * 2 })?;
///
/// let emitter = ventus::ThreadPoolEventEmitter::with_linker(&linker, 4);
/// let emitted = emitter.emit_with("Resize", 640_u32)?; // returns at once
/// assert_eq!(emitted.wait().unwrap().counts().succeeded, 2);
/// emitter.processor().shutdown(true);
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "thread-pool")]
#[cfg_attr(docsrs, doc(cfg(feature = "thread-pool")))]
#[doc(alias = "ExecutorEventEmitter")]
pub type ThreadPoolEventEmitter = EventEmitter<crate::processor::ThreadPoolProcessor>;

#[cfg(feature = "thread-pool")]
impl ThreadPoolEventEmitter {
    /// A thread-pool emitter with `threads` workers (clamped to
    /// `1..=`[`ThreadPoolBuilder::MAX_THREADS`](crate::ThreadPoolBuilder::MAX_THREADS)) on the
    /// [global linker](EventLinker::global).
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter = ventus::ThreadPoolEventEmitter::with_threads(2);
    /// assert!(emitter.linker().same_as(ventus::EventLinker::global()));
    /// assert_eq!(emitter.processor().threads(), 2);
    /// ```
    pub fn with_threads(threads: usize) -> Self {
        Self::with_linker(EventLinker::global(), threads)
    }

    /// A thread-pool emitter with `threads` workers (clamped to
    /// `1..=`[`ThreadPoolBuilder::MAX_THREADS`](crate::ThreadPoolBuilder::MAX_THREADS)) on `linker`.
    ///
    /// # Examples
    ///
    /// ```
    /// let linker = ventus::EventLinker::builder().build().unwrap();
    /// let emitter = ventus::ThreadPoolEventEmitter::with_linker(&linker, 2);
    /// assert!(emitter.linker().same_as(&linker));
    /// ```
    pub fn with_linker(linker: &EventLinker, threads: usize) -> Self {
        EventEmitter::builder()
            .linker(linker)
            .processor(crate::processor::ThreadPoolProcessor::new(threads))
            .build()
    }
}

impl EventEmitter<TokioProcessor> {
    /// A builder for an emitter with a chosen linker, processor and debug switch.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, EventLinker, TokioProcessor};
    ///
    /// let linker = EventLinker::builder().build().unwrap();
    /// let emitter = EventEmitter::builder()
    ///     .linker(&linker)
    ///     .processor(TokioProcessor::new())
    ///     .debug(true)
    ///     .build();
    /// assert!(emitter.is_debug());
    /// ```
    pub fn builder() -> EventEmitterBuilder<TokioProcessor> {
        EventEmitterBuilder {
            linker: None,
            debug: None,
            timeout: None,
            detailed: false,
            limit: None,
            processor: TokioProcessor::new(),
        }
    }
}

impl<P: Processor + ?Sized> EventEmitter<P> {
    /// The linker whose handlers this emitter runs.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    /// assert!(emitter.linker().same_as(&linker));
    /// # Ok(())
    /// # }
    /// ```
    pub fn linker(&self) -> &EventLinker {
        &self.linker
    }

    /// The processor that runs this emitter's emissions.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{TokioEventEmitter, TokioProcessor};
    ///
    /// let emitter = TokioEventEmitter::new();
    /// let processor: &TokioProcessor = emitter.processor();
    /// assert_eq!(processor.in_flight(), 0);
    /// ```
    pub fn processor(&self) -> &P {
        &self.processor
    }

    /// Whether emissions are logged at debug level.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, EventLinker, TokioEventEmitter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let loud = EventLinker::builder().debug(true).build()?;
    /// assert!(TokioEventEmitter::with_linker(&loud).is_debug(), "the linker's switch by default");
    /// assert!(!EventEmitter::builder().linker(&loud).debug(false).build().is_debug());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_debug(&self) -> bool {
        self.shared.debug
    }

    /// What this emitter (and its clones) has done so far.
    ///
    /// An emission is counted in [`EmitterMetrics::in_flight`] until just before its
    /// report is published, and in the handler counters before that: once
    /// [`Emitted::wait`] (or awaiting the handle) has returned, the metrics count the
    /// emission's handlers and no longer count it in flight.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Tick").subscribe(|| ())?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    /// emitter.emit("Tick")?;
    /// emitter.clone().emit("Tick")?;
    ///
    /// let m = emitter.metrics();
    /// assert_eq!((m.emitted, m.succeeded, m.in_flight), (2, 2, 0), "clones share the counters");
    ///
    /// // On a thread pool, the emission is out of `in_flight` once its report is in.
    /// let pool = ventus::ThreadPoolEventEmitter::with_linker(&linker, 1);
    /// pool.emit("Tick")?.wait().unwrap();
    /// let m = pool.metrics();
    /// assert_eq!((m.succeeded, m.in_flight), (1, 0), "exact, not eventual");
    /// # Ok(())
    /// # }
    /// ```
    pub fn metrics(&self) -> EmitterMetrics {
        self.shared.metrics.snapshot(self.processor.in_flight())
    }

    /// Whether [`shutdown`](Self::shutdown) was called (or the processor was shut down
    /// on its own, as [`ThreadPoolProcessor::shutdown`](crate::ThreadPoolProcessor::shutdown)
    /// does).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let emitter = ventus::TokioEventEmitter::with_linker(&ventus::EventLinker::builder().build()?);
    /// assert!(!emitter.is_closed());
    /// emitter.shutdown(Duration::from_secs(1)).await;
    /// assert!(emitter.is_closed() && emitter.clone().is_closed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire) || self.processor.is_closed()
    }

    /// Emits `event` without a payload.
    ///
    /// # Errors
    ///
    /// [`EmitError::EmptyEventName`] for an empty name; [`EmitError::Processor`] if the
    /// processor could not take the emission.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("StringEvent").subscribe(|| ())?;
    /// ventus::TokioEventEmitter::with_linker(&linker).emit("StringEvent")?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn emit(&self, event: &str) -> Result<Emitted, EmitError> {
        self.dispatch::<()>(event, None, None, None, false)
    }

    /// Emits `event` with `payload`; handlers take it as `&P` (sync) or `P` (async).
    ///
    /// # Errors
    ///
    /// As [`emit`](Self::emit).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("LowVoltage").subscribe(|volts: &f64| assert_eq!(*volts, 0.4))?;
    /// ventus::TokioEventEmitter::with_linker(&linker).emit_with("LowVoltage", 0.4)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn emit_with<T: Send + Sync + 'static>(
        &self,
        event: &str,
        payload: T,
    ) -> Result<Emitted, EmitError> {
        self.dispatch(event, None, Some(payload), None, false)
    }

    /// Emits the typed event `event`, named by [`Event::name`]; it is the payload.
    ///
    /// # Errors
    ///
    /// As [`emit`](Self::emit), and [`EmitError::NameCollision`] (the event handed back)
    /// if the name belongs to another typed event in the linker (see [`Event`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// struct Paid(u32);
    /// impl ventus::Event for Paid {}
    ///
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on_event::<Paid>().subscribe(|p: &Paid| assert_eq!(p.0, 10))?;
    /// ventus::TokioEventEmitter::with_linker(&linker).emit_event(Paid(10))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn emit_event<E: Event>(&self, event: E) -> Result<Emitted, EmitError> {
        let name = E::name();
        self.dispatch(name, Some(name), Some(event), None, true)
    }

    /// Emits an error as an event named after its type's full path (many error types are
    /// called `Error`); handlers subscribed with
    /// [`EventLinker::on_error`] take `&E`.
    ///
    /// # Errors
    ///
    /// As [`emit`](Self::emit).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker
    ///     .on_error::<std::num::ParseIntError>()
    ///     .subscribe(|e: &std::num::ParseIntError| assert!(e.to_string().contains("invalid")))?;
    /// let err = "x".parse::<i32>().unwrap_err();
    /// ventus::TokioEventEmitter::with_linker(&linker).emit_error(err)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn emit_error<E: std::error::Error + Send + Sync + 'static>(
        &self,
        error: E,
    ) -> Result<Emitted, EmitError> {
        let name = error_name::<E>();
        self.dispatch(name, Some(name), Some(error), None, false)
    }

    /// Emits the event of `key` with a payload whose type the key fixes.
    ///
    /// # Errors
    ///
    /// As [`emit`](Self::emit).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// const TEMPERATURE: ventus::EventKey<f32> = ventus::EventKey::new("Temperature");
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on(TEMPERATURE).subscribe(|c: &f32| assert!(*c > 0.0))?;
    /// ventus::TokioEventEmitter::with_linker(&linker).emit_key(TEMPERATURE, 21.5)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn emit_key<T: Send + Sync + 'static>(
        &self,
        key: EventKey<T>,
        payload: T,
    ) -> Result<Emitted, EmitError> {
        self.dispatch(key.name(), Some(key.name()), Some(payload), None, false)
    }

    /// Waits until every emission this emitter's processor has in flight has finished.
    ///
    /// For a [`TokioEventEmitter`], that is every emission scheduled in an async context,
    /// including those emitted while waiting.
    ///
    /// Every handler of those emissions has ended when it returns. An emission leaves the
    /// in-flight count just before its report is published, so on a multi-thread runtime
    /// a handle's report may be published an instant after this returns, by the thread
    /// that ran the emission: await the handle itself for its report.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future stops the wait and nothing else.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let done = Arc::new(AtomicUsize::new(0));
    /// let count = done.clone();
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(move || {
    ///     let count = count.clone();
    ///     async move {
    ///         tokio::task::yield_now().await;
    ///         count.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// })?;
    ///
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    /// for _ in 0..3 {
    ///     emitter.emit("Job")?; // scheduled; returns at once
    /// }
    /// emitter.wait_for_tasks().await;
    /// assert_eq!(done.load(Ordering::Relaxed), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn wait_for_tasks(&self) -> impl Future<Output = ()> + Send + '_ {
        self.processor.wait_for_tasks()
    }

    /// Waits for room under the emitter's `max_in_flight` bound (at once if it has none
    /// or is closed), and returns a permit to emit one event with.
    ///
    /// # Errors
    ///
    /// [`EmitError::Closed`] if the emitter was shut down; `event` in it is `"?"` since
    /// no event was named yet.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future gives up the place in the queue.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use ventus::{EventEmitter, EventLinker, Overflow};
    ///
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|| async {})?;
    /// let emitter = EventEmitter::builder().linker(&linker).max_in_flight(2, Overflow::Wait).build();
    /// for _ in 0..10 {
    ///     emitter.reserve().await?.emit("Job")?; // never more than 2 in flight
    /// }
    /// emitter.wait_for_tasks().await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn reserve(&self) -> Result<EmitPermit<'_, P>, EmitError> {
        let closed = || EmitError::Closed {
            event: EventName::from_static("?"),
        };
        if self.is_closed() {
            return Err(closed());
        }
        let permit = match &self.shared.limit {
            Some(limit) => Some(
                limit
                    .permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| closed())?,
            ),
            None => None,
        };
        Ok(EmitPermit {
            emitter: self,
            permit,
        })
    }

    /// Emits `event` and runs its handlers in the calling task, without spawning, and
    /// returns the emission's report: the fast path for async code that waits for its
    /// handlers anyway.
    ///
    /// Handlers start in subscription order: a sync handler runs to its end when it is
    /// reached, an async one is polled once at once and then interleaves with the others.
    /// The report counts how each handler ended; it lists each handler's outcome and
    /// duration only if the emitter was built with
    /// [`detailed_reports(true)`](EventEmitterBuilder::detailed_reports), as for
    /// [`emit`](Self::emit).
    ///
    /// # Errors
    ///
    /// As [`emit`](Self::emit).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the handlers that have not finished: their futures are
    /// dropped; `blocking` handlers already started run to their end on their thread.
    /// Every handler that finished has had its callbacks called.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|| async { 1 })?;
    /// linker.on("Job").subscribe(|| -> Result<(), &'static str> { Err("no") })?;
    ///
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    /// let report = emitter.run("Job").await?;
    /// assert_eq!((report.counts().succeeded, report.counts().failed), (1, 1));
    /// assert!(report.handlers().is_empty());
    ///
    /// let emitter = ventus::EventEmitter::builder().linker(&linker).detailed_reports(true).build();
    /// let report = emitter.run("Job").await?;
    /// assert_eq!(report.handlers().len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run(&self, event: &str) -> Result<EmissionReport, EmitError> {
        self.run_inner::<()>(event, None, None, false).await
    }

    /// [`run`](Self::run) with a payload.
    ///
    /// # Errors
    ///
    /// As [`emit`](Self::emit).
    ///
    /// # Cancel safety
    ///
    /// As [`run`](Self::run).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Order").subscribe(|id: &u64| *id)?;
    /// linker.on("Order").subscribe(|id: u64| async move { id })?;
    ///
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    /// let report = emitter.run_with("Order", 7_u64).await?;
    /// assert_eq!(report.counts().succeeded, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run_with<T: Send + Sync + 'static>(
        &self,
        event: &str,
        payload: T,
    ) -> Result<EmissionReport, EmitError> {
        self.run_inner(event, None, Some(payload), false).await
    }

    /// [`run`](Self::run) with a typed event.
    ///
    /// # Errors
    ///
    /// As [`emit_event`](Self::emit_event).
    ///
    /// # Cancel safety
    ///
    /// As [`run`](Self::run).
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Clone)]
    /// struct Shipped {
    ///     parcels: u32,
    /// }
    /// impl ventus::Event for Shipped {}
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on_event::<Shipped>().subscribe(|s: &Shipped| s.parcels)?;
    ///
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    /// let report = emitter.run_event(Shipped { parcels: 3 }).await?;
    /// assert_eq!(report.counts().succeeded, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run_event<E: Event>(&self, event: E) -> Result<EmissionReport, EmitError> {
        let name = E::name();
        self.run_inner(name, Some(name), Some(event), true).await
    }

    async fn run_inner<T: Send + Sync + 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<T>,
        typed: bool,
    ) -> Result<EmissionReport, EmitError> {
        if self.shared.lean {
            // The payload stays in this future; the first pass borrows it.
            let mut running = None;
            let step = std::future::poll_fn(|cx| {
                let payload = payload.as_ref();
                self.poll_awaited(cx, &mut running, event, static_name, payload, typed)
            })
            .await;
            if let awaited::Step::Done(result) = step {
                // The first pass only borrowed the payload: a refusal hands it back here.
                return result.map_err(|err| err.with_payload(payload));
            }
        }
        // Boxed: its state is about 2 KB, and every `run` future would otherwise be as
        // large, which the lean path's callers would pay for in moves.
        Box::pin(self.run_full(event, static_name, payload, typed)).await
    }

    /// `run` on the full path: an owned [`Emission`] run in this task.
    async fn run_full<T: Send + Sync + 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<T>,
        typed: bool,
    ) -> Result<EmissionReport, EmitError> {
        let permit = match &self.shared.limit {
            Some(_) => self.reserve().await?.permit,
            None => None,
        };
        let detailed = self.shared.detailed;
        let emission = self.resolve(event, static_name, payload, permit, detailed, typed, |e| {
            e.map(Emission::into_owned)
        })?;
        let emitted = match emission {
            Some(emission) => emission.run_report().await,
            None => return Ok(self.no_handler(event, static_name)),
        };
        // Untracked emissions come back finished.
        emitted.wait().map_err(|_| {
            EmitError::Processor("an emission run in the calling task did not finish".into())
        })
    }

    /// Shuts the emitter (and its clones) down: new emissions are refused with
    /// [`EmitError::Closed`], emissions in flight get until `timeout` to finish, and the
    /// rest are cancelled. Reports how many finished and how many were cancelled.
    ///
    /// Sync-context emissions run in their caller's thread and are not counted.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the wait; the emitter stays closed.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    ///
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Quick").subscribe(|| async {})?;
    /// linker.on("Stuck").subscribe(|| std::future::pending::<()>())?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    /// let _ = emitter.emit("Quick")?;
    /// let _ = emitter.emit("Stuck")?;
    ///
    /// let report = emitter.shutdown(Duration::from_millis(50)).await;
    /// assert_eq!((report.finished, report.cancelled), (1, 1));
    /// assert!(emitter.emit("Quick").is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        self.shared.closed.store(true, Ordering::Release);
        if let Some(limit) = &self.shared.limit {
            // Wakes `reserve` callers, who then see the emitter closed.
            limit.permits.close();
        }
        self.processor.shutdown(timeout).await
    }

    fn name_of(&self, event: &str, static_name: Option<&'static str>) -> EventName {
        match static_name {
            Some(name) => EventName::from_static(name),
            None => EventName::from_arc(Arc::from(event)),
        }
    }

    /// Emits `event`; `typed` for a typed event (`T` is its type), which is refused if
    /// the name belongs to another type.
    fn dispatch<T: Send + Sync + 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<T>,
        permit: Option<OwnedSemaphorePermit>,
        typed: bool,
    ) -> Result<Emitted, EmitError> {
        self.check(event, static_name)?;
        if !crate::linker::registry::map_usable() {
            return self.dispatch_elsewhere(event, static_name, payload, permit, typed);
        }
        let mut payload = payload;
        let permit = match (permit, &self.shared.limit) {
            (None, None) => None,
            (Some(permit), _) => Some(permit),
            (None, Some(limit)) => {
                Some(self.take_place(limit, event, static_name, &mut payload)?)
            }
        };
        let guard = self.linker.inner.registry.events.guard();
        let (direct, any) = self.lookup(event, &guard);
        if direct.is_none() && any.is_none() {
            return Ok(Emitted::done(self.no_handler(event, static_name)));
        }
        if let Err(err) = self.admit::<T>(event, static_name, typed, payload.is_some(), direct) {
            return Err(err.with_payload(payload));
        }
        if permit.is_none() {
            match self.route(direct, any) {
                lean::Route::Lean => {
                    return Ok(self.run_lean(event, static_name, payload, direct, any));
                }
                lean::Route::Drive => {
                    let driven = self.drive(event, static_name, payload.as_ref(), direct, any)?;
                    if let Some(emitted) = driven {
                        return Ok(emitted);
                    }
                }
                lean::Route::Full => {}
            }
        }
        self.process(event, static_name, payload, permit, direct, any)
    }

    /// `dispatch` from a thread whose thread-locals are being destroyed: the emission is
    /// made on a helper thread, a sync context, and returns when it would there (after its
    /// handlers ran, with the tokio emitter).
    #[cold]
    #[inline(never)]
    fn dispatch_elsewhere<T: Send + Sync + 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<T>,
        permit: Option<OwnedSemaphorePermit>,
        typed: bool,
    ) -> Result<Emitted, EmitError> {
        crate::linker::registry::elsewhere(|| {
            self.dispatch(event, static_name, payload, permit, typed)
        })
    }

    /// A sync-context emission with async handlers, run as `run` runs one (the lean
    /// awaited path, `awaited.rs`) and driven by the processor on this thread
    /// ([`Processor::drive_inline`]). `None` if the processor does not drive emissions;
    /// nothing was done then.
    #[inline(never)]
    fn drive<T: Send + Sync + 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<&T>,
        direct: Option<&Arc<EventEntry>>,
        any: Option<&Arc<EventEntry>>,
    ) -> Result<Option<Emitted>, EmitError> {
        let mut running = None;
        let mut step = None;
        let driven = self.processor.drive_inline(&mut |cx| {
            let polled = if running.is_none() && step.is_none() {
                self.first_pass_on(cx, &mut running, event, static_name, payload, direct, any)
            } else {
                self.poll_awaited(cx, &mut running, event, static_name, payload, false)
            };
            match polled {
                Poll::Ready(done) => {
                    step = Some(done);
                    Poll::Ready(())
                }
                Poll::Pending => Poll::Pending,
            }
        });
        match driven {
            Ok(false) => Ok(None),
            Err(ProcessError::Closed) => Err(EmitError::Closed {
                event: self.name_of(event, static_name),
            }),
            Err(ProcessError::Failed(err)) => Err(EmitError::Processor(err)),
            Ok(true) => match step {
                Some(awaited::Step::Done(report)) => report.map(|r| Some(Emitted::done(r))),
                // The first pass was given entries fit for it, so it never asks for the
                // full path; a processor that returned without driving to the end lands
                // here too.
                Some(awaited::Step::Full) | None => Err(EmitError::Processor(
                    "the processor returned before the emission it drove had finished".into(),
                )),
            },
        }
    }

    /// The full path of `dispatch`: builds the emission and hands it to the processor.
    /// Kept out of line so the lean path stays small.
    #[inline(never)]
    fn process<T: Send + Sync + 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<T>,
        permit: Option<OwnedSemaphorePermit>,
        direct: Option<&Arc<EventEntry>>,
        any: Option<&Arc<EventEntry>>,
    ) -> Result<Emitted, EmitError> {
        let mut slot = payload;
        let detailed = self.shared.detailed;
        // The processor may refuse the emission: its once-claims are told to the registry
        // only once that is known (see `settle_claims`).
        let Some(emission) =
            self.build(event, static_name, &mut slot, permit, detailed, direct, any)
        else {
            return Ok(Emitted::done(self.no_handler(event, static_name)));
        };
        let id = emission.id.0;
        // An emission with a place marks its thread as holding it while its handlers
        // run (`HOLDING`), wherever the processor runs it.
        // A panicking processor is a refusal like any other, not a panic of `emit`.
        let processed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.processor.process(emission)
        }));
        let has_once = direct.is_some_and(|e| e.has_once) || any.is_some_and(|e| e.has_once);
        if has_once {
            let refused = !matches!(processed, Ok(Ok(_)));
            settle_claims(&self.linker.inner.registry, id, refused, direct, any);
        }
        match processed {
            Ok(Ok(emitted)) => Ok(emitted),
            Ok(Err(ProcessError::Closed)) => Err(EmitError::Closed {
                event: self.name_of(event, static_name),
            }),
            Ok(Err(ProcessError::Failed(err))) => Err(EmitError::Processor(err)),
            Err(panic) => Err(self.processor_panicked(&*panic)),
        }
    }

    #[cold]
    fn processor_panicked(&self, panic: &(dyn std::any::Any + Send)) -> EmitError {
        let message = crate::handler::panic_message(panic);
        tracing::error!(
            processor = type_name::<P>(),
            panic = %message,
            "ventus processor panicked; the emission was refused"
        );
        EmitError::Processor(format!("the processor panicked: {message}").into())
    }

    /// The refusal of a typed event of type `T` whose name is `linked`'s.
    #[cold]
    #[inline(never)]
    fn collision<T: 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        linked: EventType,
    ) -> EmitError {
        EmitError::NameCollision(Collision {
            event: self.name_of(event, static_name),
            linked: linked.name(),
            emitted: type_name::<T>(),
            payload: None,
        })
    }

    /// A place under `limit` for an emission of `event`, or the error that says why there
    /// is none (the payload handed back in it).
    #[cold]
    fn take_place<T: Send + Sync + 'static>(
        &self,
        limit: &Limit,
        event: &str,
        static_name: Option<&'static str>,
        payload: &mut Option<T>,
    ) -> Result<OwnedSemaphorePermit, EmitError> {
        match self.acquire(limit) {
            Some(permit) => Ok(permit),
            None if self.is_closed() => Err(EmitError::Closed {
                event: self.name_of(event, static_name),
            }),
            None => Err(EmitError::Full(Rejected {
                event: self.name_of(event, static_name),
                limit: limit.max,
                payload: payload
                    .take()
                    .map(|p| Box::new(p) as Box<dyn std::any::Any + Send + Sync>),
            })),
        }
    }

    /// Takes a place under `limit` without waiting, or, under [`Overflow::Wait`] on a
    /// thread with no runtime, waiting for one. `None`: no room (or closed).
    fn acquire(&self, limit: &Limit) -> Option<OwnedSemaphorePermit> {
        match limit.permits.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(TryAcquireError::Closed) => None,
            Err(TryAcquireError::NoPermits) => {
                // Waiting is refused where it could never end: on a runtime thread, and
                // inside a handler of this emitter running on this thread (on any
                // processor's thread: a pool worker too), whose own emission holds one of
                // the places waited for.
                let can_block = limit.overflow == Overflow::Wait
                    && tokio::runtime::Handle::try_current().is_err()
                    // Unknown during thread-local destruction: taken as held.
                    && !HOLDING
                        .try_with(|held| held.borrow().contains(&limit.id()))
                        .unwrap_or(true);
                if !can_block {
                    return None;
                }
                // No runtime here, so blocking this thread blocks no task.
                let permits = limit.permits.clone();
                crate::processor::tokio::block_on_pooled(permits.acquire_owned())
                    .ok()
                    .and_then(Result::ok)
            }
        }
    }

    /// Refuses an empty event name and a closed emitter.
    #[inline]
    fn check(&self, event: &str, static_name: Option<&'static str>) -> Result<(), EmitError> {
        if event.is_empty() || self.is_closed() {
            return Err(self.refusal(event, static_name));
        }
        Ok(())
    }

    #[cold]
    fn refusal(&self, event: &str, static_name: Option<&'static str>) -> EmitError {
        if event.is_empty() {
            EmitError::EmptyEventName
        } else {
            EmitError::Closed {
                event: self.name_of(event, static_name),
            }
        }
    }

    /// The snapshots of `event` and of "any event", if they have subscribers.
    #[inline]
    fn lookup<'g>(
        &self,
        event: &str,
        guard: &'g papaya::LocalGuard<'_>,
    ) -> (Option<&'g Arc<EventEntry>>, Option<&'g Arc<EventEntry>>) {
        let registry = &self.linker.inner.registry;
        let direct = registry.events.get(event, guard);
        let any = if registry.has_any() {
            registry.events.get(ANY_KEY, guard)
        } else {
            None
        };
        (direct, any)
    }

    /// The checks an emission of a `T` (or of no payload) passes once its event is
    /// looked up: a typed emission of a name that belongs to another type is refused (see
    /// [`Collision`]), and so is a payload none of the event's handlers takes (see
    /// [`PayloadMismatch`]). The error carries no payload: the caller, which owns it,
    /// hands it back with [`EmitError::with_payload`].
    #[inline]
    pub(super) fn admit<T: 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        typed: bool,
        has_payload: bool,
        direct: Option<&Arc<EventEntry>>,
    ) -> Result<(), EmitError> {
        let Some(entry) = direct else { return Ok(()) };
        let collides = typed
            && entry
                .event_type_id
                .is_some_and(|id| id != TypeId::of::<T>());
        if collides || !entry.accepts(has_payload.then(TypeId::of::<T>)) {
            return Err(self.refusal_of::<T>(event, static_name, entry, collides, has_payload));
        }
        Ok(())
    }

    /// The error of an emission `admit` refused.
    #[cold]
    #[inline(never)]
    fn refusal_of<T: 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        entry: &EventEntry,
        collides: bool,
        has_payload: bool,
    ) -> EmitError {
        match entry.event_type.filter(|_| collides) {
            Some(linked) => self.collision::<T>(event, static_name, linked),
            None => self.mismatch(event, static_name, entry, has_payload.then(type_name::<T>)),
        }
    }

    /// The refusal of an emission whose payload (of type `given`) none of `entry`'s
    /// handlers takes.
    #[cold]
    #[inline(never)]
    fn mismatch(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        entry: &EventEntry,
        given: Option<&'static str>,
    ) -> EmitError {
        let mismatch = PayloadMismatch {
            event: self.name_of(event, static_name),
            expected: entry.takes.iter().map(|t| t.name()).collect(),
            given,
            payload: None,
        };
        tracing::debug!(event, error = %mismatch, "ventus emit refused");
        EmitError::PayloadType(mismatch)
    }

    /// Counts (and logs, in debug) an emission of an event nobody is linked to, and
    /// returns its report: an id of its own, the name, nothing run.
    #[cold]
    fn no_handler(&self, event: &str, static_name: Option<&'static str>) -> EmissionReport {
        self.shared.metrics.emitted();
        let id = next_emission_id();
        if self.shared.debug {
            tracing::debug!(
                event,
                emission = id,
                handlers = 0,
                "ventus emit: no handler is linked"
            );
        }
        let name = match static_name {
            Some(name) => EventName::from_static(name),
            None => EventName::copied(event, None),
        };
        EmissionReport::new(EmissionId(id), name)
    }

    /// Resolves the handlers of `event` and hands the emission to `then` (`None` when no
    /// handler is linked). The emission borrows this frame; `then` runs or owns it.
    #[allow(clippy::too_many_arguments)]
    fn resolve<T: Send + Sync + 'static, R>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<T>,
        permit: Option<OwnedSemaphorePermit>,
        detailed: bool,
        typed: bool,
        then: impl FnOnce(Option<Emission<'_>>) -> Option<R>,
    ) -> Result<Option<R>, EmitError> {
        self.check(event, static_name)?;
        let guard = self.linker.inner.registry.events.guard();
        let (direct, any) = self.lookup(event, &guard);
        // The caller counts an emission that finds no handler (`no_handler`).
        if direct.is_none() && any.is_none() {
            return Ok(then(None));
        }
        if let Err(err) = self.admit::<T>(event, static_name, typed, payload.is_some(), direct) {
            return Err(err.with_payload(payload));
        }
        let mut slot = payload;
        let Some(emission) =
            self.build(event, static_name, &mut slot, permit, detailed, direct, any)
        else {
            return Ok(then(None));
        };
        let id = emission.id.0;
        let out = then(Some(emission));
        // `then` ran or owns the emission; nothing can refuse it any more.
        if direct.is_some_and(|e| e.has_once) || any.is_some_and(|e| e.has_once) {
            settle_claims(&self.linker.inner.registry, id, false, direct, any);
        }
        Ok(out)
    }

    /// The emission of `event` to `direct` and `any`, borrowing `slot` and the snapshots;
    /// its once-subscribers are claimed for it, and the caller ends the claims with
    /// [`settle_claims`] once the emission was taken or refused. `None` if no handler can
    /// run (only once-subscribers claimed earlier are left): the same as no handler linked.
    #[allow(clippy::too_many_arguments)]
    fn build<'a, T: Send + Sync + 'static>(
        &'a self,
        event: &str,
        static_name: Option<&'static str>,
        slot: &'a mut Option<T>,
        permit: Option<OwnedSemaphorePermit>,
        detailed: bool,
        direct: Option<&'a Arc<EventEntry>>,
        any: Option<&'a Arc<EventEntry>>,
    ) -> Option<Emission<'a>> {
        let id = next_emission_id();
        // Once-subscribers are claimed now, so an emission owns them even if it runs later.
        let has_once = direct.is_some_and(|e| e.has_once) || any.is_some_and(|e| e.has_once);
        let flags = if has_once {
            claim_once(None, id, direct, any)?
        } else {
            // No once-subscriber, so no claimed one: the entries' flags hold.
            Flags {
                inline: direct.is_none_or(|e| e.inline) && any.is_none_or(|e| e.inline),
                needs_shared: direct.is_some_and(|e| e.needs_shared)
                    || any.is_some_and(|e| e.needs_shared),
            }
        };
        self.shared.metrics.emitted();
        let name = name_ref(event, static_name, direct);

        let payload_type = slot.is_some().then(type_name::<T>);
        let payload = if slot.is_some() {
            PayloadSlot::Borrowed(slot)
        } else {
            PayloadSlot::None
        };
        let mut emission = Emission {
            id: EmissionId(id),
            time: OnceLock::new(),
            event: name,
            payload,
            payload_type,
            direct: direct.map(Shared::Borrowed),
            any: any.map(Shared::Borrowed),
            inline: flags.inline,
            needs_shared: flags.needs_shared,
            linker: Shared::Borrowed(&self.linker.inner),
            emitter: Shared::Borrowed(&self.shared),
            detailed,
            tracker: None,
            permit,
        };
        emission.prepare();
        if self.shared.debug {
            tracing::debug!(
                event,
                emission = id,
                handlers = emission.handler_count(),
                context = if tokio::runtime::Handle::try_current().is_ok() {
                    "async"
                } else {
                    "sync"
                },
                linker = self.linker.inner.name.as_deref().unwrap_or(""),
                "ventus emit"
            );
        }
        Some(emission)
    }
}

/// What an emission needs to know about the handlers it can run.
pub(super) struct Flags {
    /// See [`Emission::inline`].
    inline: bool,
    /// See [`Emission::needs_shared`].
    needs_shared: bool,
}

/// Claims the once-subscribers of an emission's entries for emission `id`, and works
/// out the flags over the handlers it can run; `None` if it can run none.
///
/// Each claim is one compare-and-swap; the registry, if given, is only told which
/// subscriber to unlink, later and off this path (see the registry's module docs).
/// Without it, the caller tells it with [`settle_claims`] once the emission was taken
/// or refused.
pub(super) fn claim_once(
    registry: Option<&Registry>,
    id: u64,
    direct: Option<&Arc<EventEntry>>,
    any: Option<&Arc<EventEntry>>,
) -> Option<Flags> {
    let direct: &[Slot] = direct.map_or(&[], |e| &e.subscribers[..]);
    let any: &[Slot] = any.map_or(&[], |e| &e.subscribers[..]);
    let mut flags = Flags {
        inline: true,
        needs_shared: false,
    };
    let mut runnable = false;
    for sub in direct.iter().chain(any).map(|s| &**s) {
        let runs = if sub.once {
            // A subscriber on both lists is claimed by the first `claim`; the second
            // fails, and the first already counted it.
            let won = sub.state.claim(id);
            if let (true, Some(registry)) = (won, registry) {
                registry.retire(sub.id);
            }
            won
        } else {
            sub.state.is_active()
        };
        if runs {
            runnable = true;
            flags.inline &= sub.is_inline();
            flags.needs_shared |= sub.needs_shared();
        }
    }
    runnable.then_some(flags)
}

/// Ends emission `id`'s once-claims after its processor took or `refused` it.
///
/// On the full path an [`Emission`] retires a once-subscriber when it starts its handler
/// (so the handler already sees itself unlinked); this does the rest. A refused emission
/// gives back each claim whose handler it has not started, so the once-subscriber stays
/// linked for a later emission. Every other claim not started yet is retired: the
/// registry unlinks it. An id reaches the retire list only for a claim that can no
/// longer be given back, so the registry never unlinks a subscriber that is active
/// again. Off the hot path: only emissions with once-subscribers that took the full path
/// come here.
#[cold]
fn settle_claims(
    registry: &Registry,
    id: u64,
    refused: bool,
    direct: Option<&Arc<EventEntry>>,
    any: Option<&Arc<EventEntry>>,
) {
    let direct: &[Slot] = direct.map_or(&[], |e| &e.subscribers[..]);
    let any: &[Slot] = any.map_or(&[], |e| &e.subscribers[..]);
    for sub in direct.iter().chain(any).map(|s| &**s).filter(|s| s.once) {
        if refused && sub.state.release(id) {
            continue;
        }
        // A handler the emission started was retired when it started. A subscriber on
        // both lists, or one started on another thread since this load, may be retired
        // twice; the registry ignores the second.
        if sub.state.is_held_unstarted(id) {
            registry.retire(sub.id);
        }
    }
}

/// The emission's event name. Borrowed from the registry's snapshot when it has one: an
/// emission that stays on this thread then never touches the name's reference count,
/// which every thread emitting this event would share.
#[inline]
fn name_ref<'a>(
    event: &str,
    static_name: Option<&'static str>,
    direct: Option<&'a Arc<EventEntry>>,
) -> NameRef<'a> {
    match (direct, static_name) {
        (Some(entry), _) => NameRef::Borrowed(entry),
        (None, Some(name)) => NameRef::Owned(EventName::from_static(name)),
        (None, None) => NameRef::Owned(EventName::from_arc(Arc::from(event))),
    }
}

/// Emission ids: unique in the process, handed to each thread in blocks so emitting
/// threads do not contend on one counter.
fn next_emission_id() -> u64 {
    const BLOCK: u64 = 1024;
    // Starts at 1: 0 and u64::MAX mean "active" and "gone" in a subscriber's state.
    static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }
    RANGE.with(|range| {
        let (mut next, mut end) = range.get();
        if next == end {
            // Relaxed: only uniqueness matters, and fetch_add gives it.
            next = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
            end = next + BLOCK;
        }
        range.set((next + 1, end));
        next
    })
}

impl<P: ?Sized> Clone for EventEmitter<P> {
    fn clone(&self) -> Self {
        Self {
            linker: self.linker.clone(),
            shared: self.shared.clone(),
            processor: self.processor.clone(),
        }
    }
}

impl<P: Processor> From<EventEmitter<P>> for EventEmitter {
    fn from(emitter: EventEmitter<P>) -> Self {
        Self {
            linker: emitter.linker,
            shared: emitter.shared,
            processor: emitter.processor,
        }
    }
}

impl<P: ?Sized> fmt::Debug for EventEmitter<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventEmitter")
            .field("linker", &self.linker)
            .field("processor", &type_name::<P>())
            .field("debug", &self.shared.debug)
            .field("closed", &self.shared.closed.load(Ordering::Relaxed))
            .finish()
    }
}

/// A place under an emitter's `max_in_flight` bound, from [`EventEmitter::reserve`]:
/// emits one event without waiting.
///
/// Dropping it unused gives the place back.
///
/// # Examples
///
/// ```
/// use ventus::{EmitError, EventEmitter, EventLinker, Overflow};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on("Job").subscribe(|| async {})?;
/// let emitter = EventEmitter::builder().linker(&linker).max_in_flight(1, Overflow::Reject).build();
///
/// let permit = emitter.reserve().await?;
/// assert!(matches!(emitter.emit("Job"), Err(EmitError::Full(_))), "the permit holds the place");
/// let report = permit.emit("Job")?.await;
/// assert_eq!(report.counts().succeeded, 1);
/// # Ok(())
/// # }
/// ```
#[must_use = "a permit does nothing until it emits"]
pub struct EmitPermit<'a, P: ?Sized = dyn Processor> {
    emitter: &'a EventEmitter<P>,
    permit: Option<OwnedSemaphorePermit>,
}

impl<P: Processor + ?Sized> EmitPermit<'_, P> {
    /// As [`EventEmitter::emit`], in the reserved place.
    ///
    /// # Errors
    ///
    /// As [`EventEmitter::emit`], but never [`EmitError::Full`].
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
    /// let report = emitter.reserve().await?.emit("Job")?.await;
    /// assert_eq!(report.counts().succeeded, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn emit(self, event: &str) -> Result<Emitted, EmitError> {
        self.emitter
            .dispatch::<()>(event, None, None, self.permit, false)
    }

    /// As [`EventEmitter::emit_with`], in the reserved place.
    ///
    /// # Errors
    ///
    /// As [`EventEmitter::emit`], but never [`EmitError::Full`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|n: u32| async move { n * 2 })?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    ///
    /// let report = emitter.reserve().await?.emit_with("Job", 21_u32)?.await;
    /// assert_eq!(report.counts().succeeded, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn emit_with<T: Send + Sync + 'static>(
        self,
        event: &str,
        payload: T,
    ) -> Result<Emitted, EmitError> {
        self.emitter
            .dispatch(event, None, Some(payload), self.permit, false)
    }

    /// As [`EventEmitter::emit_event`], in the reserved place.
    ///
    /// # Errors
    ///
    /// As [`EventEmitter::emit`], but never [`EmitError::Full`].
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Clone)]
    /// struct Shipped;
    /// impl ventus::Event for Shipped {}
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on_event::<Shipped>().subscribe(|_: Shipped| async {})?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    ///
    /// let report = emitter.reserve().await?.emit_event(Shipped)?.await;
    /// assert_eq!(report.counts().succeeded, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn emit_event<E: Event>(self, event: E) -> Result<Emitted, EmitError> {
        let name = E::name();
        self.emitter
            .dispatch(name, Some(name), Some(event), self.permit, true)
    }
}

impl<P: ?Sized> fmt::Debug for EmitPermit<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmitPermit").finish_non_exhaustive()
    }
}

/// Settings of a new [`EventEmitter`]; made by [`EventEmitter::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ventus::{EventEmitter, EventLinker, Overflow};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// let emitter = EventEmitter::builder()
///     .linker(&linker)
///     .timeout(Duration::from_secs(5))
///     .detailed_reports(true)
///     .max_in_flight(64, Overflow::Wait)
///     .build();
/// assert!(emitter.linker().same_as(&linker));
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct EventEmitterBuilder<P> {
    linker: Option<EventLinker>,
    debug: Option<bool>,
    timeout: Option<Duration>,
    detailed: bool,
    limit: Option<(usize, Overflow)>,
    processor: P,
}

impl<P: Processor> EventEmitterBuilder<P> {
    /// The largest bound [`max_in_flight`](Self::max_in_flight) takes: tokio's
    /// [`Semaphore::MAX_PERMITS`]. Larger values are clamped to it.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitterBuilder, TokioProcessor};
    ///
    /// assert_eq!(
    ///     EventEmitterBuilder::<TokioProcessor>::MAX_IN_FLIGHT,
    ///     tokio::sync::Semaphore::MAX_PERMITS
    /// );
    /// ```
    pub const MAX_IN_FLIGHT: usize = Semaphore::MAX_PERMITS;

    /// The linker whose handlers the emitter runs; the global one if not set.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, EventLinker};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// assert!(EventEmitter::builder().linker(&linker).build().linker().same_as(&linker));
    /// assert!(EventEmitter::builder().build().linker().same_as(EventLinker::global()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn linker(mut self, linker: &EventLinker) -> Self {
        self.linker = Some(linker.clone());
        self
    }

    /// Logs each emission at debug level; defaults to the linker's debug switch.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, EventLinker};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let quiet = EventLinker::builder().build()?;
    /// let emitter = EventEmitter::builder().linker(&quiet).debug(true).build();
    /// assert!(emitter.is_debug() && !quiet.is_debug());
    /// # Ok(())
    /// # }
    /// ```
    pub fn debug(mut self, debug: bool) -> Self {
        self.debug = Some(debug);
        self
    }

    /// The timeout of handlers that have none of their own (see
    /// [`SubscribeBuilder::timeout`](crate::SubscribeBuilder::timeout)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ventus::{EventEmitter, EventLinker};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Fetch").subscribe(|| std::future::pending::<()>())?;
    /// let emitter = EventEmitter::builder()
    ///     .linker(&linker)
    ///     .timeout(Duration::from_millis(10))
    ///     .build();
    ///
    /// let report = emitter.emit("Fetch")?.wait().expect("no runtime on this thread");
    /// assert_eq!(report.counts().timed_out, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Records each handler's outcome and duration in [`EmissionReport`]s, those of
    /// [`emit`](EventEmitter::emit) and of [`run`](EventEmitter::run) alike (off by
    /// default: it costs two clock reads per handler and an allocation per emission).
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, EventLinker};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Ping").subscribe(|| "pong")?;
    /// let emitter = EventEmitter::builder().linker(&linker).detailed_reports(true).build();
    ///
    /// let report = emitter.emit("Ping")?.wait().expect("no runtime on this thread");
    /// assert_eq!(report.handlers().len(), 1);
    /// assert!(report.handlers()[0].outcome.is_success());
    /// # Ok(())
    /// # }
    /// ```
    pub fn detailed_reports(mut self, detailed: bool) -> Self {
        self.detailed = detailed;
        self
    }

    /// At most `max` emissions in flight at once, with `overflow` deciding what `emit`
    /// does when the bound is reached. Without it there is no bound.
    ///
    /// `max` is clamped to `1..=`[`MAX_IN_FLIGHT`](Self::MAX_IN_FLIGHT): 0 would refuse
    /// every emission, and a larger bound than tokio's semaphore holds is one no process
    /// can reach, so `usize::MAX` means "as good as unbounded" and never panics. The
    /// clamped value is the one [`EmitError::Full`] reports.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, EventLinker, Overflow};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|| async {})?;
    /// let emitter = EventEmitter::builder().linker(&linker).max_in_flight(1, Overflow::Reject).build();
    ///
    /// let _first = emitter.emit("Job")?; // scheduled, holds the only place
    /// assert!(emitter.emit("Job").is_err());
    /// emitter.wait_for_tasks().await;
    ///
    /// // Beyond what the semaphore holds: clamped, not a panic.
    /// let unbounded = EventEmitter::builder().linker(&linker).max_in_flight(usize::MAX, Overflow::Reject).build();
    /// let _ = unbounded.emit("Job")?;
    /// unbounded.wait_for_tasks().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_in_flight(mut self, max: usize, overflow: Overflow) -> Self {
        self.limit = Some((max.clamp(1, Self::MAX_IN_FLIGHT), overflow));
        self
    }

    /// The processor that decides where emissions run.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, TokioProcessor};
    ///
    /// let emitter = EventEmitter::builder().processor(TokioProcessor::new()).build();
    /// let any: EventEmitter = emitter.into(); // `EventEmitter` holds any processor
    /// assert!(!any.is_closed());
    /// ```
    pub fn processor<Q: Processor>(self, processor: Q) -> EventEmitterBuilder<Q> {
        EventEmitterBuilder {
            linker: self.linker,
            debug: self.debug,
            timeout: self.timeout,
            detailed: self.detailed,
            limit: self.limit,
            processor,
        }
    }

    /// Makes the emitter.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, EventLinker};
    ///
    /// let emitter = EventEmitter::builder().build();
    /// assert!(emitter.linker().same_as(EventLinker::global()));
    /// assert!(!emitter.is_closed());
    /// ```
    pub fn build(self) -> EventEmitter<P> {
        let linker = self.linker.unwrap_or_else(|| EventLinker::global().clone());
        let debug = self.debug.unwrap_or(linker.inner.debug);
        EventEmitter {
            shared: Arc::new(EmitterShared {
                lean: !debug && self.timeout.is_none() && !self.detailed && self.limit.is_none(),
                debug,
                timeout: self.timeout,
                detailed: self.detailed,
                limit: self.limit.map(|(max, overflow)| Limit {
                    permits: Arc::new(Semaphore::new(max)),
                    max,
                    overflow,
                }),
                closed: AtomicBool::new(false),
                metrics: Metrics::default(),
            }),
            linker,
            processor: Arc::new(self.processor),
        }
    }
}

impl<P> fmt::Debug for EventEmitterBuilder<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventEmitterBuilder")
            .field("linker", &self.linker)
            .field("processor", &type_name::<P>())
            .field("debug", &self.debug)
            .field("timeout", &self.timeout)
            .field("detailed", &self.detailed)
            .field("limit", &self.limit)
            .finish()
    }
}
