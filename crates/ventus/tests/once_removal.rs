//! What a claimed once-subscriber leaves behind. An emission only claims it; the
//! registry unlinks it later. None of that may show: every query made right after the
//! emission, with no other registry operation in between, must see it gone, and so must
//! the next emissions.
//!
//! Every test builds its own namespace and emits from a plain `#[test]`, a sync context:
//! `emit` returns after every handler ran.

use std::sync::Arc;

use ventus::{AnyEvent, EventLinker, EventTarget, Subscription, TokioEventEmitter};

mod support;

use support::{count, counter, linker};

/// A namespace where a once-subscriber linked to `A`, `B` and `C` has just fired through
/// `A`, beside a plain subscriber on `B`; nothing touched the registry since.
struct Fired {
    linker: EventLinker,
    emitter: TokioEventEmitter,
    once: Subscription,
    plain: Subscription,
}

fn fired() -> Fired {
    let linker = linker();
    let (ran, bump) = counter();
    let once = linker.on(["A", "B", "C"]).once().subscribe(bump).unwrap();
    let plain = linker.on("B").subscribe(|| ()).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("A").unwrap();
    assert_eq!(count(&ran), 1);
    Fired {
        linker,
        emitter,
        once,
        plain,
    }
}

/// Each query is the first thing done after the emission, on a namespace of its own, so
/// none of them benefits from another having run first.
#[test]
fn every_query_right_after_a_once_subscriber_fired_sees_it_gone() {
    type Check = (&'static str, fn(&Fired));
    let checks: &[Check] = &[
        ("is_empty", |f| assert!(!f.linker.is_empty())),
        ("contains A", |f| assert!(!f.linker.contains("A"))),
        ("contains_event C", |f| {
            assert!(!f.linker.contains_event("C"))
        }),
        ("contains B", |f| assert!(f.linker.contains("B"))),
        ("events", |f| {
            assert_eq!(f.linker.events(), [EventTarget::named("B")])
        }),
        ("event_count", |f| assert_eq!(f.linker.event_count(), 1)),
        ("subscriber_count", |f| {
            assert_eq!(f.linker.subscriber_count(), 1)
        }),
        ("subscriber_count_of B", |f| {
            assert_eq!(f.linker.subscriber_count_of("B"), 1)
        }),
        ("subscriber_count_of A", |f| {
            assert_eq!(f.linker.subscriber_count_of("A"), 0)
        }),
        ("subscribers", |f| {
            assert_eq!(f.linker.subscribers(), std::slice::from_ref(&f.plain))
        }),
        ("subscribers_of", |f| {
            assert_eq!(
                f.linker.subscribers_of(["A", "B", "C"]),
                std::slice::from_ref(&f.plain)
            )
        }),
        ("contains_subscriber", |f| {
            assert!(!f.linker.contains_subscriber(&f.once))
        }),
        ("are_linked", |f| {
            assert!(!f.linker.are_linked("B", &f.once))
        }),
        ("events_of", |f| {
            assert!(f.linker.events_of(&f.once).is_empty())
        }),
        ("event_count_of", |f| {
            assert_eq!(f.linker.event_count_of(&f.once), 0)
        }),
        ("is_linked", |f| assert!(!f.once.is_linked())),
        ("unsubscribe", |f| assert!(!f.once.unsubscribe())),
        ("remove_subscriber", |f| {
            assert!(!f.linker.remove_subscriber(&f.once))
        }),
        ("remove", |f| assert!(!f.linker.remove("B", &f.once))),
        ("remove_event C", |f| assert!(!f.linker.remove_event("C"))),
        ("remove_event B", |f| {
            assert!(f.linker.remove_event("B"));
            assert!(f.linker.is_empty());
            assert!(!f.plain.is_linked());
        }),
        ("emit A", |f| {
            let report = f.emitter.emit("A").unwrap().wait().unwrap();
            assert_eq!(report.counts().total(), 0, "an emission with no handler");
        }),
    ];
    for (what, check) in checks {
        let f = fired();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&f)));
        assert!(result.is_ok(), "query `{what}` right after the emission");
    }
}

#[test]
fn an_event_whose_only_subscriber_fired_is_gone_at_once() {
    let linker = linker();
    let (ran, bump) = counter();
    let sub = linker.on("Tick").once().subscribe(bump).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("Tick").unwrap();
    assert!(linker.is_empty());
    assert!(!linker.contains_event("Tick"));
    let again = emitter.emit("Tick").unwrap().wait().unwrap();
    assert_eq!(
        again.counts().total(),
        0,
        "emitted to a fired once-subscriber"
    );
    assert_eq!(count(&ran), 1);
    assert!(!sub.unsubscribe());
}

