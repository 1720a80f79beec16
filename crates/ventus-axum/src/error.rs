//! Errors of holding an emission with a request, and the extractor's rejection.

use std::any::Any;
use std::fmt;

use axum_core::response::{IntoResponse, Response};
use http::StatusCode;

/// Why [`BackgroundEmitter`](crate::BackgroundEmitter) did not hold an emission. The
/// payload is handed back in it ([`into_payload`](Self::into_payload)): nothing given to
/// a refused `emit*` is lost.
///
/// Every refusal is counted in [`BackgroundMetrics::refused`](crate::BackgroundMetrics::refused).
///
/// # Examples
///
/// ```
/// use ventus_axum::{BackgroundEmitter, HoldError};
///
/// async fn handler(emitter: BackgroundEmitter) -> &'static str {
///     match emitter.emit("") {
///         Err(HoldError::EmptyEventName { .. }) => "names cannot be empty",
///         Err(other) => {
///             tracing::warn!(%other, "not emitted");
///             "not emitted"
///         }
///         Ok(()) => "held",
///     }
/// }
/// # let _ = handler;
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum HoldError {
    /// The event name was empty.
    EmptyEventName {
        /// The payload, handed back; `None` for [`emit`](crate::BackgroundEmitter::emit).
        payload: Option<Box<dyn Any + Send + Sync>>,
    },
    /// [`Background::shutdown`](crate::Background::shutdown) was called: no new
    /// emission is taken.
    Closed {
        /// The event that was refused.
        event: String,
        /// The payload, handed back; `None` for [`emit`](crate::BackgroundEmitter::emit).
        payload: Option<Box<dyn Any + Send + Sync>>,
    },
    /// The request this extractor came with is over: its response was produced (its
    /// emissions were already handed on) or it was dropped without one. An extractor
    /// kept past its request (moved into a task of its own, say) can no longer emit.
    RequestFinished {
        /// The event that was refused.
        event: String,
        /// The payload, handed back; `None` for [`emit`](crate::BackgroundEmitter::emit).
        payload: Option<Box<dyn Any + Send + Sync>>,
    },
}

impl HoldError {
    /// The event that was refused (empty for [`EmptyEventName`](Self::EmptyEventName)).
    ///
    /// # Examples
    ///
    /// ```
    /// async fn handler(emitter: ventus_axum::BackgroundEmitter) {
    ///     if let Err(err) = emitter.emit("Created") {
    ///         tracing::warn!(event = err.event(), "not held: {err}");
    ///     }
    /// }
    /// # let _ = handler;
    /// ```
    pub fn event(&self) -> &str {
        match self {
            Self::EmptyEventName { .. } => "",
            Self::Closed { event, .. } | Self::RequestFinished { event, .. } => event,
        }
    }

    /// The payload given to `emit_with` (or the event given to `emit_event`), if it was
    /// a `T`; `None` for another type or for [`emit`](crate::BackgroundEmitter::emit).
    ///
    /// # Examples
    ///
    /// An order that could not be held is written to an outbox instead of being lost:
    ///
    /// ```
    /// # fn save_to_outbox(_: u64) {}
    /// async fn place(emitter: ventus_axum::BackgroundEmitter) -> &'static str {
    ///     match emitter.emit_with("OrderPlaced", 42_u64) {
    ///         Ok(()) => "placed",
    ///         Err(err) => {
    ///             if let Some(order) = err.into_payload::<u64>() {
    ///                 save_to_outbox(order);
    ///             }
    ///             "placed (outbox)"
    ///         }
    ///     }
    /// }
    /// # let _ = place;
    /// ```
    pub fn into_payload<T: Any>(self) -> Option<T> {
        let payload = match self {
            Self::EmptyEventName { payload }
            | Self::Closed { payload, .. }
            | Self::RequestFinished { payload, .. } => payload,
        };
        payload?.downcast::<T>().ok().map(|b| *b)
    }
}

impl fmt::Display for HoldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyEventName { .. } => {
                f.write_str("event name is empty; emit events with a non-empty name")
            }
            Self::Closed { event, .. } => write!(
                f,
                "event `{event}` was not held: the background emitter was shut down and \
                 takes no new emissions"
            ),
            Self::RequestFinished { event, .. } => write!(
                f,
                "event `{event}` was not held: its request is over (the response was produced \
                 or the request dropped); emit while the handler runs"
            ),
        }
    }
}

impl std::error::Error for HoldError {}

/// The rejection of [`BackgroundEmitter`](crate::BackgroundEmitter) on a route without a
/// [`VentusLayer`](crate::VentusLayer): nothing would run its emissions after the
/// response, so the handler is not called. The response is `500 Internal Server Error`
/// with a message naming the fix; the rejection is logged at `error` level.
///
/// # Examples
///
/// ```
/// use axum_core::response::IntoResponse;
/// use http::StatusCode;
///
/// let response = ventus_axum::MissingLayer::new().into_response();
/// assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct MissingLayer {}

impl MissingLayer {
    /// The rejection (for tests and for code that builds responses by hand).
    ///
    /// # Examples
    ///
    /// ```
    /// let rejection = ventus_axum::MissingLayer::new();
    /// assert!(rejection.to_string().contains("VentusLayer"));
    /// ```
    pub fn new() -> Self {
        Self {}
    }
}

impl fmt::Display for MissingLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "`BackgroundEmitter` needs `VentusLayer` on its route; add \
             `.layer(ventus_axum::VentusLayer::new())` to the router",
        )
    }
}

impl std::error::Error for MissingLayer {}

impl IntoResponse for MissingLayer {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}
