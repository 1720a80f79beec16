//! The event emitter: resolves handlers and hands emissions to a processor.

mod builder;
mod dispatch;
mod error;
mod ordered;
mod permit;

use std::any::type_name;
use std::fmt;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

pub use self::builder::EventEmitterBuilder;
pub use self::error::{Collision, EmitError, Filtered, PayloadMismatch, Rejected};
pub use self::permit::EmitPermit;

use crate::emission::settings::EmitterShared;
use crate::emission::{EmissionReport, Emitted, EmitterMetrics};
use crate::event::{error_name, Event, EventKey, EventName};
use crate::linker::EventLinker;
use crate::processor::{Processor, ShutdownReport, TokioProcessor};

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
/// [`Emission`](crate::Emission) to its processor `P`, which decides where the handlers run.
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
            hook: None,
            filter: None,
            ordered: false,
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

    /// Whether emissions run one at a time, in submission order (see
    /// [`EventEmitterBuilder::submission_order`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, TokioEventEmitter};
    ///
    /// assert!(!TokioEventEmitter::new().is_submission_ordered());
    /// assert!(EventEmitter::builder().submission_order(true).build().is_submission_ordered());
    /// ```
    pub fn is_submission_ordered(&self) -> bool {
        self.shared.order.is_some()
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
    /// Handlers start by priority, then subscription order (see
    /// [`SubscribeBuilder::priority`](crate::SubscribeBuilder::priority)): a sync handler
    /// runs to its end when it is reached, an async one is polled once at once and then interleaves with the others.
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

    /// Shuts the emitter (and its clones) down: new emissions are refused with
    /// [`EmitError::Closed`], emissions in flight get until `timeout` to finish, and the
    /// rest are cancelled. Reports how many finished and how many were cancelled.
    ///
    /// Sync-context emissions run in their caller's thread and are not counted.
    ///
    /// On an emitter with [`submission_order`](EventEmitterBuilder::submission_order),
    /// the queued emissions are run within the deadline if they can be; at the deadline
    /// the ones still queued are reported cancelled (each handler counted) and the
    /// running one is cancelled. The report counts every queued emission that ended
    /// during the shutdown, sync-context ones too.
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
        match &self.shared.order {
            None => self.processor.shutdown(timeout).await,
            Some(order) => self.shutdown_ordered(order, timeout).await,
        }
    }
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