#[test]
fn an_any_event_once_subscriber_that_fired_is_gone_at_once() {
    let linker = linker();
    let (ran, bump) = counter();
    linker.on_any().once().subscribe(bump).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("A").unwrap();
    assert!(!linker.contains(EventTarget::Any));
    assert!(linker.is_empty());
    let other = emitter.emit("B").unwrap().wait().unwrap();
    assert_eq!(
        other.counts().total(),
        0,
        "emitted to a fired any-event handler"
    );
    assert_eq!(count(&ran), 1);
}

#[test]
fn subscribing_again_after_the_only_subscriber_fired_works() {
    let linker = EventLinker::builder().max_subscribers(1).build().unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let (first, bump_first) = counter();
    linker.on("Tick").once().subscribe(bump_first).unwrap();
    emitter.emit("Tick").unwrap();

    let (second, bump_second) = counter();
    let sub = linker.on("Tick").subscribe(bump_second).unwrap();
    assert_eq!(linker.subscriber_count_of("Tick"), 1);
    emitter.emit("Tick").unwrap();
    emitter.emit("Tick").unwrap();
    assert_eq!((count(&first), count(&second)), (1, 2));
    assert!(sub.unsubscribe());
    assert!(linker.is_empty());
}

/// The limit counts live subscribers only: a fired once-subscriber still sitting in the
/// event's snapshot (beside a live one) does not take a place.
#[test]
fn max_subscribers_counts_only_live_subscribers() {
    let linker = EventLinker::builder().max_subscribers(2).build().unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let (plain, bump_plain) = counter();
    linker.on("Tick").subscribe(bump_plain).unwrap();
    let (once, bump_once) = counter();
    linker.on("Tick").once().subscribe(bump_once).unwrap();
    emitter.emit("Tick").unwrap();

    let (late, bump_late) = counter();
    linker.on("Tick").subscribe(bump_late).unwrap();
    assert!(
        linker.on("Tick").subscribe(|| ()).is_err(),
        "two live subscribers: full"
    );
    assert_eq!(linker.subscriber_count_of("Tick"), 2);
    emitter.emit("Tick").unwrap();
    assert_eq!((count(&plain), count(&once), count(&late)), (2, 1, 1));
}

/// A fired async once-subscriber left in a snapshot must not make the next emissions of
/// the event leave the caller's thread: their sync handlers still run inline, with no
/// runtime entered.
#[test]
fn a_fired_async_once_subscriber_does_not_change_how_the_rest_runs() {
    let linker = linker();
    let (ran, bump) = counter();
    let bump = Arc::new(bump);
    linker
        .on("Tick")
        .once()
        .subscribe(move || {
            let bump = bump.clone();
            async move { bump() }
        })
        .unwrap();
    let in_runtime = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = in_runtime.clone();
    linker
        .on("Tick")
        .subscribe(move || {
            let entered = tokio::runtime::Handle::try_current().is_ok();
            seen.lock().unwrap().push(entered);
        })
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("Tick").unwrap();
    emitter.emit("Tick").unwrap();
    assert_eq!(count(&ran), 1);
    assert_eq!(
        *in_runtime.lock().unwrap(),
        [true, false],
        "the first emission needs a runtime for the async handler, the second none"
    );
}

