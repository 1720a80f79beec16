//! Event-driven programming for Rust, after the Python library
//! [Pyventus](https://github.com/mdapena/pyventus).
//!
//! An [`EventLinker`] links events to handlers; an [`EventEmitter`] emits events and hands
//! each emission to a [`Processor`] that decides where the handlers run.
//! [`TokioEventEmitter`] is Pyventus's `AsyncIOEventEmitter`: in a sync context `emit`
//! runs every handler to completion before it returns; in an async context it schedules
//! the emission on the running tokio runtime and returns at once.
//!
//! # Sync context
//!
//! The seed's first example: a sync and an async handler linked to `"StringEvent"`,
//! emitted from `main` with no runtime running. `emit` returns after both have run.
//!
//! ```
//! use ventus::{EventLinker, TokioEventEmitter};
//! # use std::sync::atomic::{AtomicUsize, Ordering};
//! # static RAN: AtomicUsize = AtomicUsize::new(0);
//!
//! fn sync_event_callback() {
//!     println!("Sync event callback!");
//! #   RAN.fetch_add(1, Ordering::SeqCst);
//! }
//!
//! async fn async_event_callback() {
//!     println!("Async event callback!");
//! #   RAN.fetch_add(1, Ordering::SeqCst);
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     EventLinker::global().on("StringEvent").subscribe(sync_event_callback)?;
//!     EventLinker::global().on("StringEvent").subscribe(async_event_callback)?;
//!
//!     let event_emitter = TokioEventEmitter::new();
//!     event_emitter.emit("StringEvent")?; // returns after both callbacks ran
//! #   assert_eq!(RAN.load(Ordering::SeqCst), 2);
//!     Ok(())
//! }
//! ```
//!
//! # Async context
//!
//! The seed's second example: inside a runtime, `emit` schedules the emission on it and
//! returns at once. Where Pyventus sleeps for half a second so the loop stays up long
//! enough, [`wait_for_tasks`](EventEmitter::wait_for_tasks) waits exactly as long as the
//! emissions in flight take. Without a wait, handlers still unfinished when the runtime
//! shuts down are cancelled, as asyncio cancels tasks when its loop closes.
//!
//! ```
//! use ventus::{EventLinker, TokioEventEmitter};
//! # use std::sync::atomic::{AtomicUsize, Ordering};
//! # static RAN: AtomicUsize = AtomicUsize::new(0);
//!
//! fn sync_event_callback() {
//!     println!("Sync event callback!");
//! #   RAN.fetch_add(1, Ordering::SeqCst);
//! }
//!
//! async fn async_event_callback() {
//!     println!("Async event callback!");
//! #   RAN.fetch_add(1, Ordering::SeqCst);
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let linker = EventLinker::builder().build()?; // or EventLinker::global()
//!     linker.on("StringEvent").subscribe(sync_event_callback)?;
//!     linker.on("StringEvent").subscribe(async_event_callback)?;
//!
//!     let event_emitter = TokioEventEmitter::with_linker(&linker);
//!     event_emitter.emit("StringEvent")?; // scheduled on this runtime; returns at once
//!     event_emitter.wait_for_tasks().await; // instead of `asyncio.sleep(0.5)`
//! #   assert_eq!(RAN.load(Ordering::SeqCst), 2);
//!     Ok(())
//! }
//! ```
//!
//! # Concepts
//!
//! - **Linker** — [`EventLinker`] holds which handlers are linked to which events.
//!   [`EventLinker::global`] is the default namespace; [`EventLinker::builder`] makes
//!   separate ones with their own `max_subscribers`, default callbacks and debug switch.
//!   It knows nothing about how emissions run.
//! - **Handlers** — any sync or async function or closure with no argument or one payload
//!   argument ([`Handler`]). [`EventLinker::on`] (or [`on_event`](EventLinker::on_event),
//!   [`on_error`](EventLinker::on_error), [`on_any`](EventLinker::on_any)) starts a
//!   [`SubscribeBuilder`] with `on_success`, `on_failure`, `once` and `blocking` steps;
//!   [`subscribe`](SubscribeBuilder::subscribe) returns a [`Subscription`] handle.
//! - **Emitter and processor** — [`EventEmitter`] resolves the handlers linked to an event
//!   (and to "any event"), claims once-subscriptions, and hands an [`Emission`] to its
//!   [`Processor`]. [`TokioEventEmitter`] is `EventEmitter<TokioProcessor>`; a processor
//!   of your own is a small object-safe trait.
//! - **Emission** — one emit: its [`EmissionId`], time, event name, payload and handlers.
//!   Handlers start in subscription order and run concurrently; one handler's error or
//!   panic goes to its failure callback as a [`HandlerError`] and never stops the others.
//!
//! # Feature flags
//!
//! tokio is a required dependency and [`TokioEventEmitter`] is always available.
//!
//! | Feature | Default | Enables |
//! |---|---|---|
//! | `macros` | on | declarative registration: [`on`], [`once`], [`derive(Event)`](derive@Event), [`linker!`] and [`NamedLinker`] (adds `ventus-macros` and `inventory`) |
//! | `thread-pool` | on | `ThreadPoolEventEmitter` and `ThreadPoolProcessor` (Pyventus's `ExecutorEventEmitter`): emissions run on a pool of worker threads, with `shutdown(wait)` and shutdown on drop |
//!
//! Companion crates: `ventus-axum` runs the emissions a request handler makes after its
//! response is produced. Planned, not yet available: a Redis Streams emitter.
//!
//! # Main types
//!
//! - [`EventLinker`], [`EventLinkerBuilder`] — namespaces of events and subscribers.
//! - [`SubscribeBuilder`], [`Subscription`], [`SubscriptionGuard`] — subscribing and
//!   unsubscribing.
//! - [`Handler`], [`HandlerOutput`], [`HandlerError`], [`AnyEvent`] — what a handler is,
//!   returns, fails with, and sees of any emission.
//! - [`Event`], [`EventKey`], [`EventTarget`] — typed events, typed keys, and what a
//!   handler can be linked to.
//! - [`EventEmitter`], [`TokioEventEmitter`], [`Processor`], [`TokioProcessor`],
//!   [`Emission`] — emitting, and where emissions run.
//! - [`Emitted`], [`EmissionReport`], [`EmitterMetrics`], [`Overflow`], [`EmitPermit`],
//!   [`ShutdownReport`] — emission control: awaiting or cancelling an emission, reports,
//!   counters, backpressure and graceful shutdown.
//! - `ThreadPoolEventEmitter`, `ThreadPoolProcessor` — emissions on worker threads
//!   (feature `thread-pool`).
//! - [`Next`] — awaiting the next emission of an event ([`EventLinker::next`] and its
//!   typed forms), with a timeout, a blocking `wait` for sync code, and no subscriber left
//!   behind when it is dropped.
//! - [`SubscribeError`], [`BuildError`], [`EmitError`], [`ProcessError`], [`NextError`] —
//!   one error type per operation.
//! - [`on`], [`once`], [`derive(Event)`](derive@Event), [`linker!`], [`NamedLinker`] —
//!   declarative registration (feature `macros`): handlers linked at start-up by attribute.
//! - [`plumbing`] — the marker types and builder states that appear in bounds and type
//!   parameters, for code generic over handlers.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod emission;
mod emitter;
mod event;
mod handler;
mod linker;
pub mod plumbing;
mod processor;

