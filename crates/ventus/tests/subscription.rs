//! Subscriptions and what they are linked to: the `Subscription` handle and its guard,
//! once-subscriptions, typed events, error events, `EventKey`, `EventTarget` and
//! `EventName`.
//!
//! Every test builds its own namespace (never the global linker) and emits from a plain
//! `#[test]`, a sync context: `emit` returns after every handler ran.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ventus::{
    EmitError, Event, EventKey, EventName, EventTarget, HandlerError, IntoEvents, SubscribeError,
    TokioEventEmitter,
};

mod support;

use support::{count, counter, linker};

/// A failure callback that records each error's message.
fn failure_log() -> (
    Arc<Mutex<Vec<String>>>,
    impl Fn(&HandlerError) + Send + Sync + 'static,
) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let push = log.clone();
    (log, move |err: &HandlerError| {
        push.lock().unwrap().push(err.to_string());
    })
}

// ---------------------------------------------------------------------------------------
// The Subscription handle
// ---------------------------------------------------------------------------------------

#[test]
fn unsubscribe_is_true_once() {
    let linker = linker();
    let sub = linker.on("Tick").subscribe(|| ()).unwrap();
    assert!(sub.is_linked());
    assert!(!sub.is_once());
    assert!(sub.unsubscribe());
    assert!(!sub.is_linked());
    assert!(!sub.unsubscribe(), "only the first call unsubscribes");
    assert!(!sub.unsubscribe());
    assert!(linker.is_empty());
}

#[test]
fn an_unsubscribed_handler_does_not_run() {
    let linker = linker();
    let (ran, bump) = counter();
    let (other_ran, other) = counter();
    let sub = linker.on("Tick").subscribe(bump).unwrap();
    linker.on("Tick").subscribe(other).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);

    emitter.emit("Tick").unwrap();
    assert_eq!(count(&ran), 1);
    assert!(sub.unsubscribe());
    emitter.emit("Tick").unwrap();
    assert_eq!(count(&ran), 1, "an unsubscribed handler ran");
    assert_eq!(count(&other_ran), 2, "the other handler stopped running");
}

#[test]
fn an_unsubscribed_async_handler_does_not_run() {
    let linker = linker();
    let ran = Arc::new(AtomicUsize::new(0));
    let seen = ran.clone();
    let sub = linker
        .on("Tick")
        .subscribe(move || {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        })
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("Tick").unwrap();
    assert_eq!(
        count(&ran),
        1,
        "the sync-context emit returned before the async handler ran"
    );
    assert!(sub.unsubscribe());
    emitter.emit("Tick").unwrap();
    assert_eq!(count(&ran), 1);
}

#[test]
fn clones_are_the_same_subscription() {
    let linker = linker();
    let sub = linker.on("Tick").subscribe(|| ()).unwrap();
    let other = linker.on("Tick").subscribe(|| ()).unwrap();
    let clone = sub.clone();
    assert_eq!(sub, clone);
    assert_eq!(sub.id(), clone.id());
    assert_ne!(
        sub, other,
        "two subscriptions of equal handlers are different"
    );
    assert_eq!(
        linker.subscribers()[0],
        sub,
        "the linker hands out equal handles"
    );

    assert!(clone.unsubscribe());
    assert!(
        !sub.is_linked(),
        "unsubscribing a clone left the original linked"
    );
    assert!(!sub.unsubscribe());
    assert_eq!(linker.subscribers(), [other]);
}

#[test]
fn ids_and_names_describe_the_subscription() {
    fn on_tick() {}

    let linker = linker();
    let first = linker.on("Tick").subscribe(on_tick).unwrap();
    let second = linker.on("Tick").subscribe(|| ()).unwrap();
    assert!(first.id() < second.id());
    assert!(first.id().as_u64() < second.id().as_u64());
    assert_eq!(
        first.id().to_string(),
        format!("subscription#{}", first.id().as_u64())
    );
    assert!(
        first.handler_name().contains("on_tick"),
        "{}",
        first.handler_name()
    );

    let debug = format!("{first:?}");
    assert!(debug.contains("linked: true"), "{debug}");
    assert!(first.unsubscribe());
    let debug = format!("{first:?}");
    assert!(debug.contains("linked: false"), "{debug}");
}

