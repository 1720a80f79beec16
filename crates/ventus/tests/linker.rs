//! The event linker: namespaces, subscribing to several events, and every registry query.
//!
//! Every test builds its own namespace (never the global linker) and emits from a plain
//! `#[test]`, a sync context: `emit` returns after every handler ran, so results are
//! asserted right after it.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ventus::{
    BuildError, EventLinker, EventName, EventTarget, HandlerError, SubscribeError,
    TokioEventEmitter,
};

/// A namespace of its own, with no settings.
mod support;

use support::{count, counter, linker};

fn named(name: &str) -> EventTarget {
    EventTarget::named(name)
}

// ---------------------------------------------------------------------------------------
// Builder and namespaces
// ---------------------------------------------------------------------------------------

#[test]
fn zero_max_subscribers_is_a_build_error() {
    let err = EventLinker::builder()
        .max_subscribers(0)
        .build()
        .unwrap_err();
    assert_eq!(err, BuildError::ZeroMaxSubscribers);
    assert!(err.to_string().contains("at least 1"), "{err}");
}

#[test]
fn the_last_max_subscribers_given_wins() {
    let linker = EventLinker::builder()
        .max_subscribers(0)
        .max_subscribers(3)
        .build()
        .expect("a later non-zero limit replaces the zero");
    assert_eq!(linker.max_subscribers(), Some(3));

    let err = EventLinker::builder()
        .max_subscribers(3)
        .max_subscribers(0)
        .build()
        .unwrap_err();
    assert_eq!(err, BuildError::ZeroMaxSubscribers);
}

#[test]
fn builder_settings_are_readable() {
    let plain = linker();
    assert_eq!(plain.name(), None);
    assert_eq!(plain.max_subscribers(), None);
    assert!(!plain.is_debug());

    let payments = EventLinker::builder()
        .name("payments")
        .max_subscribers(4)
        .debug(true)
        .build()
        .unwrap();
    assert_eq!(payments.name(), Some("payments"));
    assert_eq!(payments.max_subscribers(), Some(4));
    assert!(payments.is_debug());
    let debug = format!("{payments:?}");
    assert!(debug.contains("payments"), "{debug}");
    assert!(debug.contains('4'), "{debug}");

    // An emitter follows its linker's debug switch unless told otherwise.
    assert!(TokioEventEmitter::with_linker(&payments).is_debug());
    assert!(!TokioEventEmitter::with_linker(&plain).is_debug());
}

#[test]
fn clones_are_handles_to_one_namespace() {
    let a = linker();
    let b = linker();
    let a2 = a.clone();
    assert!(a.same_as(&a2));
    assert!(!a.same_as(&b));
    assert!(!a.same_as(EventLinker::global()));

    a2.on("Ping").subscribe(|| ()).unwrap();
    assert!(
        a.contains_event("Ping"),
        "a clone writes to the same registry"
    );
    assert!(b.is_empty());
}

#[test]
fn namespaces_share_no_handlers() {
    let a = linker();
    let b = linker();
    let (ran_a, bump_a) = counter();
    let (ran_b, bump_b) = counter();
    let sub_a = a.on("Ping").subscribe(bump_a).unwrap();

    TokioEventEmitter::with_linker(&b).emit("Ping").unwrap();
    assert_eq!(count(&ran_a), 0, "b's emitter ran a handler linked in a");
    assert!(b.is_empty());
    assert!(!b.contains_event("Ping"));
    assert!(b.subscribers().is_empty());

    TokioEventEmitter::with_linker(&a).emit("Ping").unwrap();
    assert_eq!(count(&ran_a), 1);

    // Subscription ids are per namespace, so both first subscriptions may share an id;
    // b must still not see a's subscription.
    let sub_b = b.on("Ping").subscribe(bump_b).unwrap();
    assert!(!b.contains_subscriber(&sub_a));
    assert!(!a.contains_subscriber(&sub_b));
    assert!(!b.are_linked("Ping", &sub_a));
    assert!(b.events_of(&sub_a).is_empty());
    assert_eq!(b.event_count_of(&sub_b), 1);
    assert!(!b.remove("Ping", &sub_a), "b removed a link of a");
    assert!(!b.remove_subscriber(&sub_a), "b removed a subscriber of a");
    assert!(sub_a.is_linked());
    assert!(a.are_linked("Ping", &sub_a));
    assert_eq!(b.subscribers(), std::slice::from_ref(&sub_b));

    TokioEventEmitter::with_linker(&b).emit("Ping").unwrap();
    assert_eq!((count(&ran_a), count(&ran_b)), (1, 1));

    b.remove_all();
    assert!(b.is_empty());
    assert!(sub_a.is_linked(), "b.remove_all() touched a");
    assert_eq!(a.subscriber_count(), 1);
}

