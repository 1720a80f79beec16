//! What an emission did: per-handler outcomes and counts.

use std::fmt;
use std::time::Duration;

use crate::event::EmissionId;
use crate::event::EventName;
use crate::event::SubscriptionId;
use crate::handler::HandlerError;

/// How one handler of an emission ended.
///
/// # Examples
///
/// ```
/// use ventus::{EventEmitter, EventLinker, Outcome};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on("Job").subscribe(|| -> Result<(), &'static str> { Err("no") })?;
/// let emitter = EventEmitter::builder().linker(&linker).detailed_reports(true).build();
///
/// let report = emitter.emit("Job")?.wait().expect("no runtime on this thread");
/// match &report.handlers()[0].outcome {
///     Outcome::Failed(err) => assert!(err.to_string().contains("no")),
///     other => panic!("expected a failure, got {other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// It returned a value (or `()`, or `Ok`).
    Succeeded,
    /// It returned an error, panicked, ran past its timeout or could not take the
    /// payload; [`HandlerError::kind`] says which. This is the error its failure callback
    /// received.
    Failed(HandlerError),
    /// The emission was cancelled (or its emitter shut down) before the handler finished.
    Cancelled,
}

impl Outcome {
    /// Whether the handler succeeded.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Ping").subscribe(|| "pong")?;
    /// let emitter = ventus::EventEmitter::builder().linker(&linker).detailed_reports(true).build();
    ///
    /// let report = emitter.emit("Ping")?.wait().expect("no runtime on this thread");
    /// assert!(report.handlers()[0].outcome.is_success());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Succeeded)
    }
}

/// One handler's part of an [`EmissionReport`].
///
/// # Examples
///
/// ```
/// fn ping() -> &'static str {
///     "pong"
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = ventus::EventLinker::builder().build()?;
/// let sub = linker.on("Ping").subscribe(ping)?;
/// let emitter = ventus::EventEmitter::builder().linker(&linker).detailed_reports(true).build();
///
/// let report = emitter.emit("Ping")?.wait().expect("no runtime on this thread");
/// let handler = &report.handlers()[0];
/// assert_eq!((handler.subscription, handler.handler), (sub.id(), sub.handler_name()));
/// assert!(handler.outcome.is_success());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct HandlerReport {
    /// The subscription the handler belongs to.
    pub subscription: SubscriptionId,
    /// The handler's name (see [`HandlerError::handler`]).
    pub handler: &'static str,
    /// How it ended.
    pub outcome: Outcome,
    /// From its start to its end (or to its cancellation).
    pub duration: Duration,
}

/// How many handlers of an emission ended which way.
///
/// # Examples
///
/// ```
/// fn jam() {
///     panic!("out of paper");
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = ventus::EventLinker::builder().build()?;
/// linker.on("Job").subscribe(|| ())?;
/// linker.on("Job").subscribe(|| -> Result<(), &'static str> { Err("no") })?;
/// linker.on("Job").subscribe(jam)?;
/// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
///
/// let counts = emitter.emit("Job")?.wait().expect("no runtime on this thread").counts();
/// assert_eq!((counts.succeeded, counts.failed, counts.panicked), (1, 1, 1));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// Handlers that succeeded.
    pub succeeded: u32,
    /// Handlers that returned an error or could not take the payload.
    pub failed: u32,
    /// Handlers that panicked (not counted in `failed`).
    pub panicked: u32,
    /// Handlers that ran past their timeout (not counted in `failed`).
    pub timed_out: u32,
    /// Handlers cancelled before they finished.
    pub cancelled: u32,
}

impl Counts {
    /// Every handler that ran or was cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|| ())?;
    /// linker.on("Job").subscribe(|| -> Result<(), &'static str> { Err("no") })?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    ///
    /// let counts = emitter.emit("Job")?.wait().expect("no runtime on this thread").counts();
    /// assert_eq!(counts.total(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn total(&self) -> u32 {
        self.succeeded + self.failed + self.panicked + self.timed_out + self.cancelled
    }

    pub(crate) fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Succeeded => self.succeeded += 1,
            Outcome::Failed(err) if err.is_panic() => self.panicked += 1,
            Outcome::Failed(err) if err.is_timeout() => self.timed_out += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Cancelled => self.cancelled += 1,
        }
    }
}