#[test]
fn a_dropped_handle_leaves_the_handler_linked() {
    let linker = linker();
    let (ran, bump) = counter();
    drop(linker.on("Tick").subscribe(bump).unwrap());
    TokioEventEmitter::with_linker(&linker)
        .emit("Tick")
        .unwrap();
    assert_eq!(count(&ran), 1);
    assert_eq!(linker.subscriber_count(), 1);
}

#[test]
fn a_guard_unsubscribes_on_drop() {
    let linker = linker();
    let (ran, bump) = counter();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let sub = {
        let guard = linker.on("Tick").subscribe(bump).unwrap().guard();
        assert!(linker.contains_event("Tick"));
        emitter.emit("Tick").unwrap();
        assert_eq!(count(&ran), 1);
        assert!(guard.subscription().is_linked());
        guard.subscription().clone()
    };
    assert!(!sub.is_linked(), "the guard's drop did not unsubscribe");
    assert!(!linker.contains_event("Tick"));
    assert!(linker.is_empty());
    emitter.emit("Tick").unwrap();
    assert_eq!(count(&ran), 1, "a handler ran after its guard was dropped");
    assert!(!sub.unsubscribe());
}

#[test]
fn a_disarmed_guard_does_not_unsubscribe() {
    let linker = linker();
    let (ran, bump) = counter();
    let guard = linker.on("Tick").subscribe(bump).unwrap().guard();
    let expected = guard.subscription().clone();
    let sub = guard.disarm();
    assert_eq!(sub, expected);
    assert!(sub.is_linked(), "disarm unsubscribed");
    TokioEventEmitter::with_linker(&linker)
        .emit("Tick")
        .unwrap();
    assert_eq!(count(&ran), 1);
    assert!(sub.unsubscribe());
}

#[test]
fn a_guard_of_an_unsubscribed_subscription_drops_quietly() {
    let linker = linker();
    let guard = linker.on("Tick").subscribe(|| ()).unwrap().guard();
    assert!(guard.subscription().unsubscribe());
    let debug = format!("{guard:?}");
    assert!(debug.contains("SubscriptionGuard"), "{debug}");
    drop(guard);
    assert!(linker.is_empty());
}

#[test]
fn a_handler_can_unsubscribe_itself() {
    let linker = linker();
    let (ran, bump) = counter();
    let slot: Arc<Mutex<Option<ventus::Subscription>>> = Arc::new(Mutex::new(None));
    let me = slot.clone();
    let sub = linker
        .on("Tick")
        .subscribe(move || {
            bump();
            if let Some(sub) = me.lock().unwrap().take() {
                assert!(sub.unsubscribe());
            }
        })
        .unwrap();
    *slot.lock().unwrap() = Some(sub.clone());
    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("Tick").unwrap();
    emitter.emit("Tick").unwrap();
    assert_eq!(count(&ran), 1);
    assert!(!sub.is_linked());
    assert!(linker.is_empty());
}

// ---------------------------------------------------------------------------------------
// Once-subscriptions
// ---------------------------------------------------------------------------------------

#[test]
fn once_runs_once_then_is_removed() {
    let linker = linker();
    let (ran, bump) = counter();
    let sub = linker.on("Tick").once().subscribe(bump).unwrap();
    let keep = linker.on("Tick").subscribe(|| ()).unwrap();
    assert!(sub.is_once());
    assert!(sub.is_linked());
    assert_eq!(linker.subscriber_count(), 2);

    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("Tick").unwrap();
    assert_eq!(count(&ran), 1);
    assert_eq!(
        linker.subscriber_count(),
        1,
        "the once-subscriber was not removed"
    );
    assert_eq!(linker.subscriber_count_of("Tick"), 1);
    assert!(!linker.contains_subscriber(&sub));
    assert!(!sub.is_linked());
    assert!(
        !sub.unsubscribe(),
        "unsubscribe succeeded after the once handler ran"
    );
    assert_eq!(linker.subscribers(), [keep]);

    emitter.emit("Tick").unwrap();
    assert_eq!(count(&ran), 1, "a once handler ran twice");
}

