//! The lean path: a sync-context emission that needs none of the emission machinery.
//!
//! Most emissions in sync code are "call these sync handlers with this payload, now".
//! When nothing about an emission asks for more, the emitter runs it right in `emit`'s
//! frame instead of building an [`Emission`](super::Emission) and handing it to the
//! processor. What it skips, and the condition that lets it skip it:
//!
//! | skipped | because |
//! |---|---|
//! | the processor call | the processor says the emission would run inline here ([`Processor::runs_inline`]) |
//! | spans and handler timing | `tracing` does not enable the emission spans (`DEBUG`), no timeout applies, reports are not detailed |
//! | the `Arc` around the payload | no handler takes [`AnyEvent`](crate::AnyEvent) or is `blocking` |
//! | the `max_in_flight` permit and the debug log | the emitter has neither |
//!
//! The handlers, their order, once-claims, success and failure callbacks, panics caught,
//! metrics and the report's counts are the same as on the full path; the tests in
//! `tests/` run both.

use std::sync::{Arc, OnceLock};

use std::any::Any;

use super::emission::{fail, spans_enabled, walk_caught};
use super::report::{Counts, Outcome};
use super::{claim_once, name_ref, next_emission_id, EmissionId, Emitted, EventEmitter};
use crate::handler::{panic_message, Ctx, ErasedCall, HandlerErrorKind};
use crate::linker::registry::EventEntry;
use crate::processor::Processor;

/// Where [`EventEmitter::route`] sends a sync-context emission.
pub(super) enum Route {
    /// Every handler is sync: run here, in `emit`'s frame (`run_lean`).
    Lean,
    /// Async handlers that fit `run`'s lean path: run as `run` would, driven by the
    /// processor on this thread (`EventEmitter::drive`).
    Drive,
    /// Build an `Emission` and hand it to the processor.
    Full,
}

impl<P: Processor + ?Sized> EventEmitter<P> {
    /// How a sync-context emission to `direct` and `any` may run without the full
    /// path: one decision per emission, cheapest checks first.
    #[inline]
    pub(super) fn route(
        &self,
        direct: Option<&Arc<EventEntry>>,
        any: Option<&Arc<EventEntry>>,
    ) -> Route {
        if !self.shared.lean {
            return Route::Full;
        }
        let route = if direct.is_none_or(|e| e.lean) && any.is_none_or(|e| e.lean) {
            Route::Lean
        } else if direct.is_none_or(|e| e.lean_run && !e.has_once)
            && any.is_none_or(|e| e.lean_run && !e.has_once)
        {
            // Not with once-subscribers: claimed ones may linger in the snapshot, and
            // whether the emission needs a runtime at all is only known once they are
            // told apart (the full path does that).
            Route::Drive
        } else {
            return Route::Full;
        };
        if spans_enabled() || !self.processor.runs_inline() {
            return Route::Full;
        }
        route
    }

    /// Runs the handlers of `direct` and `any` here and now; see the module docs.
    #[inline]
    pub(super) fn run_lean<T: Send + Sync + 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<T>,
        direct: Option<&Arc<EventEntry>>,
        any: Option<&Arc<EventEntry>>,
    ) -> Emitted {
        let id = next_emission_id();
        if (direct.is_some_and(|e| e.has_once) || any.is_some_and(|e| e.has_once))
            && claim_once(Some(&self.linker.inner.registry), id, direct, any).is_none()
        {
            // Only once-subscribers claimed earlier are left: the same as no handler.
            return Emitted::done(self.no_handler(event, static_name));
        }
        let name = name_ref(event, static_name, direct);
        let time = OnceLock::new();
        let linker = &*self.linker.inner;
        let ctx = Ctx::new(
            &name,
            EmissionId(id),
            &time,
            payload.as_ref().map(|p| p as &(dyn Any + Send + Sync)),
            payload.as_ref().map(|_| std::any::type_name::<T>()),
            None,
            linker.on_success.as_ref(),
        );
        let mut counts = Counts::default();
        walk_caught(
            direct,
            any,
            &mut counts,
            |counts, sub| {
                if !sub.state.start(sub.once, id) {
                    return;
                }
                // Lean entries hold sync handlers only; entries never change once built.
                let ErasedCall::Sync(call) = &sub.handler.call else {
                    return;
                };
                match call(&ctx) {
                    Ok(()) => counts.succeeded += 1,
                    Err(kind) => counts.add(&Outcome::Failed(fail(
                        &name,
                        EmissionId(id),
                        linker,
                        sub,
                        kind,
                    ))),
                }
            },
            |counts, sub, panic| {
                let kind = HandlerErrorKind::Panicked(panic_message(&*panic));
                counts.add(&Outcome::Failed(fail(
                    &name,
                    EmissionId(id),
                    linker,
                    sub,
                    kind,
                )));
            },
        );
        self.shared.metrics.emitted_and_record(&counts);
        Emitted::counted(EmissionId(id), name.into_report(), counts)
    }
}