/// Many once-subscribers sharing many events fire, with writes between the waves, so the
/// registry both unlinks them and compacts its snapshots; what is linked stays exact.
#[test]
fn waves_of_once_subscribers_leave_exact_counts() {
    const EVENTS: usize = 12;
    const WAVES: usize = 6;
    const PER_WAVE: usize = 20;
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let names: Vec<String> = (0..EVENTS).map(|e| format!("E{e}")).collect();
    // One permanent subscriber on every event, so no event ever goes.
    let (plain, bump_plain) = counter();
    linker
        .on(names.iter().map(String::as_str).collect::<Vec<_>>())
        .subscribe(bump_plain)
        .unwrap();
    let mut once_runs = Vec::new();
    for wave in 0..WAVES {
        let mut subs = Vec::new();
        for i in 0..PER_WAVE {
            // Each linked to a different spread of the events.
            let events: Vec<&str> = names
                .iter()
                .enumerate()
                .filter(|(e, _)| (e + i + wave) % (1 + i % 4) == 0)
                .map(|(_, n)| n.as_str())
                .collect();
            let (ran, bump) = counter();
            subs.push((linker.on(events).once().subscribe(bump).unwrap(), ran));
        }
        assert_eq!(linker.subscriber_count(), 1 + PER_WAVE);
        // Fire them all, one event at a time, checking the counts between emissions.
        for (e, name) in names.iter().enumerate() {
            emitter.emit(name.as_str()).unwrap();
            let left = subs
                .iter()
                .filter(|(s, _)| {
                    !linker
                        .events_of(s)
                        .iter()
                        .all(|t| names[..=e].iter().any(|n| t == &EventTarget::named(n)))
                })
                .count();
            assert_eq!(
                linker.subscriber_count(),
                1 + left,
                "wave {wave} after {name}"
            );
            for name in &names {
                let live = 1 + subs
                    .iter()
                    .filter(|(s, _)| linker.are_linked(name.as_str(), s))
                    .count();
                assert_eq!(linker.subscriber_count_of(name.as_str()), live);
            }
        }
        for (sub, ran) in subs {
            assert_eq!(count(&ran), 1, "wave {wave}");
            assert!(!sub.is_linked());
            once_runs.push(ran);
        }
        assert_eq!(linker.subscriber_count(), 1);
        assert_eq!(linker.event_count(), EVENTS);
    }
    // Nothing fired runs again, and the permanent subscriber ran once per emission.
    for name in &names {
        emitter.emit(name.as_str()).unwrap();
    }
    assert!(once_runs.iter().all(|r| count(r) == 1));
    assert_eq!(count(&plain), EVENTS * (WAVES + 1));
    linker.remove_all();
    assert!(linker.is_empty());
    assert_eq!(linker.subscriber_count(), 0);
}

/// A once handler that emits again from inside itself, and subscribes, while it is
/// being unlinked: no deadlock, and it runs once.
#[test]
fn a_once_handler_that_emits_and_subscribes_runs_once() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let (ran, bump) = counter();
    let (ln, em) = (linker.clone(), emitter.clone());
    linker
        .on(["Tick", "Tock"])
        .once()
        .subscribe(move |e: &AnyEvent| {
            bump();
            if e.name().as_str() == "Tick" {
                em.emit("Tock").unwrap();
                em.emit("Tick").unwrap();
                assert!(!ln.contains_event("Tock"));
                ln.on("Tock").subscribe(|| ()).unwrap();
            }
        })
        .unwrap();
    support::within("once handler re-entering", move || {
        emitter.emit("Tick").unwrap();
        emitter.emit("Tock").unwrap();
    });
    assert_eq!(count(&ran), 1);
    assert_eq!(linker.events(), [EventTarget::named("Tock")]);
}

// ---------------------------------------------------------------------------------------
// Refused emissions leave once-subscriptions as they were
// ---------------------------------------------------------------------------------------

mod refused {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use ventus::{
        Emission, EmitError, Emitted, EventEmitter, Overflow, ProcessError, Processor,
        TokioEventEmitter,
    };

    use super::support::{count, counter, linker};

    /// The `Processor` trait's own example: refuses emissions that need a runtime.
    #[derive(Debug)]
    struct SyncOnly;