#[test]
fn once_removes_an_event_left_empty() {
    let linker = linker();
    let (ran, bump) = counter();
    let sub = linker.on(["A", "B"]).once().subscribe(bump).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("B").unwrap();
    emitter.emit("A").unwrap();
    emitter.emit("B").unwrap();
    assert_eq!(
        count(&ran),
        1,
        "a once handler linked to two events ran more than once"
    );
    assert!(linker.is_empty(), "events left: {:?}", linker.events());
    assert_eq!(linker.event_count_of(&sub), 0);
}

#[test]
fn once_on_any_event_runs_once() {
    let linker = linker();
    let (ran, bump) = counter();
    linker.on_any().once().subscribe(bump).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("A").unwrap();
    emitter.emit("B").unwrap();
    assert_eq!(count(&ran), 1);
    assert!(!linker.contains(EventTarget::Any));
}

#[test]
fn once_async_handler_runs_once() {
    let linker = linker();
    let ran = Arc::new(AtomicUsize::new(0));
    let seen = ran.clone();
    linker
        .on("Tick")
        .once()
        .subscribe(move |n: u32| {
            let seen = seen.clone();
            async move {
                seen.fetch_add(n as usize, Ordering::SeqCst);
            }
        })
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit_with("Tick", 5_u32).unwrap();
    emitter.emit_with("Tick", 7_u32).unwrap();
    assert_eq!(count(&ran), 5);
    assert!(linker.is_empty());
}

#[test]
fn a_failing_once_handler_is_still_removed() {
    let linker = linker();
    let (errors, on_failure) = failure_log();
    let tries = Arc::new(AtomicUsize::new(0));
    let t = tries.clone();
    let sub = linker
        .on("Tick")
        .once()
        .on_failure(on_failure)
        .subscribe(move || -> Result<(), &'static str> {
            t.fetch_add(1, Ordering::SeqCst);
            Err("boom")
        })
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("Tick").unwrap();
    emitter.emit("Tick").unwrap();
    assert_eq!(count(&tries), 1, "a failed once handler ran again");
    assert_eq!(errors.lock().unwrap().len(), 1);
    assert!(errors.lock().unwrap()[0].contains("boom"));
    assert!(!sub.is_linked());
    assert!(!sub.unsubscribe());
    assert!(linker.is_empty());
}

#[test]
fn a_panicking_once_handler_is_still_removed() {
    let linker = linker();
    let (errors, on_failure) = failure_log();
    let (ran, bump) = counter();
    let tries = Arc::new(AtomicUsize::new(0));
    let t = tries.clone();
    linker
        .on("Tick")
        .once()
        .on_failure(on_failure)
        .subscribe(move || -> () {
            t.fetch_add(1, Ordering::SeqCst);
            panic!("handler panicked on purpose");
        })
        .unwrap();
    linker.on("Tick").subscribe(bump).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("Tick").unwrap();
    emitter.emit("Tick").unwrap();
    assert_eq!(count(&tries), 1);
    assert_eq!(count(&ran), 2, "a panic stopped the other handler");
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("on purpose"), "{}", errors[0]);
    assert_eq!(linker.subscriber_count(), 1);
}

#[test]
fn an_unsubscribed_once_handler_never_runs() {
    let linker = linker();
    let (ran, bump) = counter();
    let sub = linker.on("Tick").once().subscribe(bump).unwrap();
    assert!(sub.unsubscribe());
    TokioEventEmitter::with_linker(&linker)
        .emit("Tick")
        .unwrap();
    assert_eq!(count(&ran), 0);
    assert!(linker.is_empty());
}

// ---------------------------------------------------------------------------------------
// Typed events
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct Shutdown {
    code: i32,
}

impl Event for Shutdown {}

#[derive(Debug, Clone)]
struct Renamed(u8);

impl Event for Renamed {
    fn name() -> &'static str {
        "custom.renamed"
    }
}

mod shop {
    #[derive(Debug, Clone)]
    pub(crate) struct OrderCreated {
        pub(crate) id: u64,
    }

    impl ventus::Event for OrderCreated {}
}

