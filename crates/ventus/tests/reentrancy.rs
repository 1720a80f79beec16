//! Subscribing, unsubscribing and emitting from inside a handler: no deadlock, and the
//! documented effect on the emission in progress (a new handler runs from the next
//! emission on; an unsubscribed handler that has not started is skipped; a nested
//! emission completes before a sync-context `emit` returns, or by `wait_for_tasks`).

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use support::{setup, within, within_async, Counter, Log};
use ventus::{EventLinker, Subscription, TokioEventEmitter};

/// How the handler that does the re-entrant operation is shaped.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// Sync handler; every handler of the event is sync (no runtime involved).
    SyncOnly,
    /// Sync handler; another handler of the event is async, so a runtime drives it.
    SyncBesideAsync,
    /// Async handler, acting before its first await.
    Async,
    /// Sync handler on the blocking pool.
    Blocking,
}

const SHAPES: [Shape; 4] = [
    Shape::SyncOnly,
    Shape::SyncBesideAsync,
    Shape::Async,
    Shape::Blocking,
];

/// Links `action` to `event` in the given shape (plus an async companion handler for
/// [`Shape::SyncBesideAsync`]). `action` runs once per emission of `event`.
fn link_action(
    linker: &EventLinker,
    event: &str,
    shape: Shape,
    action: impl Fn() + Send + Sync + 'static,
) -> Subscription {
    let action = Arc::new(action);
    let sub = match shape {
        Shape::SyncOnly | Shape::SyncBesideAsync => {
            linker.on(event).subscribe(move || action()).unwrap()
        }
        Shape::Blocking => linker
            .on(event)
            .blocking()
            .subscribe(move || action())
            .unwrap(),
        Shape::Async => linker
            .on(event)
            .subscribe(move || {
                let action = action.clone();
                async move {
                    action();
                    tokio::task::yield_now().await;
                }
            })
            .unwrap(),
    };
    if matches!(shape, Shape::SyncBesideAsync) {
        linker.on(event).subscribe(tokio::task::yield_now).unwrap();
    }
    sub
}

// ---------------------------------------------------------------- subscribe inside

/// The outer handler subscribes `late` on its first run; returns the log.
fn subscribe_from_handler(linker: &EventLinker, shape: Shape) -> Log {
    let log = Log::new();
    let (l, ln, done) = (
        log.clone(),
        linker.clone(),
        Arc::new(AtomicBool::new(false)),
    );
    link_action(linker, "E", shape, move || {
        l.push("outer");
        if !done.swap(true, Ordering::SeqCst) {
            let late = l.clone();
            ln.on("E").subscribe(move || late.push("late")).unwrap();
        }
    });
    log
}

