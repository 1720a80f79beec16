//! Processors: where an emission's handlers run.
//!
//! The [`EventEmitter`](crate::EventEmitter) resolves handlers and builds an
//! [`Emission`]; a processor only decides where [`Emission::run`] is driven. New
//! backends are new processors (Pyventus 0.8's "processing services").

pub(crate) mod tokio;

use std::future::Future;
use std::pin::Pin;

pub use self::tokio::TokioProcessor;

use crate::emitter::Emission;
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
/// use ventus::{BoxError, Emission, EventEmitter, EventLinker, Processor};
///
/// #[derive(Debug)]
/// struct SyncOnly;
///
/// impl Processor for SyncOnly {
///     fn process(&self, emission: Emission<'_>) -> Result<(), BoxError> {
///         emission
///             .try_run_inline()
///             .map_err(|e| format!("event `{}` has async handlers", e.event()).into())
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
    /// caller of `emit` as [`EmitError::Processor`](crate::EmitError::Processor).
    fn process(&self, emission: Emission<'_>) -> Result<(), BoxError>;

    /// Completes when every emission this processor has in flight has finished.
    /// Processors that finish each emission inside `process` keep the default, which
    /// is ready at once.
    fn wait_for_tasks(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::ready(()))
    }
}