#[test]
fn a_typed_event_is_named_after_its_type() {
    assert_eq!(Shutdown::name(), "Shutdown");
    assert_eq!(
        shop::OrderCreated::name(),
        "OrderCreated",
        "the module path must go"
    );
    assert_eq!(
        EventTarget::event::<Shutdown>(),
        EventTarget::named("Shutdown")
    );
    assert_eq!(
        EventTarget::event::<shop::OrderCreated>().name(),
        Some("OrderCreated")
    );

    let linker = linker();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let sub = linker
        .on_event::<Shutdown>()
        .subscribe(move |e: &Shutdown| log.lock().unwrap().push(e.code))
        .unwrap();
    assert!(linker.contains_event("Shutdown"));
    assert!(linker.are_linked(EventTarget::event::<Shutdown>(), &sub));

    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit_event(Shutdown { code: 3 }).unwrap();
    // Emitting by name with the same payload reaches the same handlers.
    emitter.emit_with("Shutdown", Shutdown { code: 4 }).unwrap();
    assert_eq!(*seen.lock().unwrap(), [3, 4]);
}

#[test]
fn typed_events_reach_async_and_string_handlers() {
    let linker = linker();
    let total = Arc::new(AtomicUsize::new(0));
    let (by_value, plain) = (total.clone(), total.clone());
    linker
        .on_event::<shop::OrderCreated>()
        .subscribe(move |order: shop::OrderCreated| {
            let total = by_value.clone();
            async move {
                total.fetch_add(order.id as usize, Ordering::SeqCst);
            }
        })
        .unwrap();
    linker
        .on("OrderCreated")
        .subscribe(move || {
            plain.fetch_add(1000, Ordering::SeqCst);
        })
        .unwrap();
    TokioEventEmitter::with_linker(&linker)
        .emit_event(shop::OrderCreated { id: 7 })
        .unwrap();
    assert_eq!(count(&total), 1007);
}

#[test]
fn an_overridden_event_name_is_used() {
    assert_eq!(Renamed::name(), "custom.renamed");
    assert_eq!(
        EventTarget::event::<Renamed>(),
        EventTarget::named("custom.renamed")
    );

    let linker = linker();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    linker
        .on_event::<Renamed>()
        .subscribe(move |e: &Renamed| log.lock().unwrap().push(e.0))
        .unwrap();
    assert!(linker.contains_event("custom.renamed"));
    assert!(
        !linker.contains_event("Renamed"),
        "the type name was used despite the override"
    );

    let (by_type_name, bump) = counter();
    linker.on("Renamed").subscribe(bump).unwrap();
    TokioEventEmitter::with_linker(&linker)
        .emit_event(Renamed(9))
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), [9]);
    assert_eq!(
        count(&by_type_name),
        0,
        "the emission went to the type's own name"
    );
}

#[test]
fn a_typed_event_emitted_by_name_without_its_payload_is_refused_before_its_handler_runs() {
    let linker = linker();
    let (errors, on_failure) = failure_log();
    linker
        .on_event::<Shutdown>()
        .on_failure(on_failure)
        .subscribe(|_: &Shutdown| ())
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let refused = |result: Result<ventus::Emitted, ventus::EmitError>| match result {
        Err(ventus::EmitError::PayloadType(m)) => {
            assert!(m.expected()[0].ends_with("Shutdown"), "{m}");
            m.given()
        }
        other => panic!("expected a payload mismatch, got {other:?}"),
    };
    assert_eq!(refused(emitter.emit("Shutdown")), None);
    assert_eq!(refused(emitter.emit_with("Shutdown", 5_u8)), Some("u8"));
    assert!(
        errors.lock().unwrap().is_empty(),
        "no handler ran, so none failed"
    );
}

// ---------------------------------------------------------------------------------------
// Error events
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct DiskFull {
    free: u64,
}

impl fmt::Display for DiskFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "disk full ({} bytes free)", self.free)
    }
}

impl std::error::Error for DiskFull {}