#[test]
fn namespaces_inherit_no_settings() {
    let failures = Arc::new(AtomicUsize::new(0));
    let successes = Arc::new(AtomicUsize::new(0));
    let (f, s) = (failures.clone(), successes.clone());
    let strict = EventLinker::builder()
        .max_subscribers(1)
        .debug(true)
        .on_failure(move |_: &HandlerError| {
            f.fetch_add(1, Ordering::SeqCst);
        })
        .on_success(move |_: &dyn Any| {
            s.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let other = linker();
    assert_eq!(other.max_subscribers(), None);
    assert!(!other.is_debug());

    // Not limited by the other namespace's max_subscribers.
    other.on("Job").subscribe(|| ()).unwrap();
    other.on("Job").subscribe(|| ()).unwrap();
    other
        .on("Job")
        .subscribe(|| -> Result<(), &'static str> { Err("boom") })
        .unwrap();
    assert_eq!(other.subscriber_count_of("Job"), 3);

    TokioEventEmitter::with_linker(&other).emit("Job").unwrap();
    assert_eq!(
        count(&failures),
        0,
        "another namespace's default failure callback ran"
    );
    assert_eq!(
        count(&successes),
        0,
        "another namespace's default success callback ran"
    );

    // The callbacks do fire in their own namespace.
    strict
        .on("Job")
        .subscribe(|| -> Result<(), &'static str> { Err("boom") })
        .unwrap();
    strict.on("Other").subscribe(|| ()).unwrap();
    let emitter = TokioEventEmitter::with_linker(&strict);
    emitter.emit("Job").unwrap();
    emitter.emit("Other").unwrap();
    assert_eq!((count(&failures), count(&successes)), (1, 1));
}

#[test]
fn default_callbacks_receive_values_and_errors() {
    let values = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let (v, e) = (values.clone(), errors.clone());
    let linker = EventLinker::builder()
        .on_success(move |value: &dyn Any| {
            v.lock().unwrap().push(value.downcast_ref::<u32>().copied());
        })
        .on_failure(move |err: &HandlerError| {
            e.lock().unwrap().push(err.event().to_string());
        })
        .build()
        .unwrap();
    linker
        .on("Add")
        .subscribe(|&(a, b): &(u32, u32)| a + b)
        .unwrap();
    linker
        .on("Add")
        .subscribe(|_: &(u32, u32)| -> Result<u32, &'static str> { Err("overflow") })
        .unwrap();
    // Own callbacks replace the defaults.
    linker
        .on("Add")
        .on_success(|_: &u32| ())
        .on_failure(|_: &HandlerError| ())
        .subscribe(|&(a, _): &(u32, u32)| -> Result<u32, &'static str> {
            if a > 100 {
                Err("too big")
            } else {
                Ok(a)
            }
        })
        .unwrap();

    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit_with("Add", (2_u32, 3_u32)).unwrap();
    emitter.emit_with("Add", (200_u32, 3_u32)).unwrap();
    assert_eq!(*values.lock().unwrap(), [Some(5), Some(203)]);
    assert_eq!(*errors.lock().unwrap(), ["Add", "Add"]);
}

// ---------------------------------------------------------------------------------------
// Subscribing to several events at once
// ---------------------------------------------------------------------------------------

#[test]
fn duplicate_events_count_once() {
    let linker = linker();
    let (ran, bump) = counter();
    let sub = linker
        .on(["A", "B", "A", "B", "A"])
        .subscribe(bump)
        .unwrap();
    assert_eq!(linker.event_count_of(&sub), 2);
    assert_eq!(linker.events_of(&sub), [named("A"), named("B")]);
    assert_eq!(linker.subscriber_count_of("A"), 1);
    assert_eq!(linker.subscriber_count_of("B"), 1);
    assert_eq!(linker.subscriber_count(), 1);

    TokioEventEmitter::with_linker(&linker).emit("A").unwrap();
    assert_eq!(
        count(&ran),
        1,
        "a handler linked twice to an event ran more than once"
    );

    // Duplicates given in other forms count once too.
    let sub = linker
        .on(vec![
            named("C"),
            EventTarget::from("C"),
            EventTarget::from(String::from("C")),
            EventTarget::Any,
            EventTarget::Any,
        ])
        .subscribe(|| ())
        .unwrap();
    assert_eq!(linker.events_of(&sub), [named("C"), EventTarget::Any]);
}

#[test]
fn an_empty_event_name_links_nothing() {
    let linker = linker();
    let existing = linker.on("Kept").subscribe(|| ()).unwrap();

    let err = linker.on(["A", "", "B"]).subscribe(|| ()).unwrap_err();
    assert_eq!(err, SubscribeError::EmptyEventName);
    assert!(
        !linker.contains_event("A"),
        "A was linked although the call failed"
    );
    assert!(
        !linker.contains_event("B"),
        "B was linked although the call failed"
    );
    assert_eq!(linker.subscriber_count(), 1);
    assert_eq!(linker.events(), [named("Kept")]);
    assert_eq!(linker.subscribers(), [existing]);

    // Every way of naming an empty event fails the same way.
    let empty_key: ventus::EventKey<u8> = ventus::EventKey::new("");
    let failures = [
        linker.on("").subscribe(|| ()).unwrap_err(),
        linker.on(String::new()).subscribe(|| ()).unwrap_err(),
        linker
            .on(vec![String::from("A"), String::new()])
            .subscribe(|| ())
            .unwrap_err(),
        linker
            .on([EventTarget::Any, named("")])
            .subscribe(|| ())
            .unwrap_err(),
        linker.on(empty_key).subscribe(|| ()).unwrap_err(),
    ];
    for err in failures {
        assert_eq!(err, SubscribeError::EmptyEventName);
    }
    assert!(
        !linker.contains(EventTarget::Any),
        "the any-event target was linked"
    );
    assert_eq!(linker.subscriber_count(), 1);
    assert_eq!(linker.event_count(), 1);
    assert!(err_message_mentions(
        SubscribeError::EmptyEventName,
        "empty"
    ));
}

fn err_message_mentions(err: SubscribeError, word: &str) -> bool {
    err.to_string().contains(word)
}

#[test]
fn no_events_is_an_error() {
    let linker = linker();
    let none: [&str; 0] = [];
    assert_eq!(
        linker.on(none).subscribe(|| ()).unwrap_err(),
        SubscribeError::NoEvents
    );
    assert_eq!(
        linker
            .on(Vec::<String>::new())
            .subscribe(|| ())
            .unwrap_err(),
        SubscribeError::NoEvents
    );
    assert_eq!(
        linker
            .on(&[][..] as &[EventTarget])
            .subscribe(|| ())
            .unwrap_err(),
        SubscribeError::NoEvents
    );
    assert!(linker.is_empty());
    assert_eq!(linker.subscriber_count(), 0);
    assert!(err_message_mentions(SubscribeError::NoEvents, "on_any"));
}

#[test]
fn max_subscribers_is_all_or_nothing_across_events() {
    let linker = EventLinker::builder().max_subscribers(1).build().unwrap();
    let first = linker.on("A").subscribe(|| ()).unwrap();

    let err = linker.on(["B", "A"]).subscribe(|| ()).unwrap_err();
    assert_eq!(
        err,
        SubscribeError::TooManySubscribers {
            event: "A".into(),
            max: 1
        }
    );
    assert!(err.to_string().contains("`A`"), "{err}");
    assert!(
        !linker.contains_event("B"),
        "B was linked although A was full"
    );
    assert_eq!(linker.subscriber_count_of("B"), 0);
    assert_eq!(linker.subscriber_count(), 1);
    assert_eq!(linker.subscribers(), std::slice::from_ref(&first));

    // The failed call left no trace: B still has room.
    let b = linker.on("B").subscribe(|| ()).unwrap();
    assert_eq!(linker.events_of(&b), [named("B")]);
    // The limit is per event, and freeing a place makes room again.
    assert!(linker.on("A").subscribe(|| ()).is_err());
    assert!(first.unsubscribe());
    let again = linker.on(["A", "C"]).subscribe(|| ()).unwrap();
    assert_eq!(linker.events_of(&again), [named("A"), named("C")]);
}

#[test]
fn max_subscribers_applies_to_the_any_event_target() {
    let linker = EventLinker::builder().max_subscribers(2).build().unwrap();
    linker.on_any().subscribe(|| ()).unwrap();
    linker.on_any().subscribe(|| ()).unwrap();

    let err = linker.on_any().subscribe(|| ()).unwrap_err();
    assert_eq!(
        err,
        SubscribeError::TooManySubscribers {
            event: "any event".into(),
            max: 2
        }
    );
    let err = linker
        .on([named("C"), EventTarget::Any])
        .subscribe(|| ())
        .unwrap_err();
    assert!(
        matches!(err, SubscribeError::TooManySubscribers { max: 2, .. }),
        "{err:?}"
    );
    assert!(
        !linker.contains_event("C"),
        "C was linked although any-event was full"
    );
    assert_eq!(linker.subscriber_count_of(EventTarget::Any), 2);
    assert_eq!(linker.subscriber_count(), 2);

    // Named events have their own count.
    linker.on("C").subscribe(|| ()).unwrap();
    linker.on("C").subscribe(|| ()).unwrap();
    assert_eq!(linker.subscriber_count_of("C"), 2);
}

// ---------------------------------------------------------------------------------------
// Registry queries
// ---------------------------------------------------------------------------------------

#[test]
fn a_new_linker_is_empty() {
    let linker = linker();
    assert!(linker.is_empty());
    assert!(linker.events().is_empty());
    assert!(linker.subscribers().is_empty());
    assert_eq!(linker.event_count(), 0);
    assert_eq!(linker.subscriber_count(), 0);
    assert_eq!(linker.subscriber_count_of("A"), 0);
    assert_eq!(linker.subscriber_count_of(EventTarget::Any), 0);
    assert!(!linker.contains_event("A"));
    assert!(!linker.contains(EventTarget::Any));
    assert!(linker.subscribers_of(["A", "B"]).is_empty());
    assert!(!linker.remove_event("A"));
    assert!(!linker.remove_event(EventTarget::Any));
    linker.remove_all();
    assert!(linker.is_empty());
}

#[test]
fn events_are_sorted_with_any_last() {
    let linker = linker();
    linker.on_any().subscribe(|| ()).unwrap();
    linker.on(["b", "C"]).subscribe(|| ()).unwrap();
    linker.on("a").subscribe(|| ()).unwrap();
    assert!(!linker.is_empty());
    assert_eq!(linker.event_count(), 4);
    // Sorted by name (byte order: upper case first), the any-event target last.
    assert_eq!(
        linker.events(),
        [named("C"), named("a"), named("b"), EventTarget::Any]
    );
}

#[test]
fn subscribers_are_listed_in_subscription_order() {
    let linker = linker();
    let s1 = linker.on("B").subscribe(|| ()).unwrap();
    let s2 = linker.on("A").subscribe(|| ()).unwrap();
    let s3 = linker.on_any().subscribe(|| ()).unwrap();
    let s4 = linker.on(["A", "B"]).subscribe(|| ()).unwrap();
    assert_eq!(
        linker.subscribers(),
        [s1.clone(), s2.clone(), s3.clone(), s4.clone()]
    );
    assert!(s1.id() < s2.id() && s2.id() < s3.id() && s3.id() < s4.id());

    assert!(s2.unsubscribe());
    let s5 = linker.on("A").subscribe(|| ()).unwrap();
    assert_eq!(linker.subscribers(), [s1, s3, s4, s5]);
}

#[test]
fn counts_follow_subscriptions() {
    let linker = linker();
    let a = linker.on("A").subscribe(|| ()).unwrap();
    let ab = linker.on(["A", "B"]).subscribe(|| ()).unwrap();
    let any = linker
        .on([EventTarget::Any, named("B")])
        .subscribe(|| ())
        .unwrap();

    assert_eq!(linker.event_count(), 3);
    assert_eq!(linker.subscriber_count(), 3);
    assert_eq!(linker.subscriber_count_of("A"), 2);
    assert_eq!(linker.subscriber_count_of("B"), 2);
    assert_eq!(linker.subscriber_count_of(String::from("B")), 2);
    assert_eq!(linker.subscriber_count_of(EventTarget::Any), 1);
    assert_eq!(linker.subscriber_count_of("Nope"), 0);
    assert_eq!(linker.event_count_of(&a), 1);
    assert_eq!(linker.event_count_of(&ab), 2);
    assert_eq!(linker.event_count_of(&any), 2);

    assert!(ab.unsubscribe());
    assert_eq!(linker.event_count_of(&ab), 0);
    assert_eq!(linker.subscriber_count(), 2);
    assert_eq!(linker.subscriber_count_of("A"), 1);
    assert_eq!(linker.subscriber_count_of("B"), 1);
    assert!(a.unsubscribe());
    assert_eq!(
        linker.event_count(),
        2,
        "A has no subscriber left and must be gone"
    );
    assert_eq!(linker.events(), [named("B"), EventTarget::Any]);
}

#[test]
fn contains_checks_named_events_and_any() {
    let linker = linker();
    linker.on("A").subscribe(|| ()).unwrap();
    assert!(linker.contains_event("A"));
    assert!(linker.contains("A"));
    assert!(linker.contains(String::from("A")));
    assert!(linker.contains(named("A")));
    assert!(linker.contains(EventName::new("A").unwrap()));
    assert!(
        !linker.contains_event("a"),
        "event names are case sensitive"
    );
    assert!(!linker.contains_event(""));
    assert!(!linker.contains(EventTarget::Any));

    linker.on_any().subscribe(|| ()).unwrap();
    assert!(linker.contains(EventTarget::Any));
    assert!(
        !linker.contains_event("B"),
        "any-event subscribers do not make every event present"
    );
}

#[test]
fn empty_names_in_queries_are_not_the_any_event_target() {
    // Empty names are rejected when subscribing; asking about one must not answer for
    // the any-event target, nor remove its subscribers.
    let linker = linker();
    let any = linker.on_any().subscribe(|| ()).unwrap();
    assert!(
        !linker.contains(""),
        "contains(\"\") answered for the any-event target"
    );
    assert_eq!(
        linker.subscriber_count_of(""),
        0,
        "subscriber_count_of(\"\") counted any-event subscribers"
    );
    assert!(
        !linker.are_linked("", &any),
        "are_linked(\"\", _) matched an any-event subscriber"
    );
    assert!(
        linker.subscribers_of("").is_empty(),
        "subscribers_of(\"\") listed any-event subscribers"
    );
    assert!(
        !linker.remove("", &any),
        "remove(\"\", _) unlinked an any-event subscriber"
    );
    assert!(
        !linker.remove_event(""),
        "remove_event(\"\") removed the any-event target"
    );
    assert!(any.is_linked());
    assert!(linker.contains(EventTarget::Any));
}

#[test]
fn contains_subscriber_and_are_linked() {
    let linker = linker();
    let ab = linker.on(["A", "B"]).subscribe(|| ()).unwrap();
    let any = linker.on_any().subscribe(|| ()).unwrap();
    assert!(linker.contains_subscriber(&ab));
    assert!(linker.contains_subscriber(&any));
    assert!(linker.are_linked("A", &ab));
    assert!(linker.are_linked(named("B"), &ab));
    assert!(!linker.are_linked("C", &ab));
    assert!(!linker.are_linked(EventTarget::Any, &ab));
    assert!(linker.are_linked(EventTarget::Any, &any));
    assert!(
        !linker.are_linked("A", &any),
        "an any-event subscriber is not linked to A itself"
    );

    assert!(ab.unsubscribe());
    assert!(!linker.contains_subscriber(&ab));
    assert!(!linker.are_linked("A", &ab));
}

#[test]
fn events_of_keeps_the_order_given() {
    let linker = linker();
    let sub = linker.on(["B", "A", "C"]).subscribe(|| ()).unwrap();
    assert_eq!(linker.events_of(&sub), [named("B"), named("A"), named("C")]);
    let any = linker
        .on([EventTarget::Any, named("X")])
        .subscribe(|| ())
        .unwrap();
    assert_eq!(linker.events_of(&any), [EventTarget::Any, named("X")]);

    assert!(linker.remove("A", &sub));
    assert_eq!(linker.events_of(&sub), [named("B"), named("C")]);
    assert!(sub.unsubscribe());
    assert!(linker.events_of(&sub).is_empty());
}

#[test]
fn subscribers_of_lists_each_once_in_subscription_order() {
    let linker = linker();
    let b = linker.on("B").subscribe(|| ()).unwrap();
    let ab = linker.on(["A", "B"]).subscribe(|| ()).unwrap();
    let a = linker.on("A").subscribe(|| ()).unwrap();
    let any = linker.on_any().subscribe(|| ()).unwrap();
    let c = linker.on("C").subscribe(|| ()).unwrap();

    // Subscription order, not the order of the events asked about; `ab` once.
    assert_eq!(
        linker.subscribers_of(["A", "B"]),
        [b.clone(), ab.clone(), a.clone()]
    );
    assert_eq!(
        linker.subscribers_of(["B", "A", "B"]),
        [b.clone(), ab.clone(), a.clone()]
    );
    assert_eq!(linker.subscribers_of("A"), [ab.clone(), a.clone()]);
    assert_eq!(
        linker.subscribers_of(EventTarget::Any),
        std::slice::from_ref(&any)
    );
    assert_eq!(
        linker.subscribers_of([named("C"), EventTarget::Any]),
        [any, c]
    );
    assert!(linker.subscribers_of("Nope").is_empty());
    assert!(linker.subscribers_of(Vec::<String>::new()).is_empty());

    // The handles it returns are the subscriptions themselves.
    let found = linker.subscribers_of("B");
    assert!(found[0].unsubscribe());
    assert!(!b.is_linked());
    assert_eq!(linker.subscribers_of("B"), [ab]);
}

#[test]
fn remove_unlinks_one_event() {
    let linker = linker();
    let (ran, bump) = counter();
    let sub = linker.on(["A", "B"]).subscribe(bump).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);

    assert!(linker.remove("A", &sub));
    assert!(!linker.remove("A", &sub), "the link was removed twice");
    assert!(
        !linker.remove("C", &sub),
        "a link that never existed was removed"
    );
    assert!(linker.contains_subscriber(&sub));
    assert!(sub.is_linked());
    assert!(
        !linker.contains_event("A"),
        "A has no subscriber left and must be gone"
    );
    assert_eq!(linker.events_of(&sub), [named("B")]);

    emitter.emit("A").unwrap();
    assert_eq!(
        count(&ran),
        0,
        "a handler ran for an event it was unlinked from"
    );
    emitter.emit("B").unwrap();
    assert_eq!(count(&ran), 1);

    assert!(linker.remove("B", &sub));
    assert!(
        !linker.contains_subscriber(&sub),
        "a subscriber with no event left must be gone"
    );
    assert!(!sub.is_linked());
    assert!(!sub.unsubscribe());
    assert!(linker.is_empty());
    emitter.emit("B").unwrap();
    assert_eq!(count(&ran), 1);
}

#[test]
fn remove_event_drops_subscribers_left_with_no_event() {
    let linker = linker();
    let (ran, bump) = counter();
    let ab = linker.on(["A", "B"]).subscribe(|| ()).unwrap();
    let a = linker.on("A").subscribe(bump).unwrap();
    let b = linker.on("B").subscribe(|| ()).unwrap();

    assert!(linker.remove_event("A"));
    assert!(!linker.remove_event("A"), "an event was removed twice");
    assert!(!linker.contains_event("A"));
    assert!(
        !linker.contains_subscriber(&a),
        "a subscriber left with no event must be gone"
    );
    assert!(!a.is_linked());
    assert!(!a.unsubscribe());
    assert!(linker.contains_subscriber(&ab));
    assert_eq!(linker.events_of(&ab), [named("B")]);
    assert_eq!(linker.subscribers(), [ab.clone(), b]);
    assert_eq!(linker.subscriber_count(), 2);

    TokioEventEmitter::with_linker(&linker).emit("A").unwrap();
    assert_eq!(count(&ran), 0, "a handler of a removed event ran");

    // The any-event target is removed the same way.
    let any = linker.on_any().subscribe(|| ()).unwrap();
    assert!(linker.remove_event(EventTarget::Any));
    assert!(!linker.contains(EventTarget::Any));
    assert!(!any.is_linked());
    assert_eq!(linker.events(), [named("B")]);
}

#[test]
fn remove_subscriber_is_unsubscribe() {
    let linker = linker();
    let (ran, bump) = counter();
    let sub = linker.on(["A", "B"]).subscribe(bump).unwrap();
    let other = linker.on("B").subscribe(|| ()).unwrap();

    assert!(linker.remove_subscriber(&sub));
    assert!(!linker.remove_subscriber(&sub));
    assert!(!sub.unsubscribe());
    assert!(!sub.is_linked());
    assert!(!linker.contains_event("A"));
    assert_eq!(linker.events(), [named("B")]);
    assert_eq!(linker.subscribers(), std::slice::from_ref(&other));

    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("A").unwrap();
    emitter.emit("B").unwrap();
    assert_eq!(count(&ran), 0);

    assert!(other.unsubscribe());
    assert!(!linker.remove_subscriber(&other));
    assert!(linker.is_empty());
}

#[test]
fn remove_all_empties_the_namespace() {
    let linker = linker();
    let (ran, bump) = counter();
    let subs = [
        linker.on(["A", "B"]).subscribe(bump).unwrap(),
        linker.on_any().subscribe(|| ()).unwrap(),
        linker.on("C").once().subscribe(|| ()).unwrap(),
    ];
    linker.remove_all();
    assert!(linker.is_empty());
    assert_eq!(linker.event_count(), 0);
    assert_eq!(linker.subscriber_count(), 0);
    assert!(linker.events().is_empty());
    assert!(linker.subscribers().is_empty());
    for sub in &subs {
        assert!(!sub.is_linked(), "{sub:?} is still linked");
        assert!(!linker.contains_subscriber(sub));
        assert!(!sub.unsubscribe());
    }
    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("A").unwrap();
    assert_eq!(count(&ran), 0);

    // The namespace stays usable, with its settings.
    let (ran, bump) = counter();
    linker.on("A").subscribe(bump).unwrap();
    emitter.emit("A").unwrap();
    assert_eq!(count(&ran), 1);
}

#[test]
fn events_with_no_subscribers_are_removed() {
    let linker = linker();
    let keep = linker.on("Kept").subscribe(|| ()).unwrap();
    for i in 0..10_000 {
        let name = format!("Event{i}");
        let sub = linker
            .on([name.as_str(), "Shared"])
            .subscribe(|| ())
            .unwrap();
        assert_eq!(linker.event_count(), 3);
        // Every way of unlinking the last subscriber of an event removes the event.
        let removed = match i % 4 {
            0 => sub.unsubscribe(),
            1 => linker.remove_subscriber(&sub),
            2 => linker.remove(name.as_str(), &sub) && linker.remove("Shared", &sub),
            _ => linker.remove_event(name.as_str()) && linker.remove_event("Shared"),
        };
        assert!(removed, "round {i}");
    }
    assert_eq!(linker.event_count(), 1);
    assert_eq!(linker.events(), [named("Kept")]);
    assert!(keep.unsubscribe());
    assert!(linker.is_empty());
    assert_eq!(linker.event_count(), 0);
    assert_eq!(linker.subscriber_count(), 0);
    assert!(linker.events().is_empty());
}

#[test]
fn only_subscribe_and_unsubscribe_many_events_leave_nothing() {
    let linker = linker();
    for i in 0..10_000 {
        let sub = linker.on(format!("E{i}")).subscribe(|| ()).unwrap();
        assert!(sub.unsubscribe());
    }
    assert!(linker.is_empty());
    assert_eq!(linker.event_count(), 0);
}

// ---------------------------------------------------------------------------------------
// What an emission runs
// ---------------------------------------------------------------------------------------

#[test]
fn handlers_run_once_each_in_subscription_order() {
    let linker = linker();
    let order = Arc::new(Mutex::new(Vec::new()));
    let push = |tag: &'static str| {
        let order = order.clone();
        move || order.lock().unwrap().push(tag)
    };
    linker.on("A").subscribe(push("a1")).unwrap();
    linker.on_any().subscribe(push("any1")).unwrap();
    linker
        .on([named("A"), EventTarget::Any])
        .subscribe(push("both"))
        .unwrap();
    linker.on("B").subscribe(push("b")).unwrap();
    linker.on(["A", "B"]).subscribe(push("a2")).unwrap();

    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("A").unwrap();
    assert_eq!(*order.lock().unwrap(), ["a1", "any1", "both", "a2"]);

    order.lock().unwrap().clear();
    emitter.emit("Unlinked").unwrap();
    assert_eq!(*order.lock().unwrap(), ["any1", "both"]);
}

// ---------------------------------------------------------------------------------------
// Concurrent use
// ---------------------------------------------------------------------------------------

#[test]
fn max_subscribers_holds_under_concurrent_subscribes() {
    const THREADS: usize = 16;
    let linker = EventLinker::builder().max_subscribers(5).build().unwrap();
    let barrier = std::sync::Barrier::new(THREADS);
    let results: Vec<_> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|i| {
                let (linker, barrier) = (&linker, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    // Half the threads also ask for an event of their own.
                    let own = format!("Own{i}");
                    if i % 2 == 0 {
                        linker.on(["A", own.as_str()]).subscribe(|| ())
                    } else {
                        linker.on("A").subscribe(|| ())
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let linked: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(linked.len(), 5, "{results:?}");
    assert_eq!(linker.subscriber_count_of("A"), 5);
    assert_eq!(linker.subscriber_count(), 5);
    // A refused subscription left none of its events behind.
    let own_events = linker.events().len() - 1;
    let own_linked = linked
        .iter()
        .filter(|s| linker.event_count_of(s) == 2)
        .count();
    assert_eq!(own_events, own_linked);
}

#[test]
fn concurrent_subscribes_and_unsubscribes_leave_nothing() {
    const THREADS: usize = 8;
    let linker = linker();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let linker = &linker;
            s.spawn(move || {
                for i in 0..500 {
                    let own = format!("T{t}E{i}");
                    let sub = linker
                        .on([own.as_str(), "Shared"])
                        .subscribe(|| ())
                        .unwrap();
                    assert!(linker.are_linked("Shared", &sub));
                    assert!(linker.contains_event(&own));
                    assert!(sub.unsubscribe());
                    assert!(!linker.contains_event(&own));
                }
            });
        }
    });
    assert!(linker.is_empty(), "events left: {:?}", linker.events());
    assert_eq!(linker.event_count(), 0);
    assert_eq!(linker.subscriber_count(), 0);
}

/// Subscription ids are per linker, so two linkers hand out the same ids: a query given
/// another linker's subscription must not answer for this linker's subscription that
/// happens to share its id.
#[test]
fn queries_ignore_a_subscription_of_another_linker_with_the_same_id() {
    let ours = linker();
    let theirs = linker();
    let mine = ours.on(["A", "B", "C"]).subscribe(|| ()).unwrap();
    let foreign = theirs.on("X").subscribe(|| ()).unwrap();
    assert_eq!(
        mine.id(),
        foreign.id(),
        "both linkers start their ids alike"
    );

    assert_eq!(ours.event_count_of(&mine), 3);
    assert_eq!(ours.event_count_of(&foreign), 0);
    assert!(!ours.contains_subscriber(&foreign));
    assert!(ours.events_of(&foreign).is_empty());
    assert!(!ours.are_linked("A", &foreign));
    assert!(!ours.remove("A", &foreign));
    assert!(ours.are_linked("A", &mine), "nothing of ours was touched");
}
