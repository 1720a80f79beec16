//! A reserved place under an emitter's bound.

use std::fmt;

use tokio::sync::OwnedSemaphorePermit;

use super::error::EmitError;
use super::EventEmitter;
use crate::emission::Emitted;
use crate::event::Event;
use crate::processor::Processor;

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
    pub(super) emitter: &'a EventEmitter<P>,
    pub(super) permit: Option<OwnedSemaphorePermit>,
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