    impl Processor for SyncOnly {
        fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
            emission.try_run_inline().map_err(|e| {
                ProcessError::Failed(format!("event `{}` has async handlers", e.event()).into())
            })
        }
    }

    /// Drops every emission and says it is closed.
    #[derive(Debug)]
    struct Refuses;

    impl Processor for Refuses {
        fn process(&self, _emission: Emission<'_>) -> Result<Emitted, ProcessError> {
            Err(ProcessError::Closed)
        }
    }

    /// Runs the emission to its end, then reports a failure anyway.
    #[derive(Debug)]
    struct RunsThenFails;

    impl Processor for RunsThenFails {
        fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .map_err(|e| ProcessError::Failed(e.into()))?;
            rt.block_on(emission.run());
            Err(ProcessError::Failed(
                "ran it, but something else went wrong".into(),
            ))
        }
    }

    #[test]
    fn a_processor_error_leaves_the_once_subscription_to_a_later_emission() {
        let linker = linker();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let once = linker
            .on("Job")
            .once()
            .subscribe(move || {
                let r = r.clone();
                async move {
                    r.fetch_add(1, Ordering::Relaxed);
                }
            })
            .unwrap();
        let refusing = EventEmitter::builder()
            .linker(&linker)
            .processor(SyncOnly)
            .build();
        assert!(matches!(refusing.emit("Job"), Err(EmitError::Processor(_))));
        assert_eq!(ran.load(Ordering::Relaxed), 0);
        assert!(
            once.is_linked(),
            "a refused emission must not consume the once-subscription"
        );
        assert!(linker.contains_subscriber(&once));
        assert!(linker.contains_event("Job"));
        // A second refusal, then an emission that is taken: it runs the handler, once.
        assert!(refusing.emit("Job").is_err());
        let emitter = TokioEventEmitter::with_linker(&linker);
        emitter.emit("Job").unwrap();
        emitter.emit("Job").unwrap();
        assert_eq!(ran.load(Ordering::Relaxed), 1);
        assert!(!once.is_linked());
        assert!(!linker.contains_event("Job"));
    }

    #[test]
    fn a_closed_processor_leaves_the_once_subscription_to_a_later_emission() {
        let linker = linker();
        let (ran, bump) = counter();
        let once = linker.on(["A", "B"]).once().subscribe(bump).unwrap();
        // `blocking` keeps the emission off the lean path, so it reaches `process`.
        let refusing = EventEmitter::builder()
            .linker(&linker)
            .processor(Refuses)
            .build();
        let _plain = linker.on("A").blocking().subscribe(|| ()).unwrap();
        assert!(matches!(refusing.emit("A"), Err(EmitError::Closed { .. })));
        assert!(once.is_linked());
        // Another registry operation settles whatever the refusal left; still linked.
        let _other = linker.on("C").subscribe(|| ()).unwrap();
        assert!(linker.are_linked("A", &once) && linker.are_linked("B", &once));
        TokioEventEmitter::with_linker(&linker).emit("B").unwrap();
        assert_eq!(count(&ran), 1);
        assert!(!linker.contains_subscriber(&once));
    }

    #[test]
    fn a_processor_that_ran_the_emission_before_failing_still_consumes_it() {
        let linker = linker();
        let (ran, bump) = counter();
        let once = linker.on("A").once().subscribe(bump).unwrap();
        let _plain = linker.on("A").blocking().subscribe(|| ()).unwrap();
        let emitter = EventEmitter::builder()
            .linker(&linker)
            .processor(RunsThenFails)
            .build();
        assert!(emitter.emit("A").is_err());
        assert_eq!(count(&ran), 1);
        assert!(!once.is_linked(), "it ran: it must never run again");
        TokioEventEmitter::with_linker(&linker).emit("A").unwrap();
        assert_eq!(count(&ran), 1);
        assert!(!linker.contains_subscriber(&once));
    }

    /// Panics instead of taking the emission.
    #[derive(Debug)]
    struct Panics;

    impl Processor for Panics {
        fn process(&self, _emission: Emission<'_>) -> Result<Emitted, ProcessError> {
            panic!("this processor is broken")
        }
    }

    #[test]
    fn a_panicking_processor_is_a_refusal_that_leaves_the_once_subscription() {
        let linker = linker();
        let (ran, bump) = counter();
        let once = linker.on("A").once().subscribe(bump).unwrap();
        let _plain = linker.on("A").blocking().subscribe(|| ()).unwrap();
        let emitter = EventEmitter::builder()
            .linker(&linker)
            .processor(Panics)
            .build();
        match emitter.emit("A") {
            Err(EmitError::Processor(err)) => assert!(err.to_string().contains("broken")),
            other => panic!("expected a processor error, got {other:?}"),
        }
        assert!(once.is_linked());
        TokioEventEmitter::with_linker(&linker).emit("A").unwrap();
        assert_eq!(count(&ran), 1);
    }

    /// The `max_in_flight` refusal comes before any claim; it must stay that way.
    #[tokio::test]
    async fn a_full_emitter_leaves_the_once_subscription_to_a_later_emission() {
        let linker = linker();
        let (ran, bump) = counter();
        let once = linker.on("A").once().subscribe(bump).unwrap();
        let gate = Arc::new(tokio::sync::Notify::new());
        let g = gate.clone();
        linker
            .on("Hold")
            .subscribe(move || {
                let g = g.clone();
                async move { g.notified().await }
            })
            .unwrap();
        let emitter = EventEmitter::builder()
            .linker(&linker)
            .max_in_flight(1, Overflow::Reject)
            .build();
        emitter.emit("Hold").unwrap();
        match emitter.emit_with("A", 5_u8) {
            Err(EmitError::Full(rejected)) => assert_eq!(rejected.into_payload::<u8>(), Some(5)),
            other => panic!("expected a full emitter, got {other:?}"),
        }
        assert!(once.is_linked());
        // Stored if the handler is not waiting yet.
        gate.notify_one();
        emitter.wait_for_tasks().await;
        emitter.emit("A").unwrap();
        emitter.wait_for_tasks().await;
        assert_eq!(count(&ran), 1);
        assert!(!once.is_linked());
    }
}