#[test]
fn error_events_are_named_after_the_full_error_type() {
    use std::any::type_name;
    use std::num::ParseIntError;

    // The full path: many error types share a short name (`Error`).
    assert_eq!(
        EventTarget::error::<DiskFull>(),
        EventTarget::named(type_name::<DiskFull>())
    );
    assert_eq!(
        EventTarget::error::<ParseIntError>().name(),
        Some(type_name::<ParseIntError>())
    );
    assert_ne!(
        EventTarget::error::<std::fmt::Error>(),
        EventTarget::error::<std::io::Error>()
    );

    let linker = linker();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    linker
        .on_error::<DiskFull>()
        .subscribe(move |err: &DiskFull| log.lock().unwrap().push(err.to_string()))
        .unwrap();
    let parse_errors = Arc::new(AtomicUsize::new(0));
    let p = parse_errors.clone();
    linker
        .on_error::<ParseIntError>()
        .subscribe(move |_: &ParseIntError| {
            p.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    assert!(linker.contains(EventTarget::error::<DiskFull>()));
    assert!(linker.contains(EventTarget::error::<ParseIntError>()));
    assert_eq!(linker.event_count(), 2);

    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit_error(DiskFull { free: 12 }).unwrap();
    emitter.emit_error("x".parse::<i32>().unwrap_err()).unwrap();
    assert_eq!(*seen.lock().unwrap(), ["disk full (12 bytes free)"]);
    assert_eq!(count(&parse_errors), 1);
}

#[test]
fn errors_with_the_same_short_name_are_different_events() {
    let linker = linker();
    let (fmt_errors, bump) = counter();
    linker
        .on_error::<std::fmt::Error>()
        .subscribe(move |_: &std::fmt::Error| bump())
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter
        .emit_error(std::io::Error::other("disk on fire"))
        .unwrap();
    assert_eq!(
        count(&fmt_errors),
        0,
        "an io::Error reached a fmt::Error handler"
    );
    emitter.emit_error(std::fmt::Error).unwrap();
    assert_eq!(count(&fmt_errors), 1);
}

#[test]
fn error_events_reach_async_handlers_and_any_event() {
    let linker = linker();
    let frees = Arc::new(AtomicUsize::new(0));
    let f = frees.clone();
    linker
        .on_error::<DiskFull>()
        .subscribe(move |err: DiskFull| {
            let f = f.clone();
            async move {
                f.fetch_add(err.free as usize, Ordering::SeqCst);
            }
        })
        .unwrap();
    let names = Arc::new(Mutex::new(Vec::new()));
    let n = names.clone();
    linker
        .on_any()
        .subscribe(move |e: &ventus::AnyEvent| {
            n.lock().unwrap().push((
                e.name().to_string(),
                e.payload::<DiskFull>().map(|d| d.free),
            ));
        })
        .unwrap();
    TokioEventEmitter::with_linker(&linker)
        .emit_error(DiskFull { free: 40 })
        .unwrap();
    assert_eq!(count(&frees), 40);
    assert_eq!(
        *names.lock().unwrap(),
        [(std::any::type_name::<DiskFull>().to_string(), Some(40))]
    );
}

// ---------------------------------------------------------------------------------------
// EventKey, EventTarget, EventName
// ---------------------------------------------------------------------------------------

const COUNT: EventKey<u32> = EventKey::new("Count");

#[test]
fn event_keys_link_and_emit_by_name() {
    assert_eq!(COUNT.name(), "Count");
    let copy = COUNT;
    assert_eq!(copy.name(), COUNT.name(), "keys are Copy");
    let debug = format!("{COUNT:?}");
    assert!(debug.contains("Count") && debug.contains("u32"), "{debug}");
    assert_eq!(EventTarget::from(COUNT), EventTarget::named("Count"));
    assert_eq!(COUNT.into_events(), [EventTarget::named("Count")]);

    let linker = linker();
    let total = Arc::new(AtomicUsize::new(0));
    let t = total.clone();
    let sub = linker
        .on(COUNT)
        .subscribe(move |n: &u32| {
            t.fetch_add(*n as usize, Ordering::SeqCst);
        })
        .unwrap();
    assert!(linker.are_linked(COUNT, &sub));
    assert_eq!(linker.subscriber_count_of(COUNT), 1);

    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit_key(COUNT, 5).unwrap();
    emitter.emit_with("Count", 2_u32).unwrap();
    assert_eq!(count(&total), 7);
}

#[test]
fn an_empty_event_key_fails_when_used() {
    const EMPTY: EventKey<u32> = EventKey::new("");
    let linker = linker();
    assert_eq!(
        linker.on(EMPTY).subscribe(|_: &u32| ()).unwrap_err(),
        SubscribeError::EmptyEventName
    );
    assert!(linker.is_empty());
    let emitter = TokioEventEmitter::with_linker(&linker);
    assert!(matches!(
        emitter.emit_key(EMPTY, 1),
        Err(EmitError::EmptyEventName)
    ));
    assert!(matches!(emitter.emit(""), Err(EmitError::EmptyEventName)));
    assert!(matches!(
        emitter.emit_with("", 1_u8),
        Err(EmitError::EmptyEventName)
    ));
}

#[test]
fn an_empty_emit_does_not_reach_any_event_handlers() {
    let linker = linker();
    let (ran, bump) = counter();
    linker.on_any().subscribe(bump).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    assert!(emitter.emit("").is_err());
    assert_eq!(count(&ran), 0);
    emitter.emit("A").unwrap();
    assert_eq!(count(&ran), 1);
}

#[test]
fn event_targets_convert_from_names() {
    let name = EventName::new("Ping").unwrap();
    let owned = String::from("Ping");
    let expected = EventTarget::named("Ping");
    assert_eq!(EventTarget::from("Ping"), expected);
    assert_eq!(EventTarget::from(owned.clone()), expected);
    assert_eq!(EventTarget::from(&owned), expected);
    assert_eq!(EventTarget::from(name.clone()), expected);
    assert_eq!(EventTarget::from(&name), expected);
    assert_eq!(expected.name(), Some("Ping"));
    assert_eq!(EventTarget::Any.name(), None);
    assert_ne!(EventTarget::Any, expected);
    assert_eq!(expected.to_string(), "Ping");
    assert_eq!(EventTarget::Any.to_string(), "any event");
    assert_eq!(format!("{expected:?}"), "\"Ping\"");
    assert_eq!(format!("{:?}", EventTarget::Any), "Any");

    // Any sorts after every name.
    let mut targets = vec![
        EventTarget::Any,
        EventTarget::named("b"),
        EventTarget::named("a"),
    ];
    targets.sort();
    assert_eq!(
        targets,
        [
            EventTarget::named("a"),
            EventTarget::named("b"),
            EventTarget::Any
        ]
    );
}

#[test]
fn into_events_accepts_single_and_many() {
    let a = EventTarget::named("A");
    let b = EventTarget::named("B");
    assert_eq!("A".into_events(), std::slice::from_ref(&a));
    assert_eq!(String::from("A").into_events(), std::slice::from_ref(&a));
    assert_eq!((&String::from("A")).into_events(), std::slice::from_ref(&a));
    assert_eq!(["A", "B"].into_events(), [a.clone(), b.clone()]);
    assert_eq!(vec!["B", "A"].into_events(), [b.clone(), a.clone()]);
    assert_eq!((&["A", "B"][..]).into_events(), [a.clone(), b.clone()]);
    assert_eq!(
        [EventName::new("A").unwrap(), EventName::new("B").unwrap()].into_events(),
        [a.clone(), b.clone()]
    );
    assert_eq!(
        vec![String::from("A")].into_events(),
        std::slice::from_ref(&a)
    );
    assert_eq!(EventTarget::Any.into_events(), [EventTarget::Any]);

    let linker = linker();
    let names: Vec<String> = (0..3).map(|i| format!("E{i}")).collect();
    let sub = linker.on(names.as_slice()).subscribe(|| ()).unwrap();
    assert_eq!(linker.event_count_of(&sub), 3);
}

#[test]
fn event_names_must_not_be_empty() {
    let err = EventName::new("").unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    assert!(EventName::new(String::new()).is_err());

    let name = EventName::new("StringEvent").unwrap();
    assert_eq!(name, "StringEvent");
    assert_eq!(name.as_str(), "StringEvent");
    assert_eq!(&*name, "StringEvent");
    assert_eq!(name.len(), 11, "derefs to str");
    assert_eq!(name.to_string(), "StringEvent");
    assert_eq!(format!("{name:?}"), "\"StringEvent\"");
    assert_eq!(name, EventName::new(String::from("StringEvent")).unwrap());
    assert!(EventName::new("A").unwrap() < EventName::new("B").unwrap());

    let set: HashSet<EventName> = [name.clone()].into_iter().collect();
    assert!(
        set.contains("StringEvent"),
        "lookup by &str through Borrow<str>"
    );
    assert!(!set.contains("Other"));
}

#[test]
fn handler_errors_name_the_event_and_subscription() {
    let linker = linker();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let sub = linker
        .on("Divide")
        .on_failure(move |err: &HandlerError| {
            log.lock().unwrap().push((
                err.event().to_string(),
                err.subscription(),
                err.is_panic(),
                std::error::Error::source(err).map(|s| s.to_string()),
            ));
        })
        .subscribe(|&(a, b): &(i32, i32)| a.checked_div(b).ok_or("division by zero"))
        .unwrap();
    TokioEventEmitter::with_linker(&linker)
        .emit_with("Divide", (1, 0))
        .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(
        *seen,
        [(
            "Divide".to_string(),
            sub.id(),
            false,
            Some("division by zero".to_string())
        )]
    );
}

#[test]
fn once_linked_to_an_event_and_any_event_runs_once() {
    let linker = linker();
    let (ran, bump) = counter();
    linker
        .on([EventTarget::named("A"), EventTarget::Any])
        .once()
        .subscribe(bump)
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("A").unwrap();
    assert_eq!(
        count(&ran),
        1,
        "a once handler on an event and any-event ran twice"
    );
    emitter.emit("A").unwrap();
    emitter.emit("B").unwrap();
    assert_eq!(count(&ran), 1);
    assert!(linker.is_empty());
}

#[test]
fn once_runs_exactly_once_under_concurrent_emitters() {
    const THREADS: usize = 8;
    let linker = linker();
    let (ran, bump) = counter();
    let sub = linker.on("Tick").once().subscribe(bump).unwrap();
    let barrier = std::sync::Barrier::new(THREADS);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            let (linker, barrier) = (&linker, &barrier);
            s.spawn(move || {
                let emitter = TokioEventEmitter::with_linker(linker);
                barrier.wait();
                for _ in 0..50 {
                    emitter.emit("Tick").unwrap();
                }
            });
        }
    });
    assert_eq!(count(&ran), 1);
    assert!(!sub.is_linked());
    assert!(linker.is_empty());
}

