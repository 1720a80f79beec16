//! The lean path: a sync-context emission that needs none of the emission machinery.
//!
//! Most emissions in sync code are "call these sync handlers with this payload, now".
//! When nothing about an emission asks for more, the emitter runs it right in `emit`'s
//! frame instead of building an [`Emission`](super::Emission) and handing it to the
//! processor. What it skips, and the condition that lets it skip it:
//!
//! | skipped | because |
//! |---|---|
//! | the processor call | the processor says the emission would run inline here ([`Processor::runs_inline`](crate::Processor::runs_inline)) |
//! | spans and handler timing | `tracing` does not enable the emission spans (`DEBUG`), no timeout applies, reports are not detailed |
//! | the `Arc` around the payload | no handler takes [`AnyEvent`](crate::AnyEvent) or is `blocking` |
//! | the `max_in_flight` permit and the debug log | the emitter has neither |
//!
//! The handlers, their order, once-claims, success and failure callbacks, panics caught,
//! metrics and the report's counts are the same as on the full path; the tests in
//! `tests/` run both.

use std::sync::{Arc, OnceLock};

use std::any::Any;

use super::calls::{fail, walk_caught};
use super::claims::{claim_once, name_ref, no_handler};
use super::handle::Emitted;
use super::report::{Counts, Outcome};
use super::settings::EmitterShared;
use crate::event::{next_emission_id, EmissionId};
use crate::handler::{drop_caught, panic_message, Ctx, ErasedCall, HandlerErrorKind};
use crate::linker::registry::EventEntry;
use crate::linker::LinkerInner;

/// Runs a lean emission of `direct` and `any` (entries of sync handlers only) in the
/// caller's frame. If only once-subscribers claimed earlier are left, that is the same
/// as no handler.
#[inline]
pub(crate) fn run_lean<T: Send + Sync + 'static>(
    shared: &EmitterShared,
    linker: &LinkerInner,
    event: &str,
    static_name: Option<&'static str>,
    payload: Option<T>,
    direct: Option<&Arc<EventEntry>>,
    any: Option<&Arc<EventEntry>>,
) -> Emitted {
    let id = next_emission_id();
    if (direct.is_some_and(|e| e.has_once) || any.is_some_and(|e| e.has_once))
        && claim_once(Some(&linker.registry), id, direct, any).is_none()
    {
        return Emitted::done(no_handler(shared, event, static_name));
    }
    let name = name_ref(event, static_name, direct);
    let time = OnceLock::new();
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
    shared.metrics.emitted_and_record(&counts);
    drop_caught("a payload", payload);
    Emitted::counted(EmissionId(id), name.into_report(), counts)
}
