//! The extractor handlers emit with.

use std::fmt;
use std::sync::Arc;

use axum_core::extract::{FromRef, FromRequestParts};
use http::request::Parts;
use tracing::Span;
use ventus::{EmitError, Emitted, Event, EventEmitter, EventName};

use crate::background::Background;
use crate::background::{EmitFn, Payload, Pending, Slot};
use crate::error::{HoldError, MissingLayer};
use crate::policy::RunPolicy;
use crate::slot::SlotHandle;

/// Emits events that run after the response: the extractor a handler takes, as a
/// FastAPI endpoint takes `Depends(FastAPIEventEmitter())`.
///
/// It takes the [`Background`] from the router's state (through
/// [`FromRef`]), and the request's slot from [`VentusLayer`](crate::VentusLayer), which
/// must be on the route (without it the extraction fails with [`MissingLayer`]).
/// [`emit`](Self::emit), [`emit_with`](Self::emit_with) and
/// [`emit_event`](Self::emit_event) *hold* the emission with the request and return at
/// once; when the response future resolves, the layer hands every held emission that
/// the [`RunPolicy`] lets through to the [`Background`], which runs it on the
/// application's emitter (see [`VentusLayer`](crate::VentusLayer) for the exact timing).
/// Nothing runs before the response is produced, so no handler of these events can
/// delay it.
///
/// Payloads are owned (`'static`): an emission outlives the request, so it cannot
/// borrow from it.
///
/// ```compile_fail,E0597
/// use ventus_axum::BackgroundEmitter;
///
/// async fn create(emitter: BackgroundEmitter, body: String) {
///     // `&str` borrowed from the request's body: does not live long enough.
///     emitter.emit_with("Created", body.as_str()).unwrap();
/// }
/// # let _ = create;
/// ```
///
/// Move the value in instead: `emitter.emit_with("Created", body)`.
///
/// # Examples
///
/// ```
/// use axum::{http::StatusCode, routing::post, Json, Router};
/// use ventus::{EventLinker, TokioEventEmitter};
/// use ventus_axum::{Background, BackgroundEmitter, VentusLayer};
///
/// #[derive(serde::Deserialize)]
/// struct NewUser {
///     name: String,
/// }
///
/// async fn create_user(emitter: BackgroundEmitter, Json(user): Json<NewUser>) -> StatusCode {
///     match emitter.emit_with("UserCreated", user.name) {
///         Ok(()) => StatusCode::CREATED,
///         Err(_) => StatusCode::SERVICE_UNAVAILABLE, // shutting down
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = EventLinker::builder().build()?;
/// linker.on("UserCreated").subscribe(|name: &String| println!("welcome mail to {name}"))?;
/// let background = Background::new(TokioEventEmitter::with_linker(&linker));
/// let app: Router = Router::new()
///     .route("/users", post(create_user))
///     .layer(VentusLayer::new())
///     .with_state(background);
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct BackgroundEmitter {
    background: Background,
    slot: Arc<Slot>,
    policy: Option<RunPolicy>,
}

impl BackgroundEmitter {
    /// Holds an emission of `event` without a payload.
    ///
    /// # Errors
    ///
    /// [`HoldError::EmptyEventName`] for an empty name, [`HoldError::Closed`] once the
    /// [`Background`] is shut down, [`HoldError::RequestFinished`] when the request is
    /// over. Each is counted in `refused`.
    ///
    /// # Examples
    ///
    /// ```
    /// async fn ping(emitter: ventus_axum::BackgroundEmitter) -> &'static str {
    ///     emitter.emit("Pinged").ok();
    ///     "pong"
    /// }
    /// # let _ = ping;
    /// ```
    pub fn emit(&self, event: &str) -> Result<(), HoldError> {
        self.hold(event, None, emit_plain)
    }

