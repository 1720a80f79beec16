//! Processors: where an emission's handlers run.
//!
//! The [`EventEmitter`](crate::EventEmitter) resolves handlers and builds an
//! [`Emission`]; a processor only decides where [`Emission::run`] is driven. New
//! backends are new processors (Pyventus 0.8's "processing services").
//!
//! A processor that runs sync-context emissions on the calling thread says so with
//! [`Processor::runs_inline`]; the emitter then runs an emission of plain sync handlers
//! in its own frame, and has the processor drive one with async handlers through
//! [`Processor::drive_inline`], without building an [`Emission`] for either.

mod batch;
#[cfg(feature = "thread-pool")]
mod thread_pool;
pub(crate) mod tokio;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

#[cfg(feature = "thread-pool")]
pub use self::thread_pool::{ThreadPoolBuilder, ThreadPoolProcessor};
pub use self::tokio::TokioProcessor;

use std::fmt;
use std::time::Duration;

pub use crate::emission::ShutdownReport;
use crate::emission::{Emission, Emitted};
use crate::handler::BoxError;

/// Decides where emissions run. Object safe: `EventEmitter` (that is,
/// `EventEmitter<dyn Processor>`) holds any processor.
///
/// # Examples
///
/// A processor that runs every emission on the caller's thread and refuses emissions
/// that would need a runtime:
///
/// ```
/// use ventus::{Emission, Emitted, EventEmitter, EventLinker, ProcessError, Processor};
///
/// #[derive(Debug)]
/// struct SyncOnly;
///
/// impl Processor for SyncOnly {
///     fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
///         emission.try_run_inline().map_err(|e| {
///             ProcessError::Failed(format!("event `{}` has async handlers", e.event()).into())
///         })
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on("Sync").subscribe(|| ())?;
/// linker.on("Async").subscribe(|| async {})?;
/// let emitter = EventEmitter::builder().linker(&linker).processor(SyncOnly).build();
/// assert!(emitter.emit("Sync").is_ok());
/// assert!(emitter.emit("Async").is_err());
/// # Ok(())
/// # }
/// ```
pub trait Processor: Send + Sync + 'static {
    /// Runs `emission`, or arranges for it to run.
    ///
    /// # Errors
    ///
    /// Returns an error when the emission cannot be taken; the emitter returns it to the
    /// caller of `emit` as [`EmitError::Processor`](crate::EmitError::Processor) (or
    /// [`EmitError::Closed`](crate::EmitError::Closed) for [`ProcessError::Closed`]).
    /// The once-subscriptions the emission claimed and did not start are then given
    /// back, still linked. A panic here is taken as a refusal too.
    ///
    /// # Examples
    ///
    /// A processor that counts what it is given and runs it on the caller's thread:
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use ventus::{Emission, Emitted, EventEmitter, EventLinker, ProcessError, Processor};
    ///
    /// #[derive(Debug, Default)]
    /// struct Counting(AtomicUsize);
    ///
    /// impl Processor for Counting {
    ///     fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
    ///         self.0.fetch_add(1, Ordering::Relaxed); // a plain counter, read after the emits
    ///         emission.try_run_inline().map_err(|_| ProcessError::Failed("needs a runtime".into()))
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = EventLinker::builder().build()?;
    /// linker.on("Tick").subscribe(|| ())?;
    /// let emitter = EventEmitter::builder().linker(&linker).processor(Counting::default()).build();
    /// emitter.emit("Tick")?;
    /// emitter.emit("Tick")?;
    /// assert_eq!(emitter.processor().0.load(Ordering::Relaxed), 2);
    /// # Ok(())
    /// # }
    /// ```
    fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError>;

    /// Completes when every emission this processor has in flight has finished.
    /// Processors that finish each emission inside `process` keep the default, which
    /// is ready at once. The count an emission leaves drops just before its report is
    /// published (see [`in_flight`](Self::in_flight)): the handlers have all ended, and
    /// on another thread the report may follow an instant later.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{Processor, TokioEventEmitter};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|| async {})?;
    /// let emitter = TokioEventEmitter::with_linker(&linker);
    /// let emitted = emitter.emit("Job")?; // scheduled on this runtime
    ///
    /// Processor::wait_for_tasks(emitter.processor()).await;
    /// assert!(emitted.is_finished());
    /// # Ok(())
    /// # }
    /// ```
    fn wait_for_tasks(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::ready(()))
    }

    /// How many emissions are in flight (taken, not finished).
    ///
    /// The built-in processors promise an order that implementers should keep: an
    /// emission leaves this count *before* its report is published to its [`Emitted`]
    /// handle, so code that has the report (after [`Emitted::wait`], or awaiting the
    /// handle) never sees the emission still counted. A processor that counts around
    /// [`Emission::run`] (which publishes the report when it ends) cannot keep it and
    /// should say so; a count that only [`wait_for_tasks`](Self::wait_for_tasks) reads
    /// is unaffected.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{Processor, TokioEventEmitter};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|| async {})?;
    /// let emitter = TokioEventEmitter::with_linker(&linker);
    ///
    /// emitter.emit("Job")?; // scheduled, not yet run
    /// assert_eq!(Processor::in_flight(emitter.processor()), 1);
    /// emitter.wait_for_tasks().await;
    /// assert_eq!(Processor::in_flight(emitter.processor()), 0);
    /// # Ok(())
    /// # }
    /// ```
    fn in_flight(&self) -> usize {
        0
    }

    /// Whether an emission whose handlers are all sync would run to its end inside
    /// [`process`](Self::process), on the calling thread, if it were emitted now.
    ///
    /// When this says `true` and nothing else needs the full machinery (see
    /// [`Emission::try_run_inline`]), the emitter runs such an emission in its own frame
    /// without building an [`Emission`] or calling `process`: the handlers, callbacks,
    /// report counts and metrics are the same, and no allocation is made. The default,
    /// `false`, sends every emission to `process`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ventus::{Emission, Emitted, ProcessError, Processor};
    ///
    /// /// Runs every emission at once on the calling thread, without a runtime.
    /// #[derive(Debug)]
    /// struct Inline;
    ///
    /// impl Processor for Inline {
    ///     fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
    ///         emission
    ///             .try_run_inline()
    ///             .map_err(|_| ProcessError::Failed("async handlers need a runtime".into()))
    ///     }
    ///
    ///     fn runs_inline(&self) -> bool {
    ///         true
    ///     }
    /// }
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Ping").subscribe(|| "pong")?;
    /// let emitter = ventus::EventEmitter::builder().linker(&linker).processor(Inline).build();
    /// assert_eq!(emitter.emit("Ping")?.wait().unwrap().counts().succeeded, 1);
    /// # Ok(())
    /// # }
    /// ```
    fn runs_inline(&self) -> bool {
        false
    }

    /// Drives `poll` until it returns `Ready`, on the calling thread, the way this
    /// processor runs a sync-context emission whose handlers need a runtime; `Ok(false)`,
    /// without calling `poll`, if it does not run emissions on the calling thread.
    ///
    /// The emitter calls it when [`runs_inline`](Self::runs_inline) says `true` for an
    /// emission with async handlers that can run in the emitter's own frame (no
    /// `AnyEvent` or `blocking` handler, no timeout, nothing that needs the full path):
    /// `poll`'s first call starts every handler, later calls poll those still pending.
    /// On `Ok(false)` the emitter hands the emission to [`process`](Self::process)
    /// instead, which the default always has it do.
    ///
    /// # Errors
    ///
    /// [`ProcessError`] if the processor could not drive it (say, no runtime could be
    /// started); `poll` was not called then.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Poll};
    /// use ventus::{Emission, Emitted, ProcessError, Processor};
    ///
    /// /// Runs emissions on the calling thread, on a runtime of its own.
    /// #[derive(Debug)]
    /// struct Here(tokio::runtime::Runtime);
    ///
    /// impl Processor for Here {
    ///     fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
    ///         let (emission, emitted) = emission.track(None);
    ///         self.0.block_on(emission.run());
    ///         Ok(emitted)
    ///     }
    ///
    ///     fn runs_inline(&self) -> bool {
    ///         true
    ///     }
    ///
    ///     fn drive_inline(
    ///         &self,
    ///         poll: &mut dyn FnMut(&mut Context<'_>) -> Poll<()>,
    ///     ) -> Result<bool, ProcessError> {
    ///         self.0.block_on(std::future::poll_fn(|cx| poll(cx)));
    ///         Ok(true)
    ///     }
    /// }
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|n: u32| async move { n + 1 })?;
    /// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    /// let emitter = ventus::EventEmitter::builder().linker(&linker).processor(Here(runtime)).build();
    /// let report = emitter.emit_with("Job", 1_u32)?.wait().unwrap();
    /// assert_eq!(report.counts().succeeded, 1);
    /// # Ok(())
    /// # }
    /// ```
    fn drive_inline(
        &self,
        poll: &mut dyn FnMut(&mut Context<'_>) -> Poll<()>,
    ) -> Result<bool, ProcessError> {
        let _ = poll;
        Ok(false)
    }

    /// Whether the processor refuses new emissions (it was shut down).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use ventus::{Emission, Emitted, EventEmitter, ProcessError, Processor};
    ///
    /// /// A processor that can be switched off.
    /// #[derive(Debug, Default)]
    /// struct Switch(AtomicBool);
    ///
    /// impl Processor for Switch {
    ///     fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
    ///         if self.is_closed() {
    ///             return Err(ProcessError::Closed);
    ///         }
    ///         emission.try_run_inline().map_err(|_| ProcessError::Failed("needs a runtime".into()))
    ///     }
    ///
    ///     fn is_closed(&self) -> bool {
    ///         self.0.load(Ordering::Relaxed) // a flag with no data behind it
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let linker = ventus::EventLinker::builder().build()?;
    /// # linker.on("Tick").subscribe(|| ())?;
    /// let emitter = EventEmitter::builder().linker(&linker).processor(Switch::default()).build();
    /// assert!(emitter.emit("Tick").is_ok());
    /// emitter.processor().0.store(true, Ordering::Relaxed);
    /// assert!(emitter.is_closed(), "the emitter asks its processor");
    /// assert!(emitter.emit("Tick").is_err());
    /// # Ok(())
    /// # }
    /// ```
    fn is_closed(&self) -> bool {
        false
    }

    /// Stops taking emissions, gives those in flight until `timeout`, cancels the rest,
    /// and says how many finished and how many were cancelled. The default waits with
    /// [`wait_for_tasks`](Self::wait_for_tasks) and cancels nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ventus::{Processor, TokioEventEmitter};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Stuck").subscribe(|| std::future::pending::<()>())?;
    /// let emitter = TokioEventEmitter::with_linker(&linker);
    /// emitter.emit("Stuck")?;
    ///
    /// let report = Processor::shutdown(emitter.processor(), Duration::from_millis(10)).await;
    /// assert_eq!((report.finished, report.cancelled), (0, 1));
    /// # Ok(())
    /// # }
    /// ```
    fn shutdown(
        &self,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = ShutdownReport> + Send + '_>> {
        let _ = timeout;
        Box::pin(async move {
            let before = self.in_flight();
            self.wait_for_tasks().await;
            ShutdownReport {
                finished: before,
                cancelled: 0,
            }
        })
    }
}

/// Why a [`Processor`] did not take an emission.
///
/// # Examples
///
/// ```
/// use ventus::{Emission, EmitError, Emitted, EventEmitter, ProcessError, Processor};
///
/// #[derive(Debug)]
/// struct Down;
///
/// impl Processor for Down {
///     fn process(&self, _: Emission<'_>) -> Result<Emitted, ProcessError> {
///         Err(ProcessError::Failed("the queue is down".into()))
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = ventus::EventLinker::builder().build()?;
/// linker.on("Tick").subscribe(|| ())?;
/// let emitter = EventEmitter::builder().linker(&linker).processor(Down).build();
/// match emitter.emit("Tick") {
///     Err(EmitError::Processor(err)) => assert!(err.to_string().contains("the queue is down")),
///     other => panic!("expected a processor error, got {other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ProcessError {
    /// The processor was shut down.
    Closed,
    /// Anything else; returned to `emit`'s caller as
    /// [`EmitError::Processor`](crate::EmitError::Processor).
    Failed(BoxError),
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("the processor was shut down"),
            Self::Failed(err) => write!(f, "the processor failed: {err}"),
        }
    }
}

impl std::error::Error for ProcessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Failed(err) => Some(&**err),
            Self::Closed => None,
        }
    }
}
