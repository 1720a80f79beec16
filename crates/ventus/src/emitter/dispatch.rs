//! The emitter's internals: checking an emission, looking its handlers up, and sending
//! it down one of its paths (see `docs/architecture.md`).

use std::any::{type_name, TypeId};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use tokio::sync::{OwnedSemaphorePermit, TryAcquireError};

use super::error::{Collision, EmitError, Filtered, PayloadMismatch, Rejected};
use super::EventEmitter;
use crate::emission::awaited::{self, Running};
use crate::emission::claims::{claim_once, name_ref, no_handler, settle_claims, Flags};
use crate::emission::filter::{EmissionView, Filter, Verdict};
use crate::emission::inline::run_lean;
use crate::emission::settings::{Limit, Overflow, HOLDING};
use crate::emission::{spans_enabled, Emission, EmissionReport, Emitted, PayloadSlot, Shared};
use crate::event::{next_emission_id, EmissionId, EventName, EventType};
use crate::handler::drop_caught;
use crate::linker::registry::EventEntry;
use crate::processor::{ProcessError, Processor};

/// Where [`EventEmitter::route`] sends a sync-context emission.
enum Route {
    /// Every handler is sync: run here, in `emit`'s frame (`run_lean`).
    Lean,
    /// Async handlers that fit `run`'s lean path: run as `run` would, driven by the
    /// processor on this thread (`EventEmitter::drive`).
    Drive,
    /// Build an `Emission` and hand it to the processor.
    Full,
}

/// What one poll of the lean awaited path came to.
enum Step {
    /// The emission ended (or was refused); this is `run`'s result.
    Done(Result<EmissionReport, EmitError>),
    /// The emission needs the full path; nothing was done.
    Full,
}