#[test]
fn subscribe_inside_a_handler_runs_from_the_next_emission_sync_context() {
    for shape in SHAPES {
        let (linker, emitter) = setup();
        let log = subscribe_from_handler(&linker, shape);
        let log2 = log.clone();
        let (first, second) = within("subscribe inside a handler", move || {
            emitter.emit("E").unwrap();
            let first = log2.take();
            emitter.emit("E").unwrap();
            (first, log2.take())
        });
        assert_eq!(
            first,
            ["outer"],
            "{shape:?}: not in the emission in progress"
        );
        // Sorted: a blocking `outer` may finish after `late`; start order is tested elsewhere.
        let mut second = second;
        second.sort();
        assert_eq!(second, ["late", "outer"], "{shape:?}: runs in the next one");
        assert_eq!(
            linker.subscriber_count_of("E"),
            2 + usize::from(matches!(shape, Shape::SyncBesideAsync))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_inside_a_handler_runs_from_the_next_emission_async_context() {
    for shape in SHAPES {
        let (linker, emitter) = setup();
        let log = subscribe_from_handler(&linker, shape);
        emitter.emit("E").unwrap();
        within_async("wait", emitter.wait_for_tasks()).await;
        assert_eq!(log.take(), ["outer"], "{shape:?}");
        emitter.emit("E").unwrap();
        within_async("wait", emitter.wait_for_tasks()).await;
        let mut second = log.take();
        second.sort();
        assert_eq!(second, ["late", "outer"], "{shape:?}");
    }
}

// -------------------------------------------------------------- unsubscribe inside

struct Unsubscribing {
    first: Counter,
    killer: Counter,
    victim: Counter,
    after: Counter,
    results: Log,
}

/// Links, in order: `first`, `killer` (unsubscribes itself and `victim`), `victim`,
/// `after`.
fn unsubscribe_from_handler(linker: &EventLinker, shape: Shape) -> Unsubscribing {
    let t = Unsubscribing {
        first: Counter::new(),
        killer: Counter::new(),
        victim: Counter::new(),
        after: Counter::new(),
        results: Log::new(),
    };
    let c = t.first.clone();
    linker.on("E").subscribe(move || c.incr()).unwrap();
    let me: Arc<OnceLock<Subscription>> = Arc::default();
    let victim: Arc<OnceLock<Subscription>> = Arc::default();
    let (c, m, v, results) = (
        t.killer.clone(),
        me.clone(),
        victim.clone(),
        t.results.clone(),
    );
    let killer = link_action(linker, "E", shape, move || {
        c.incr();
        let myself = m.get().expect("set before emitting").unsubscribe();
        let other = v.get().expect("set before emitting").unsubscribe();
        results.push(format!("self {myself}, victim {other}"));
    });
    me.set(killer).unwrap();
    let c = t.victim.clone();
    victim
        .set(linker.on("E").subscribe(move || c.incr()).unwrap())
        .unwrap();
    let c = t.after.clone();
    linker.on("E").subscribe(move || c.incr()).unwrap();
    t
}

fn counts(t: &Unsubscribing) -> [usize; 4] {
    [t.first.get(), t.killer.get(), t.victim.get(), t.after.get()]
}

#[test]
fn unsubscribe_inside_a_handler_skips_handlers_not_yet_started_sync_context() {
    for shape in SHAPES {
        if matches!(shape, Shape::Blocking) {
            // A blocking handler runs on its own thread; the handlers after it may have
            // started before it unsubscribes them, so "not yet started" is not given.
            continue;
        }
        let (linker, emitter) = setup();
        let t = unsubscribe_from_handler(&linker, shape);
        let em = emitter.clone();
        within("unsubscribe inside a handler", move || {
            em.emit("E").unwrap();
        });
        assert_eq!(counts(&t), [1, 1, 0, 1], "{shape:?}: victim skipped");
        assert_eq!(
            t.results.snapshot(),
            ["self true, victim true"],
            "{shape:?}"
        );
        let em = emitter.clone();
        within("emit again", move || em.emit("E").unwrap());
        assert_eq!(counts(&t), [2, 1, 0, 2], "{shape:?}: both are gone");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn unsubscribe_inside_a_handler_skips_handlers_not_yet_started_async_context() {
    for shape in [Shape::SyncOnly, Shape::SyncBesideAsync, Shape::Async] {
        let (linker, emitter) = setup();
        let t = unsubscribe_from_handler(&linker, shape);
        emitter.emit("E").unwrap();
        within_async("wait", emitter.wait_for_tasks()).await;
        assert_eq!(counts(&t), [1, 1, 0, 1], "{shape:?}: victim skipped");
        assert_eq!(
            t.results.snapshot(),
            ["self true, victim true"],
            "{shape:?}"
        );
        emitter.emit("E").unwrap();
        within_async("wait", emitter.wait_for_tasks()).await;
        assert_eq!(counts(&t), [2, 1, 0, 2], "{shape:?}: both are gone");
    }
}

#[test]
fn blocking_handler_unsubscribing_others_does_not_deadlock() {
    let (linker, emitter) = setup();
    let t = unsubscribe_from_handler(&linker, Shape::Blocking);
    let em = emitter.clone();
    within("unsubscribe inside a blocking handler", move || {
        em.emit("E").unwrap();
        em.emit("E").unwrap();
    });
    assert_eq!(t.results.snapshot(), ["self true, victim true"]);
    assert_eq!(t.killer.get(), 1);
    assert!(t.victim.get() <= 1);
    assert_eq!((t.first.get(), t.after.get()), (2, 2));
}

// -------------------------------------------------------------------- emit inside

/// `E`'s handler (in `shape`) emits `Inner`, whose async handler yields, then records.
fn emit_from_handler(linker: &EventLinker, emitter: &TokioEventEmitter, shape: Shape) -> Log {
    let log = Log::new();
    let (l, em) = (log.clone(), emitter.clone());
    link_action(linker, "E", shape, move || {
        l.push("outer");
        em.emit("Inner").expect("nested emit");
    });
    let l = log.clone();
    linker
        .on("Inner")
        .subscribe(move || {
            let l = l.clone();
            async move {
                // Many turns of the scheduler: an `emit` that does not wait for the nested
                // emission returns long before this ends.
                for _ in 0..1000 {
                    tokio::task::yield_now().await;
                }
                l.push("inner done");
            }
        })
        .unwrap();
    let l = log.clone();
    linker
        .on("Inner")
        .subscribe(move || l.push("inner sync"))
        .unwrap();
    log
}

fn check_nested_sync_context(shape: Shape) {
    for _round in 0..5 {
        check_nested_sync_context_once(shape);
    }
}

fn check_nested_sync_context_once(shape: Shape) {
    let (linker, emitter) = setup();
    let log = emit_from_handler(&linker, &emitter, shape);
    let l = log.clone();
    let em = emitter.clone();
    within("emit inside a handler", move || {
        em.emit("E").unwrap();
        l.push("emit returned");
    });
    let mut seen = log.snapshot();
    let in_flight = emitter.processor().in_flight();
    assert_eq!(
        seen.last().map(String::as_str),
        Some("emit returned"),
        "{shape:?}: {seen:?}"
    );
    seen.sort();
    assert_eq!(
        seen,
        ["emit returned", "inner done", "inner sync", "outer"],
        "{shape:?}: the nested emission must complete before the outer emit returns \
         (emissions in flight after emit returned: {in_flight})"
    );
    assert_eq!(in_flight, 0, "{shape:?}: nothing left in flight");
}

#[test]
fn emit_inside_a_sync_handler_completes_before_a_sync_context_emit_returns() {
    check_nested_sync_context(Shape::SyncOnly);
}

#[test]
fn emit_inside_a_sync_handler_beside_async_ones_completes_before_emit_returns() {
    check_nested_sync_context(Shape::SyncBesideAsync);
}

#[test]
fn emit_inside_an_async_handler_completes_before_a_sync_context_emit_returns() {
    check_nested_sync_context(Shape::Async);
}

#[test]
fn emit_inside_a_blocking_handler_completes_before_a_sync_context_emit_returns() {
    check_nested_sync_context(Shape::Blocking);
}

#[tokio::test(flavor = "current_thread")]
async fn emit_inside_a_handler_completes_by_wait_for_tasks_current_thread() {
    for shape in SHAPES {
        let (linker, emitter) = setup();
        let log = emit_from_handler(&linker, &emitter, shape);
        emitter.emit("E").unwrap();
        within_async("wait", emitter.wait_for_tasks()).await;
        let mut seen = log.snapshot();
        seen.sort();
        assert_eq!(seen, ["inner done", "inner sync", "outer"], "{shape:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_inside_a_handler_completes_by_wait_for_tasks_multi_thread() {
    for shape in SHAPES {
        let (linker, emitter) = setup();
        let log = emit_from_handler(&linker, &emitter, shape);
        emitter.emit("E").unwrap();
        within_async("wait", emitter.wait_for_tasks()).await;
        let mut seen = log.snapshot();
        seen.sort();
        assert_eq!(seen, ["inner done", "inner sync", "outer"], "{shape:?}");
    }
}

/// A handler that emits its own event again, `depth` times, after awaiting: every
/// level is an emission made while `wait_for_tasks` (or the sync `emit`) waits.
fn recursive(linker: &EventLinker, emitter: &TokioEventEmitter, levels: &Counter) {
    let (em, c) = (emitter.clone(), levels.clone());
    linker
        .on("Rec")
        .subscribe(move |depth: u32| {
            let (em, c) = (em.clone(), c.clone());
            async move {
                tokio::task::yield_now().await;
                c.incr();
                if depth < 5 {
                    em.emit_with("Rec", depth + 1).expect("nested emit");
                }
            }
        })
        .unwrap();
    let em = emitter.clone();
    linker
        .on("Rec")
        .subscribe(move |depth: &u32| {
            // A sync handler emitting a sibling event with no handler at each level.
            em.emit_with("Nothing", *depth).expect("nested emit");
        })
        .unwrap();
}

#[test]
fn recursive_emission_completes_in_a_sync_context() {
    let (linker, emitter) = setup();
    let levels = Counter::new();
    recursive(&linker, &emitter, &levels);
    within("recursive emission", move || {
        emitter.emit_with("Rec", 0_u32).unwrap()
    });
    assert_eq!(levels.get(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursive_emission_completes_by_wait_for_tasks() {
    let (linker, emitter) = setup();
    let levels = Counter::new();
    recursive(&linker, &emitter, &levels);
    emitter.emit_with("Rec", 0_u32).unwrap();
    within_async("wait", emitter.wait_for_tasks()).await;
    assert_eq!(levels.get(), 6);
}

// ------------------------------------------------------------ everything at once

#[test]
fn registry_operations_inside_handlers_do_not_deadlock() {
    for shape in SHAPES {
        let (linker, emitter) = setup();
        let log = Log::new();
        let (l, ln, em) = (log.clone(), linker.clone(), emitter.clone());
        link_action(&linker, "E", shape, move || {
            // Queries, a subscription, its removal, an event removal and an emission.
            l.push(format!("count {}", ln.subscriber_count_of("E")));
            let _ = ln.events();
            let _ = ln.subscribers();
            let sub = ln.on(["Tmp", "Other"]).subscribe(|| ()).unwrap();
            assert!(ln.remove("Tmp", &sub));
            assert!(ln.remove_event("Other"));
            let guard = ln.on("Guarded").subscribe(|| ()).unwrap().guard();
            em.emit("Guarded").unwrap();
            drop(guard);
            em.emit("Nested").unwrap();
        });
        let l = log.clone();
        linker
            .on("Nested")
            .subscribe(move || l.push("nested"))
            .unwrap();
        let em = emitter.clone();
        within("registry operations inside a handler", move || {
            em.emit("E").unwrap();
        });
        assert_eq!(
            log.with_prefix("count").len(),
            1,
            "{shape:?}: {:?}",
            log.snapshot()
        );
        assert!(
            log.position("nested").is_some(),
            "{shape:?}: the nested emission must have run before the outer emit returned: {:?}",
            log.snapshot()
        );
        assert!(!linker.contains_event("Guarded"), "{shape:?}");
        assert!(!linker.contains_event("Tmp"), "{shape:?}");
    }
}