// ---------------------------------------------------------------------------------------
// Changes made while an emission runs
// ---------------------------------------------------------------------------------------

#[test]
fn a_handler_unsubscribed_by_an_earlier_one_is_skipped() {
    let linker = linker();
    let (ran, bump) = counter();
    let victim: Arc<Mutex<Option<ventus::Subscription>>> = Arc::new(Mutex::new(None));
    let v = victim.clone();
    linker
        .on("Tick")
        .subscribe(move || {
            if let Some(sub) = v.lock().unwrap().take() {
                assert!(sub.unsubscribe());
            }
        })
        .unwrap();
    let later = linker.on("Tick").subscribe(bump).unwrap();
    *victim.lock().unwrap() = Some(later.clone());
    TokioEventEmitter::with_linker(&linker)
        .emit("Tick")
        .unwrap();
    assert_eq!(
        count(&ran),
        0,
        "a handler unsubscribed before it started still ran"
    );
    assert!(!later.is_linked());
}

#[test]
fn a_handler_subscribed_during_an_emission_runs_from_the_next() {
    let linker = linker();
    let (ran, bump) = counter();
    let bump = Arc::new(bump);
    let inner = linker.clone();
    let added = Arc::new(AtomicUsize::new(0));
    let a = added.clone();
    linker
        .on("Tick")
        .subscribe(move || {
            if a.fetch_add(1, Ordering::SeqCst) == 0 {
                let bump = bump.clone();
                inner.on("Tick").subscribe(move || bump()).unwrap();
            }
        })
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("Tick").unwrap();
    assert_eq!(
        count(&ran),
        0,
        "a handler subscribed mid-emission ran in that emission"
    );
    assert_eq!(linker.subscriber_count(), 2);
    emitter.emit("Tick").unwrap();
    assert_eq!(count(&ran), 1);
}