pub use crate::emission::settings::Overflow;
pub use crate::emission::{
    Canceller, Counts, Emission, EmissionFilter, EmissionReport, EmissionView, Emitted,
    EmitterMetrics, HandlerHook, HandlerInfo, HandlerReport, Outcome, Verdict,
};
#[cfg(feature = "thread-pool")]
#[cfg_attr(docsrs, doc(cfg(feature = "thread-pool")))]
pub use crate::emitter::ThreadPoolEventEmitter;
pub use crate::emitter::{
    Collision, EmitError, EmitPermit, EventEmitter, EventEmitterBuilder, Filtered, PayloadMismatch,
    Rejected, TokioEventEmitter,
};
pub use crate::event::{
    EmissionId, Event, EventKey, EventName, EventTarget, IntoEvents, InvalidEventName,
    SubscriptionId,
};
pub use crate::handler::{
    AnyEvent, BoxError, Handler, HandlerError, HandlerErrorKind, HandlerOutput, Value,
};
pub use crate::linker::{
    BuildError, EventLinker, EventLinkerBuilder, EventStream, Lagged, Next, NextError,
    StreamOverflow, SubscribeError,
};
pub use crate::linker::{SubscribeBuilder, Subscription, SubscriptionGuard};
pub use crate::processor::{ProcessError, Processor, ShutdownReport, TokioProcessor};
#[cfg(feature = "thread-pool")]
#[cfg_attr(docsrs, doc(cfg(feature = "thread-pool")))]
pub use crate::processor::{ThreadPoolBuilder, ThreadPoolProcessor};
pub use tokio_util::sync::CancellationToken;

// Declarative registration (feature `macros`).
#[cfg(feature = "macros")]
#[doc(hidden)]
pub use crate::linker::declared::__private;
#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use crate::linker::declared::NamedLinker;
#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use ventus_macros::{linker, on, once, Event};

/// Every Rust block of the README, compiled and run as a doc test so the README cannot
/// drift from the API.
#[cfg(all(doctest, feature = "macros", feature = "thread-pool"))]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