impl<P: Processor + ?Sized> EventEmitter<P> {
    pub(super) async fn run_inner<T: Send + Sync + 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<T>,
        typed: bool,
    ) -> Result<EmissionReport, EmitError> {
        if self.shared.lean {
            // The payload stays in this future; the first pass borrows it.
            let mut running = None;
            let step = std::future::poll_fn(|cx| {
                let payload = payload.as_ref();
                self.poll_awaited(cx, &mut running, event, static_name, payload, typed)
            })
            .await;
            if let Step::Done(result) = step {
                // The first pass only borrowed the payload: a refusal hands it back here.
                return match result {
                    Ok(report) => {
                        drop_caught("a payload", payload);
                        Ok(report)
                    }
                    Err(err) => Err(err.with_payload(payload)),
                };
            }
        }
        // Boxed: its state is about 2 KB, and every `run` future would otherwise be as
        // large, which the lean path's callers would pay for in moves.
        Box::pin(self.run_full(event, static_name, payload, typed)).await
    }

    /// `run` on the full path: an owned [`Emission`] run in this task.
    async fn run_full<T: Send + Sync + 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<T>,
        typed: bool,
    ) -> Result<EmissionReport, EmitError> {
        let permit = match &self.shared.limit {
            Some(_) => self.reserve().await?.permit,
            None => None,
        };
        let detailed = self.shared.detailed;
        let emitted = match &self.shared.order {
            // Its turn comes in the queue, on the processor; `resolve` settles its
            // once-claims as taken.
            Some(order) => {
                self.resolve(event, static_name, payload, permit, detailed, typed, |e| {
                    e.map(|e| {
                        let (emission, emitted) = e.track_ordered();
                        order.submit(emission);
                        emitted
                    })
                })?
            }
            None => {
                let emission =
                    self.resolve(event, static_name, payload, permit, detailed, typed, |e| {
                        e.map(Emission::into_owned)
                    })?;
                match emission {
                    Some(emission) => Some(emission.run_report().await),
                    None => None,
                }
            }
        };
        let Some(emitted) = emitted else {
            return Ok(self.no_handler(event, static_name));
        };
        if self.shared.order.is_some() {
            return Ok(emitted.await);
        }
        // Untracked emissions come back finished.
        emitted.wait().map_err(|_| {
            EmitError::Processor("an emission run in the calling task did not finish".into())
        })
    }

    pub(super) fn name_of(&self, event: &str, static_name: Option<&'static str>) -> EventName {
        match static_name {
            Some(name) => EventName::from_static(name),
            None => EventName::from_arc(Arc::from(event)),
        }
    }

    /// Emits `event`; `typed` for a typed event (`T` is its type), which is refused if
    /// the name belongs to another type.
    pub(super) fn dispatch<T: Send + Sync + 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<T>,
        permit: Option<OwnedSemaphorePermit>,
        typed: bool,
    ) -> Result<Emitted, EmitError> {
        self.check(event, static_name)?;
        if !crate::linker::registry::map_usable() {
            return self.dispatch_elsewhere(event, static_name, payload, permit, typed);
        }
        let mut payload = payload;
        let permit = match (permit, &self.shared.limit) {
            (None, None) => None,
            (Some(permit), _) => Some(permit),
            (None, Some(limit)) => {
                Some(self.take_place(limit, event, static_name, &mut payload)?)
            }
        };
        let registry = &self.linker.inner.registry;
        let pins = registry.pin();
        let (direct, any) = registry.lookup(event, &pins);
        if direct.is_none() && any.is_none() {
            return Ok(Emitted::done(self.no_handler(event, static_name)));
        }
        if let Err(err) = self.admit::<T>(event, static_name, typed, payload.is_some(), direct) {
            return Err(err.with_payload(payload));
        }
        if permit.is_none() {
            match self.route(direct, any) {
                Route::Lean => {
                    let linker = &*self.linker.inner;
                    let shared = &self.shared;
                    return Ok(run_lean(
                        shared,
                        linker,
                        event,
                        static_name,
                        payload,
                        direct,
                        any,
                    ));
                }
                Route::Drive => {
                    match self.drive(event, static_name, payload.as_ref(), direct, any) {
                        Ok(Some(emitted)) => {
                            drop_caught("a payload", payload);
                            return Ok(emitted);
                        }
                        Ok(None) => {}
                        Err(err) => {
                            drop_caught("a payload", payload);
                            return Err(err);
                        }
                    }
                }
                Route::Full => {}
            }
        }
        self.process(event, static_name, payload, permit, direct, any)
    }

    /// `dispatch` from a thread whose thread-locals are being destroyed: the emission is
    /// made on a helper thread, a sync context, and returns when it would there (after its
    /// handlers ran, with the tokio emitter).
    #[cold]
    #[inline(never)]
    fn dispatch_elsewhere<T: Send + Sync + 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<T>,
        permit: Option<OwnedSemaphorePermit>,
        typed: bool,
    ) -> Result<Emitted, EmitError> {
        crate::linker::registry::elsewhere(|| {
            self.dispatch(event, static_name, payload, permit, typed)
        })
    }

    /// A sync-context emission with async handlers, run as `run` runs one (the lean
    /// awaited path, `emission/awaited.rs`) and driven by the processor on this thread
    /// ([`Processor::drive_inline`]). `None` if the processor does not drive emissions;
    /// nothing was done then.
    #[inline(never)]
    fn drive<T: Send + Sync + 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<&T>,
        direct: Option<&Arc<EventEntry>>,
        any: Option<&Arc<EventEntry>>,
    ) -> Result<Option<Emitted>, EmitError> {
        let mut running = None;
        let mut step = None;
        let driven = self.processor.drive_inline(&mut |cx| {
            let polled = if running.is_none() && step.is_none() {
                self.first_pass_on(cx, &mut running, event, static_name, payload, direct, any)
            } else {
                self.poll_awaited(cx, &mut running, event, static_name, payload, false)
            };
            match polled {
                Poll::Ready(done) => {
                    step = Some(done);
                    Poll::Ready(())
                }
                Poll::Pending => Poll::Pending,
            }
        });
        match driven {
            Ok(false) => Ok(None),
            Err(ProcessError::Closed) => Err(EmitError::Closed {
                event: self.name_of(event, static_name),
            }),
            Err(ProcessError::Failed(err)) => Err(EmitError::Processor(err)),
            Ok(true) => match step {
                Some(Step::Done(report)) => report.map(|r| Some(Emitted::done(r))),
                // The first pass was given entries fit for it, so it never asks for the
                // full path; a processor that returned without driving to the end lands
                // here too.
                Some(Step::Full) | None => Err(EmitError::Processor(
                    "the processor returned before the emission it drove had finished".into(),
                )),
            },
        }
    }

    /// The full path of `dispatch`: builds the emission and hands it to the processor.
    /// Kept out of line so the lean path stays small.
    #[inline(never)]
    fn process<T: Send + Sync + 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<T>,
        permit: Option<OwnedSemaphorePermit>,
        direct: Option<&Arc<EventEntry>>,
        any: Option<&Arc<EventEntry>>,
    ) -> Result<Emitted, EmitError> {
        let mut slot = payload;
        let detailed = self.shared.detailed;
        let id = self.screened_id(event, static_name, &mut slot)?;
        // The processor may refuse the emission: its once-claims are told to the registry
        // only once that is known (see `settle_claims`).
        let Some(emission) = self.build(
            id,
            event,
            static_name,
            &mut slot,
            permit,
            detailed,
            direct,
            any,
        ) else {
            return Ok(Emitted::done(self.no_handler(event, static_name)));
        };
        let id = emission.id.0;
        if let Some(order) = &self.shared.order {
            let (emission, emitted) = emission.track_ordered();
            self.submit_ordered(order, emission, id, direct, any);
            // Shared into the emission: nothing is left here but an unshared payload.
            drop_caught("a payload", slot);
            return Ok(emitted);
        }
        // An emission with a place marks its thread as holding it while its handlers
        // run (`HOLDING`), wherever the processor runs it.
        // A panicking processor is a refusal like any other, not a panic of `emit`.
        let processed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.processor.process(emission)
        }));
        let has_once = direct.is_some_and(|e| e.has_once) || any.is_some_and(|e| e.has_once);
        if has_once {
            let refused = !matches!(processed, Ok(Ok(_)));
            settle_claims(&self.linker.inner.registry, id, refused, direct, any);
        }
        let result = match processed {
            Ok(Ok(emitted)) => Ok(emitted),
            Ok(Err(ProcessError::Closed)) => Err(EmitError::Closed {
                event: self.name_of(event, static_name),
            }),
            Ok(Err(ProcessError::Failed(err))) => Err(EmitError::Processor(err)),
            Err(panic) => Err(self.processor_panicked(&*panic)),
        };
        // Still here if the emission ran in this frame (or was refused) without sharing it.
        drop_caught("a payload", slot);
        result
    }

    #[cold]
    fn processor_panicked(&self, panic: &(dyn std::any::Any + Send)) -> EmitError {
        let message = crate::handler::panic_message(panic);
        tracing::error!(
            processor = type_name::<P>(),
            panic = %message,
            "ventus processor panicked; the emission was refused"
        );
        EmitError::Processor(format!("the processor panicked: {message}").into())
    }

    /// The refusal of a typed event of type `T` whose name is `linked`'s.
    #[cold]
    #[inline(never)]
    fn collision<T: 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        linked: EventType,
    ) -> EmitError {
        EmitError::NameCollision(Collision {
            event: self.name_of(event, static_name),
            linked: linked.name(),
            emitted: type_name::<T>(),
            payload: None,
        })
    }

    /// A place under `limit` for an emission of `event`, or the error that says why there
    /// is none (the payload handed back in it).
    #[cold]
    fn take_place<T: Send + Sync + 'static>(
        &self,
        limit: &Limit,
        event: &str,
        static_name: Option<&'static str>,
        payload: &mut Option<T>,
    ) -> Result<OwnedSemaphorePermit, EmitError> {
        match self.acquire(limit) {
            Some(permit) => Ok(permit),
            None if self.is_closed() => Err(EmitError::Closed {
                event: self.name_of(event, static_name),
            }),
            None => Err(EmitError::Full(Rejected {
                event: self.name_of(event, static_name),
                limit: limit.max,
                payload: payload
                    .take()
                    .map(|p| Box::new(p) as Box<dyn std::any::Any + Send + Sync>),
            })),
        }
    }

    /// Takes a place under `limit` without waiting, or, under [`Overflow::Wait`] on a
    /// thread with no runtime, waiting for one. `None`: no room (or closed).
    fn acquire(&self, limit: &Limit) -> Option<OwnedSemaphorePermit> {
        match limit.permits.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(TryAcquireError::Closed) => None,
            Err(TryAcquireError::NoPermits) => {
                // Waiting is refused where it could never end: on a runtime thread, and
                // inside a handler of this emitter running on this thread (on any
                // processor's thread: a pool worker too), whose own emission holds one of
                // the places waited for.
                let can_block = limit.overflow == Overflow::Wait
                    && tokio::runtime::Handle::try_current().is_err()
                    // Unknown during thread-local destruction: taken as held.
                    && !HOLDING
                        .try_with(|held| held.borrow().contains(&limit.id()))
                        .unwrap_or(true);
                if !can_block {
                    return None;
                }
                // No runtime here, so blocking this thread blocks no task.
                limit.acquire_blocking()
            }
        }
    }

    /// Refuses an empty event name and a closed emitter.
    #[inline]
    pub(super) fn check(
        &self,
        event: &str,
        static_name: Option<&'static str>,
    ) -> Result<(), EmitError> {
        if event.is_empty() || self.is_closed() {
            return Err(self.refusal(event, static_name));
        }
        Ok(())
    }

    #[cold]
    fn refusal(&self, event: &str, static_name: Option<&'static str>) -> EmitError {
        if event.is_empty() {
            EmitError::EmptyEventName
        } else {
            EmitError::Closed {
                event: self.name_of(event, static_name),
            }
        }
    }

    /// The checks an emission of a `T` (or of no payload) passes once its event is
    /// looked up: a typed emission of a name that belongs to another type is refused (see
    /// [`Collision`]), and so is a payload none of the event's handlers takes (see
    /// [`PayloadMismatch`]). The error carries no payload: the caller, which owns it,
    /// hands it back with [`EmitError::with_payload`].
    #[inline]
    pub(super) fn admit<T: 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        typed: bool,
        has_payload: bool,
        direct: Option<&Arc<EventEntry>>,
    ) -> Result<(), EmitError> {
        let Some(entry) = direct else { return Ok(()) };
        let collides = typed
            && entry
                .event_type_id
                .is_some_and(|id| id != TypeId::of::<T>());
        if collides || !entry.accepts(has_payload.then(TypeId::of::<T>)) {
            return Err(self.refusal_of::<T>(event, static_name, entry, collides, has_payload));
        }
        Ok(())
    }

    /// The error of an emission `admit` refused.
    #[cold]
    #[inline(never)]
    fn refusal_of<T: 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        entry: &EventEntry,
        collides: bool,
        has_payload: bool,
    ) -> EmitError {
        match entry.event_type.filter(|_| collides) {
            Some(linked) => self.collision::<T>(event, static_name, linked),
            None => self.mismatch(event, static_name, entry, has_payload.then(type_name::<T>)),
        }
    }

    /// The refusal of an emission whose payload (of type `given`) none of `entry`'s
    /// handlers takes.
    #[cold]
    #[inline(never)]
    fn mismatch(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        entry: &EventEntry,
        given: Option<&'static str>,
    ) -> EmitError {
        let mismatch = PayloadMismatch {
            event: self.name_of(event, static_name),
            expected: entry.takes.iter().map(|t| t.name()).collect(),
            given,
            payload: None,
        };
        tracing::debug!(event, error = %mismatch, "ventus emit refused");
        EmitError::PayloadType(mismatch)
    }

    /// The report of an emission that found no handler (see [`no_handler`]).
    #[inline]
    pub(super) fn no_handler(
        &self,
        event: &str,
        static_name: Option<&'static str>,
    ) -> EmissionReport {
        no_handler(&self.shared, event, static_name)
    }

    /// Resolves the handlers of `event` and hands the emission to `then` (`None` when no
    /// handler is linked). The emission borrows this frame; `then` runs or owns it.
    #[allow(clippy::too_many_arguments)]
    fn resolve<T: Send + Sync + 'static, R>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<T>,
        permit: Option<OwnedSemaphorePermit>,
        detailed: bool,
        typed: bool,
        then: impl FnOnce(Option<Emission<'_>>) -> Option<R>,
    ) -> Result<Option<R>, EmitError> {
        self.check(event, static_name)?;
        let registry = &self.linker.inner.registry;
        let pins = registry.pin();
        let (direct, any) = registry.lookup(event, &pins);
        // The caller counts an emission that finds no handler (`no_handler`).
        if direct.is_none() && any.is_none() {
            return Ok(then(None));
        }
        if let Err(err) = self.admit::<T>(event, static_name, typed, payload.is_some(), direct) {
            return Err(err.with_payload(payload));
        }
        let mut slot = payload;
        let id = self.screened_id(event, static_name, &mut slot)?;
        let Some(emission) = self.build(
            id,
            event,
            static_name,
            &mut slot,
            permit,
            detailed,
            direct,
            any,
        ) else {
            return Ok(then(None));
        };
        let id = emission.id.0;
        let out = then(Some(emission));
        // `then` ran or owns the emission; nothing can refuse it any more.
        if direct.is_some_and(|e| e.has_once) || any.is_some_and(|e| e.has_once) {
            settle_claims(&self.linker.inner.registry, id, false, direct, any);
        }
        Ok(out)
    }

    /// The emission of `event` to `direct` and `any`, borrowing `slot` and the snapshots;
    /// its once-subscribers are claimed for it, and the caller ends the claims with
    /// [`settle_claims`] once the emission was taken or refused. `None` if no handler can
    /// run (only once-subscribers claimed earlier are left): the same as no handler linked.
    #[allow(clippy::too_many_arguments)]
    fn build<'a, T: Send + Sync + 'static>(
        &'a self,
        id: u64,
        event: &str,
        static_name: Option<&'static str>,
        slot: &'a mut Option<T>,
        permit: Option<OwnedSemaphorePermit>,
        detailed: bool,
        direct: Option<&'a Arc<EventEntry>>,
        any: Option<&'a Arc<EventEntry>>,
    ) -> Option<Emission<'a>> {
        // Once-subscribers are claimed now, so an emission owns them even if it runs later.
        let has_once = direct.is_some_and(|e| e.has_once) || any.is_some_and(|e| e.has_once);
        let flags = if has_once {
            claim_once(None, id, direct, any)?
        } else {
            // No once-subscriber, so no claimed one: the entries' flags hold.
            Flags {
                inline: direct.is_none_or(|e| e.inline) && any.is_none_or(|e| e.inline),
                needs_shared: direct.is_some_and(|e| e.needs_shared)
                    || any.is_some_and(|e| e.needs_shared),
            }
        };
        self.shared.metrics.emitted();
        let name = name_ref(event, static_name, direct);

        let payload_type = slot.is_some().then(type_name::<T>);
        let payload = if slot.is_some() {
            PayloadSlot::Borrowed(slot)
        } else {
            PayloadSlot::None
        };
        let mut emission = Emission {
            id: EmissionId(id),
            time: OnceLock::new(),
            event: name,
            payload,
            payload_type,
            direct: direct.map(Shared::Borrowed),
            any: any.map(Shared::Borrowed),
            inline: flags.inline,
            needs_shared: flags.needs_shared,
            linker: Shared::Borrowed(&self.linker.inner),
            emitter: Shared::Borrowed(&self.shared),
            detailed,
            tracker: None,
            permit,
            turn: None,
        };
        emission.prepare();
        if self.shared.debug {
            tracing::debug!(
                event,
                emission = id,
                handlers = emission.handler_count(),
                context = if tokio::runtime::Handle::try_current().is_ok() {
                    "async"
                } else {
                    "sync"
                },
                linker = self.linker.inner.name.as_deref().unwrap_or(""),
                "ventus emit"
            );
        }
        Some(emission)
    }

    /// Asks the emitter's filter about emission `id` of `event`, before any of its
    /// once-subscribers is claimed (so a dropped emission leaves them linked). A drop is
    /// counted and refused with [`EmitError::Filtered`], the payload handed back in it
    /// (taken out of `slot`). Only the full path gets here: an emitter with a filter is
    /// not `lean`.
    #[cold]
    #[inline(never)]
    /// The id of a new emission, once the emitter's filter (if any) let it pass.
    fn screened_id<T: Send + Sync + 'static>(
        &self,
        event: &str,
        static_name: Option<&'static str>,
        slot: &mut Option<T>,
    ) -> Result<u64, EmitError> {
        let id = next_emission_id();
        if let Some(filter) = &self.shared.filter {
            self.screen(filter, id, event, static_name, slot)?;
        }
        Ok(id)
    }

    fn screen<T: Send + Sync + 'static>(
        &self,
        filter: &Filter,
        id: u64,
        event: &str,
        static_name: Option<&'static str>,
        slot: &mut Option<T>,
    ) -> Result<(), EmitError> {
        let view = EmissionView {
            event,
            emission: EmissionId(id),
            payload: slot
                .as_ref()
                .map(|p| p as &(dyn std::any::Any + Send + Sync)),
            payload_type: slot.is_some().then(type_name::<T>),
        };
        let Verdict::Drop(reason) = filter.judge(&view) else {
            return Ok(());
        };
        self.shared.metrics.filtered();
        let filtered = EmitError::Filtered(Filtered {
            event: self.name_of(event, static_name),
            emission: EmissionId(id),
            reason,
            payload: None,
        });
        Err(filtered.with_payload(slot.take()))
    }

    /// How a sync-context emission to `direct` and `any` may run without the full
    /// path: one decision per emission, cheapest checks first.
    #[inline]
    fn route(&self, direct: Option<&Arc<EventEntry>>, any: Option<&Arc<EventEntry>>) -> Route {
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

    /// Whether an awaited emission to `direct` and `any` may take the lean awaited path.
    #[inline]
    fn can_run_awaited(
        &self,
        direct: Option<&Arc<EventEntry>>,
        any: Option<&Arc<EventEntry>>,
    ) -> bool {
        self.shared.lean
            && direct.is_none_or(|e| e.lean_run)
            && any.is_none_or(|e| e.lean_run)
            && !spans_enabled()
    }

    /// One poll of a lean awaited emission: the first pass when `running` is `None`,
    /// then the handlers it left running.
    fn poll_awaited<T: Send + Sync + 'static>(
        &self,
        cx: &mut Context<'_>,
        running: &mut Option<Running>,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<&T>,
        typed: bool,
    ) -> Poll<Step> {
        match running {
            Some(run) => awaited::poll_running(&self.shared, &self.linker.inner, cx, run)
                .map(|report| Step::Done(Ok(report))),
            None => self.first_pass(cx, running, event, static_name, payload, typed),
        }
    }

    fn first_pass<T: Send + Sync + 'static>(
        &self,
        cx: &mut Context<'_>,
        running: &mut Option<Running>,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<&T>,
        typed: bool,
    ) -> Poll<Step> {
        if let Err(err) = self.check(event, static_name) {
            return Poll::Ready(Step::Done(Err(err)));
        }
        // Pins the snapshots for this poll only: the guard is `!Send`, and the `run`
        // future must stay `Send`.
        let registry = &self.linker.inner.registry;
        let pins = registry.pin();
        let (direct, any) = registry.lookup(event, &pins);
        if direct.is_none() && any.is_none() {
            return self.no_handler_step(event, static_name);
        }
        // `run` owns the payload and hands it back in a refusal.
        if let Err(err) = self.admit::<T>(event, static_name, typed, payload.is_some(), direct) {
            return Poll::Ready(Step::Done(Err(err)));
        }
        if !self.can_run_awaited(direct, any) {
            return Poll::Ready(Step::Full);
        }
        self.first_pass_on(cx, running, event, static_name, payload, direct, any)
    }

    /// The end of an awaited emission that found no handler to run; its report carries
    /// the name, as on the full path.
    fn no_handler_step(&self, event: &str, static_name: Option<&'static str>) -> Poll<Step> {
        Poll::Ready(Step::Done(Ok(self.no_handler(event, static_name))))
    }

    /// The first pass of the lean awaited path over `direct` and `any`, which the
    /// caller looked up and found fit for it.
    #[allow(clippy::too_many_arguments)]
    fn first_pass_on<T: Send + Sync + 'static>(
        &self,
        cx: &mut Context<'_>,
        running: &mut Option<Running>,
        event: &str,
        static_name: Option<&'static str>,
        payload: Option<&T>,
        direct: Option<&Arc<EventEntry>>,
        any: Option<&Arc<EventEntry>>,
    ) -> Poll<Step> {
        let linker = &*self.linker.inner;
        let shared = &self.shared;
        match awaited::first_pass(
            shared,
            linker,
            cx,
            running,
            event,
            static_name,
            payload,
            direct,
            any,
        ) {
            Poll::Ready(report) => Poll::Ready(Step::Done(Ok(report))),
            Poll::Pending => Poll::Pending,
        }
    }
}