/// The report of one emission, from [`Emitted`](crate::Emitted).
///
/// [`counts`](Self::counts) is always filled in. The per-handler list
/// ([`handlers`](Self::handlers)) is recorded when the emitter was built with
/// [`detailed_reports(true)`](crate::EventEmitterBuilder::detailed_reports), for
/// [`emit`](crate::EventEmitter::emit) and [`run`](crate::EventEmitter::run) alike; it
/// costs two clock reads per handler and an allocation per emission, which the plain fast
/// path does without.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = ventus::EventLinker::builder().build()?;
/// linker.on("Job").subscribe(|| ())?;
/// linker.on("Job").subscribe(|| -> Result<(), &'static str> { Err("no") })?;
/// let emitter = ventus::EventEmitter::builder().linker(&linker).detailed_reports(true).build();
///
/// let report = emitter.emit("Job")?.wait().expect("no runtime here, so waiting is fine");
/// assert_eq!(report.counts().succeeded, 1);
/// assert_eq!(report.counts().failed, 1);
/// assert_eq!(report.handlers().len(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct EmissionReport {
    pub(crate) id: EmissionId,
    pub(crate) event: EventName,
    pub(crate) counts: Counts,
    pub(crate) handlers: Vec<HandlerReport>,
}

impl EmissionReport {
    pub(crate) fn new(id: EmissionId, event: EventName) -> Self {
        Self {
            id,
            event,
            counts: Counts::default(),
            handlers: Vec::new(),
        }
    }

    /// The report of an emission that ran to its end inside `emit`: counts only.
    pub(crate) fn counted(id: EmissionId, event: EventName, counts: Counts) -> Self {
        Self {
            id,
            event,
            counts,
            handlers: Vec::new(),
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

    /// The event's name, whatever path the emission took.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Ping").subscribe(|| ())?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    /// let report = emitter.emit("Ping")?.wait().expect("a sync context may wait");
    /// assert_eq!(report.event(), "Ping");
    /// assert_eq!(emitter.emit("Nobody")?.wait().unwrap().event(), "Nobody");
    /// # Ok(())
    /// # }
    /// ```
    pub fn event(&self) -> &EventName {
        &self.event
    }

    /// How many handlers ended which way.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|| ())?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    ///
    /// let report = emitter.emit("Job")?.wait().expect("no runtime on this thread");
    /// assert_eq!(report.counts().succeeded, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Each handler's outcome and duration, in the order they finished (empty unless
    /// detailed reports were asked for).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|| ())?;
    /// let plain = ventus::TokioEventEmitter::with_linker(&linker);
    /// let detailed = ventus::EventEmitter::builder().linker(&linker).detailed_reports(true).build();
    ///
    /// let wait = |e: ventus::Emitted| e.wait().expect("no runtime on this thread");
    /// assert!(wait(plain.emit("Job")?).handlers().is_empty());
    /// assert_eq!(wait(detailed.emit("Job")?).handlers().len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn handlers(&self) -> &[HandlerReport] {
        &self.handlers
    }

    /// Takes the per-handler list out.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Job").subscribe(|| ())?;
    /// linker.on("Job").subscribe(|| ())?;
    /// let emitter = ventus::EventEmitter::builder().linker(&linker).detailed_reports(true).build();
    ///
    /// let report = emitter.emit("Job")?.wait().expect("no runtime on this thread");
    /// let handlers: Vec<ventus::HandlerReport> = report.into_handlers();
    /// assert!(handlers.iter().all(|h| h.outcome.is_success()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_handlers(self) -> Vec<HandlerReport> {
        self.handlers
    }

    /// Whether every handler succeeded.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Parse").subscribe(|text: &String| text.parse::<u8>())?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    ///
    /// let wait = |e: ventus::Emitted| e.wait().expect("no runtime on this thread");
    /// assert!(wait(emitter.emit_with("Parse", "7".to_string())?).is_success());
    /// assert!(!wait(emitter.emit_with("Parse", "x".to_string())?).is_success());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_success(&self) -> bool {
        self.counts.total() == self.counts.succeeded
    }
}

impl fmt::Display for EmissionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        write!(
            f,
            "{} of `{}`: {} succeeded, {} failed, {} panicked, {} timed out, {} cancelled",
            self.id, self.event, c.succeeded, c.failed, c.panicked, c.timed_out, c.cancelled
        )
    }
}

/// What a shutdown did, from [`EventEmitter::shutdown`](crate::EventEmitter::shutdown).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = ventus::EventLinker::builder().build()?;
/// linker.on("Quick").subscribe(|| async {})?;
/// linker.on("Stuck").subscribe(|| std::future::pending::<()>())?;
/// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
/// emitter.emit("Quick")?;
/// emitter.emit("Stuck")?;
///
/// let report: ventus::ShutdownReport = emitter.shutdown(Duration::from_millis(200)).await;
/// assert_eq!((report.finished, report.cancelled), (1, 1));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Emissions that finished during the shutdown.
    pub finished: usize,
    /// Emissions cancelled at the deadline.
    pub cancelled: usize,
}
