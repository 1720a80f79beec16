//! The emitter's builder.

use std::any::type_name;
use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::EventEmitter;
use crate::emission::filter::Filter;
use crate::emission::hook::Hook;
use crate::emission::order::{Sequencer, TakeTurn};
use crate::emission::settings::{EmitterShared, Limit, Overflow};
use crate::emission::{EmissionFilter, HandlerHook, Metrics};
use crate::linker::EventLinker;
use crate::processor::Processor;

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
    pub(super) linker: Option<EventLinker>,
    pub(super) debug: Option<bool>,
    pub(super) timeout: Option<Duration>,
    pub(super) detailed: bool,
    pub(super) limit: Option<(usize, Overflow)>,
    pub(super) hook: Option<Hook>,
    pub(super) filter: Option<Filter>,
    pub(super) ordered: bool,
    pub(super) processor: P,
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

    /// Records each handler's outcome and duration in [`EmissionReport`](crate::EmissionReport)s, those of
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
    /// clamped value is the one [`EmitError::Full`](super::EmitError::Full) reports.
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

    /// Sets a hook that sees each handler of each emission before it starts (and may
    /// keep it from starting) and hears how it ended, as it happens. See [`HandlerHook`].
    /// Emissions of an emitter with a hook take the full path.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{EventEmitter, EventLinker, HandlerHook, HandlerInfo};
    ///
    /// #[derive(Debug)]
    /// struct NoneStart;
    ///
    /// impl HandlerHook for NoneStart {
    ///     fn admit(&self, _handler: &HandlerInfo<'_>) -> bool {
    ///         false
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|| ())?;
    /// let emitter = EventEmitter::builder().linker(&linker).handler_hook(NoneStart).build();
    /// assert_eq!(emitter.emit("Job")?.wait().unwrap().counts().total(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn handler_hook(mut self, hook: impl HandlerHook) -> Self {
        self.hook = Some(Hook(Box::new(hook)));
        self
    }

    /// Sets a filter that sees each emission before its handlers and lets it pass or
    /// drops it with a reason; a dropped emission is refused with
    /// [`EmitError::Filtered`](super::EmitError::Filtered), counted and logged. See
    /// [`EmissionFilter`]. A second call replaces the first filter. Emissions of an
    /// emitter with a filter take the full path; emitters without one pay nothing.
    ///
    /// # Examples
    ///
    /// Keep every other emission (sampling):
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use ventus::{EmissionView, EventEmitter, EventLinker, Verdict};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Sample").subscribe(|| ())?;
    /// let seen = AtomicU64::new(0);
    /// let emitter = EventEmitter::builder()
    ///     .linker(&linker)
    ///     .filter(move |_: &EmissionView<'_>| {
    ///         if seen.fetch_add(1, Ordering::Relaxed) % 2 == 0 {
    ///             Verdict::Pass
    ///         } else {
    ///             Verdict::drop("sampled out")
    ///         }
    ///     })
    ///     .build();
    ///
    /// let passed = (0..10).filter(|_| emitter.emit("Sample").is_ok()).count();
    /// assert_eq!(passed, 5);
    /// assert_eq!(emitter.metrics().filtered, 5);
    /// # Ok(())
    /// # }
    /// ```
    pub fn filter(mut self, filter: impl EmissionFilter) -> Self {
        self.filter = Some(Filter(Box::new(filter)));
        self
    }

    /// Runs the emitter's emissions one at a time, in the order they were submitted
    /// (off by default), as Pyventus's `enforce_submission_order=True`. Works with any
    /// processor; emissions of an ordered emitter take the full path.
    ///
    /// - *Submitted* means accepted by `emit`, `emit_with`, `emit_event` and the other
    ///   emitting calls: the order in which they enter the emitter's queue, which is the
    ///   call order from one thread or task. Clones of the emitter share the queue.
    /// - The next emission starts only after every handler of the one before it ended
    ///   and its report was published. It is handed to the processor by whoever ends
    ///   the one before it, so in a sync context an `emit` whose turn has not come
    ///   returns at once, and the `emit` running the queue returns once it is empty.
    /// - An emission made from a handler goes to the back of the queue: it runs after
    ///   the handler's own emission and after those queued before it (Pyventus runs it
    ///   first). A handler that waits for (`wait`s on, or awaits) an emission it made on
    ///   the same ordered emitter waits forever: that emission runs after its own.
    /// - [`run`](EventEmitter::run) and its typed forms go through the queue too: they
    ///   await their turn, then their report, and run on the processor. Dropping their
    ///   future stops the wait only: the emission keeps its place and runs.
    /// - A handler that never ends holds the queue: bound it with
    ///   [`timeout`](Self::timeout) or the handler's own timeout. A handler error, panic
    ///   or timeout does not stall the queue.
    /// - A processor that refuses an emission when its turn comes (one shut down
    ///   meanwhile) does not make `emit` fail, since `emit` returned already: the
    ///   emission is reported cancelled, each handler counted, and the queue goes on.
    /// - A queued emission keeps its place under [`max_in_flight`](Self::max_in_flight)
    ///   while it waits, and its once-subscribers are claimed for it at `emit`.
    /// - [`shutdown`](EventEmitter::shutdown) refuses new emissions and runs the queued
    ///   ones within its deadline if it can; those still queued at the deadline are
    ///   reported cancelled, each handler counted. Every accepted emission gets a report.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use ventus::{EventEmitter, EventLinker};
    ///
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// linker.on("Step").subscribe(move |n: u32| {
    ///     let log = log.clone();
    ///     async move {
    ///         tokio::task::yield_now().await;
    ///         log.lock().unwrap().push(n);
    ///     }
    /// })?;
    /// let emitter = EventEmitter::builder().linker(&linker).submission_order(true).build();
    /// assert!(emitter.is_submission_ordered());
    ///
    /// let handles: Vec<_> = (1..=5_u32).map(|n| emitter.emit_with("Step", n)).collect::<Result<_, _>>()?;
    /// for handle in handles {
    ///     handle.await;
    /// }
    /// assert_eq!(*seen.lock().unwrap(), [1, 2, 3, 4, 5]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn submission_order(mut self, ordered: bool) -> Self {
        self.ordered = ordered;
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
            hook: self.hook,
            filter: self.filter,
            ordered: self.ordered,
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
        let processor = Arc::new(self.processor);
        let order = self.ordered.then(|| {
            let weak: Weak<dyn TakeTurn> = Arc::downgrade(&processor) as Weak<P>;
            Sequencer::new(weak)
        });
        EventEmitter {
            shared: Arc::new(EmitterShared {
                lean: !debug
                    && self.timeout.is_none()
                    && !self.detailed
                    && self.limit.is_none()
                    && self.hook.is_none()
                    && self.filter.is_none()
                    && !self.ordered,
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
                hook: self.hook,
                filter: self.filter,
                order,
            }),
            linker,
            processor,
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
            .field("filter", &self.filter)
            .field("ordered", &self.ordered)
            .finish()
    }
}
