//! Errors of emitting.

use std::fmt;

use crate::handler::BoxError;

/// Why an emission was not made.
///
/// Handler failures are not emit errors: they go to failure callbacks, and the other
/// handlers still run.
///
/// # Examples
///
/// ```
/// use ventus::{EmitError, TokioEventEmitter};
///
/// let emitter = TokioEventEmitter::with_linker(&ventus::EventLinker::builder().build().unwrap());
/// assert!(matches!(emitter.emit(""), Err(EmitError::EmptyEventName)));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum EmitError {
    /// The event name was empty.
    EmptyEventName,
    /// The processor could not take the emission (for example, no runtime could be
    /// started for a sync-context emission with async handlers).
    Processor(BoxError),
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyEventName => {
                f.write_str("event name is empty; emit events with a non-empty name")
            }
            Self::Processor(err) => write!(f, "the emission could not be processed: {err}"),
        }
    }
}

impl std::error::Error for EmitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Processor(err) => Some(&**err),
            Self::EmptyEventName => None,
        }
    }
}