    /// Holds an emission of `event` with `payload`; its handlers take `&T` (sync) or `T`
    /// (async), as with [`EventEmitter::emit_with`].
    ///
    /// # Errors
    ///
    /// As [`emit`](Self::emit). A payload no handler of the event takes is refused only
    /// at hand-off, by the emitter (counted in `refused`, logged with the event, method
    /// and path).
    ///
    /// # Examples
    ///
    /// ```
    /// async fn order(emitter: ventus_axum::BackgroundEmitter) -> &'static str {
    ///     emitter.emit_with("OrderPlaced", 42_u64).ok();
    ///     "ordered"
    /// }
    /// # let _ = order;
    /// ```
    pub fn emit_with<T: Send + Sync + 'static>(
        &self,
        event: &str,
        payload: T,
    ) -> Result<(), HoldError> {
        self.hold(event, Some(Box::new(payload)), emit_payload::<T>)
    }

    /// Holds an emission of the typed event `event` (named by [`Event::name`]).
    ///
    /// # Errors
    ///
    /// As [`emit`](Self::emit).
    ///
    /// # Examples
    ///
    /// ```
    /// struct UserCreated {
    ///     name: String,
    /// }
    /// impl ventus::Event for UserCreated {}
    ///
    /// async fn create(emitter: ventus_axum::BackgroundEmitter, name: String) -> &'static str {
    ///     emitter.emit_event(UserCreated { name }).ok();
    ///     "created"
    /// }
    /// # let _ = create;
    /// ```
    pub fn emit_event<E: Event>(&self, event: E) -> Result<(), HoldError> {
        self.hold(E::name(), Some(Box::new(event)), emit_typed::<E>)
    }

    /// This extractor with `policy` in place of the router's, for the emissions made
    /// through what it returns.
    ///
    /// # Examples
    ///
    /// An audit event that runs even when the login is refused:
    ///
    /// ```
    /// use axum::http::StatusCode;
    /// use ventus_axum::{BackgroundEmitter, RunPolicy};
    ///
    /// async fn login(emitter: BackgroundEmitter) -> StatusCode {
    ///     emitter.with_policy(RunPolicy::Always).emit("LoginAttempted").ok();
    ///     StatusCode::UNAUTHORIZED
    /// }
    /// # let _ = login;
    /// ```
    pub fn with_policy(&self, policy: RunPolicy) -> Self {
        Self {
            policy: Some(policy),
            ..self.clone()
        }
    }

    /// The [`Background`] these emissions run on.
    ///
    /// # Examples
    ///
    /// ```
    /// async fn stats(emitter: ventus_axum::BackgroundEmitter) -> String {
    ///     format!("{} held so far", emitter.background().metrics().held)
    /// }
    /// # let _ = stats;
    /// ```
    pub fn background(&self) -> &Background {
        &self.background
    }

    fn hold(&self, event: &str, payload: Payload, emit: EmitFn) -> Result<(), HoldError> {
        let event = match EventName::new(event) {
            Ok(name) => name,
            Err(_) => {
                self.background.count_refused();
                return Err(HoldError::EmptyEventName { payload });
            }
        };
        if self.background.is_closed() {
            self.background.count_refused();
            return Err(HoldError::Closed {
                event: event.as_str().to_owned(),
                payload,
            });
        }
        let pending = Pending {
            background: self.background.clone(),
            event,
            policy: self.policy,
            span: Span::current(),
            payload,
            emit,
        };
        match self.slot.push(pending) {
            Ok(()) => {
                self.background.count_held();
                Ok(())
            }
            Err(pending) => {
                self.background.count_refused();
                Err(HoldError::RequestFinished {
                    event: pending.event.as_str().to_owned(),
                    payload: pending.payload,
                })
            }
        }
    }
}

/// [`EmitFn`] of an emission without a payload.
fn emit_plain(emitter: &EventEmitter, event: &EventName, _: Payload) -> Result<Emitted, EmitError> {
    emitter.emit(event)
}

/// [`EmitFn`] of `emit_with::<T>`: the payload was boxed from a `T`.
fn emit_payload<T: Send + Sync + 'static>(
    emitter: &EventEmitter,
    event: &EventName,
    payload: Payload,
) -> Result<Emitted, EmitError> {
    emitter.emit_with(event, unbox::<T>(payload))
}

/// [`EmitFn`] of `emit_event::<E>`: the payload was boxed from the `E`.
fn emit_typed<E: Event>(
    emitter: &EventEmitter,
    _: &EventName,
    payload: Payload,
) -> Result<Emitted, EmitError> {
    emitter.emit_event(unbox::<E>(payload))
}

/// The payload as the type `hold` was given it with.
fn unbox<T: 'static>(payload: Payload) -> T {
    match payload.map(|p| p.downcast::<T>()) {
        Some(Ok(payload)) => *payload,
        // `emit_with` and `emit_event` pair each payload with the function of its type.
        _ => unreachable!("a held payload is emitted as the type it was held with"),
    }
}

impl<S> FromRequestParts<S> for BackgroundEmitter
where
    S: Send + Sync,
    Background: FromRef<S>,
{
    type Rejection = MissingLayer;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let slot = match parts.extensions.get::<SlotHandle<Pending>>() {
            Some(SlotHandle(slot)) => slot.clone(),
            None => return Err(MissingLayer::new()),
        };
        Ok(Self {
            background: Background::from_ref(state),
            slot,
            policy: None,
        })
    }
}

impl fmt::Debug for BackgroundEmitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackgroundEmitter")
            .field("policy", &self.policy)
            .field("method", &self.slot.method)
            .field("path", &self.slot.path())
            .finish_non_exhaustive()
    }
}
