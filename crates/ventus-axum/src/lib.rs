//! ventus for axum: emissions made while handling a request run **after its response
//! has been produced**, on the application's [`EventEmitter`](ventus::EventEmitter) —
//! Pyventus's `FastAPIEventEmitter`, without the holes FastAPI users meet in
//! `BackgroundTasks`.
//!
//! A handler takes a [`BackgroundEmitter`] (from the router's state, through
//! [`FromRef`](axum_core::extract::FromRef), as a FastAPI endpoint takes
//! `Depends(FastAPIEventEmitter())`) and emits with it; the emission is *held* with the
//! request. [`VentusLayer`] on the route hands the held emissions to the application's
//! emitter when the response future resolves, and the [`Background`] handle follows
//! each one to its end.
//!
//! ```no_run
//! use axum::{http::StatusCode, routing::post, Json, Router};
//! use ventus::{EventLinker, TokioEventEmitter};
//! use ventus_axum::{Background, BackgroundEmitter, VentusLayer};
//!
//! #[derive(serde::Deserialize)]
//! struct NewUser {
//!     name: String,
//! }
//!
//! async fn create_user(emitter: BackgroundEmitter, Json(user): Json<NewUser>) -> StatusCode {
//!     emitter.emit_with("UserCreated", user.name).ok(); // runs after the 201 is produced
//!     StatusCode::CREATED
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let linker = EventLinker::builder().build()?;
//!     linker.on("UserCreated").subscribe(|name: &String| println!("welcome mail to {name}"))?;
//!     let background = Background::new(TokioEventEmitter::with_linker(&linker));
//!
//!     let app = Router::new()
//!         .route("/users", post(create_user))
//!         .layer(VentusLayer::new())
//!         .with_state(background.clone());
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app)
//!         .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.unwrap() })
//!         .await?;
//!     let report = background.shutdown(std::time::Duration::from_secs(10)).await;
//!     eprintln!("drained: {} finished, {} cancelled", report.finished, report.cancelled);
//!     Ok(())
//! }
//! ```
//!
//! # The rules, exactly
//!
//! - **When.** A held emission is handed on at the poll in which the inner service's
//!   response future resolves with a response — before the server writes the response,
//!   never after the body is sent — and is emitted then on the application's emitter,
//!   whose processor runs it: the tokio processor on the server's runtime, a
//!   `ThreadPoolEventEmitter` on its pool, in submission order if the emitter keeps it.
//!   The response is not delayed: nothing waits for the emission, and the body is not
//!   wrapped. (Chosen over "after the body is fully sent" so that streaming bodies, and
//!   clients that stop reading, cannot hold emissions back or lose them.) A processor
//!   that runs emissions inline would run them in that poll, before the response is
//!   written: a processor of one's own that does, or the tokio processor when the
//!   response future is polled outside a tokio runtime (not under `axum::serve`).
//! - **Policy.** [`RunPolicy::OnSuccess`] (the default, as Starlette) runs an emission
//!   only after a `2xx` status; [`RunPolicy::Always`] after any; [`RunPolicy::Never`]
//!   skips them all. Set it per router with [`VentusLayer::policy`] and per emission
//!   with [`BackgroundEmitter::with_policy`], which wins. A skipped emission is counted
//!   ([`BackgroundMetrics::skipped`]) and logged at `info` level with its event, the
//!   status, the method and the path.
//! - **Disconnects.** Once handed on, an emission does not depend on the connection: a
//!   client that disconnects after the response (or while it is written) does not stop
//!   it. If the response future is dropped first (the handler was cancelled by a
//!   timeout or by the server, or panicked), its held emissions are dropped, counted in
//!   [`BackgroundMetrics::dropped`] and logged at `warn` level.
//! - **Spans.** Each emission runs in a `ventus_axum.emission` span (`info` level;
//!   fields `event`, `method`, `path`) whose parent is the span current when the handler
//!   emitted — the request's span under a tracing layer — wherever the processor runs
//!   it, and ventus's own `ventus.emission` and `ventus.handler` spans (`debug`) open
//!   inside it.
//! - **Failures.** A handler's error, panic or timeout goes to its failure callback
//!   in ventus as usual, and ventus logs it with the event and the handler inside the
//!   `ventus_axum.emission` span, so the line carries the method and the path too.
//!   ventus-axum adds an `error` line of its own per failed run (naming each failed
//!   handler when the emitter keeps
//!   [`detailed_reports`](ventus::EventEmitterBuilder::detailed_reports)), counts it in
//!   [`BackgroundMetrics::failed`] and gives it to [`BackgroundBuilder::on_failure`].
//!   The response, already produced, is never touched.
//! - **Shutdown.** [`Background::shutdown`] stops taking emissions, waits for those in
//!   flight up to a deadline, cancels the rest (ours only, not the emitter's other work)
//!   and returns a [`DrainReport`] of how many finished, were cancelled, were refused,
//!   and were cancelled but still waiting for their turn on the emitter when it
//!   returned (`abandoned`); it returns within `deadline` + 1 s. Call it
//!   after `axum::serve(..).with_graceful_shutdown(..)` has returned.
//! - **The emitter's rules apply.** Its linker, timeouts, bound, filter, reports,
//!   metrics and closed state apply as to any `emit`; an emission the emitter refuses at
//!   hand-off (closed, full, a payload no handler takes) is counted in
//!   [`BackgroundMetrics::refused`] and logged with the event, method and path. A
//!   bounded emitter that is full refuses under
//!   [`Overflow::Wait`](ventus::Overflow::Wait) too: the hand-off happens inside the
//!   response future's poll, which cannot wait for room, so size the bound for the
//!   request rate (or give ventus-axum an emitter of its own). The
//!   emitter's [`in_flight`](ventus::EmitterMetrics::in_flight) and
//!   [`wait_for_tasks`](ventus::EventEmitter::wait_for_tasks) count these emissions
//!   beside its others; [`Background`]'s count only these.
//! - **Owned payloads.** Emissions outlive their request, so payloads are `'static`:
//!   borrowing from the request does not compile (see [`BackgroundEmitter`]).
//!
//! # How an emission is followed
//!
//! At hand-off the [`Background`] emits on the emitter, takes a
//! [`Canceller`](ventus::Canceller) of the emission (kept until it ends, for a
//! shutdown deadline) and hands the [`Emitted`](ventus::Emitted) to
//! [`on_finish`](ventus::Emitted::on_finish): the report is counted and logged on the
//! thread that finishes the emission, with no task spawned and nothing polled per
//! emission.
//!
//! # Main types
//!
//! - [`Background`], [`BackgroundBuilder`] — the handle in the state: runs, counts,
//!   drains.
//! - [`BackgroundEmitter`] — the extractor handlers emit with.
//! - [`VentusLayer`], [`VentusService`], [`ResponseFuture`] — the layer.
//! - [`RunPolicy`] — which statuses let emissions run.
//! - [`BackgroundMetrics`], [`DrainReport`], [`Failure`] — counters, the shutdown report,
//!   a failed run.
//! - [`HoldError`], [`MissingLayer`] — errors.
#![forbid(unsafe_code)]

mod background;
mod error;
mod extract;
mod layer;
mod policy;
mod slot;

pub use crate::background::{
    Background, BackgroundBuilder, BackgroundMetrics, DrainReport, Failure,
};
pub use crate::error::{HoldError, MissingLayer};
pub use crate::extract::BackgroundEmitter;
pub use crate::layer::{ResponseFuture, VentusLayer, VentusService};
pub use crate::policy::RunPolicy;
