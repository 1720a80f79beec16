//! Handler shapes, results and failures: errors and panics go to failure callbacks and
//! never stop the other handlers; success callbacks get the value; payload mismatches
//! are reported per handler; `blocking` handlers run off the emitting thread.

mod support;

use std::any::Any;
use std::sync::{Arc, Mutex};
use std::thread;

use support::{linker, setup, within, Counter, Failure, FailureKind, Failures, Log};
use ventus::{AnyEvent, EmitError, EventLinker, TokioEventEmitter};

fn fails_sync() -> Result<(), &'static str> {
    Err("boom-sync")
}

fn panics_sync() {
    panic!("kaboom-sync")
}

async fn fails_async() -> Result<u8, std::io::Error> {
    tokio::task::yield_now().await;
    Err(std::io::Error::other("boom-async"))
}

async fn panics_async() {
    tokio::task::yield_now().await;
    let n = 7;
    panic!("kaboom-async {n}")
}

async fn panics_async_at_once() {
    panic!("kaboom-async-first-poll")
}

/// Links, in this order: ok, fails_sync, ok, panics_sync, ok (async), fails_async,
/// panics_async, panics_async_at_once, ok; every one with the failure callback of
/// `failures`. Returns the count of successful handlers that ran.
fn link_mixed(linker: &EventLinker, event: &str, failures: &Failures) -> Counter {
    let ok = Counter::new();
    let sync_ok = || {
        let ok = ok.clone();
        move || ok.incr()
    };
    let async_ok = || {
        let ok = ok.clone();
        move || {
            let ok = ok.clone();
            async move {
                tokio::task::yield_now().await;
                ok.incr();
            }
        }
    };
    let on = || linker.on(event).on_failure(failures.callback());
    on().subscribe(sync_ok()).unwrap();
    on().subscribe(fails_sync).unwrap();
    on().subscribe(sync_ok()).unwrap();
    on().subscribe(panics_sync).unwrap();
    on().subscribe(async_ok()).unwrap();
    on().subscribe(fails_async).unwrap();
    on().subscribe(panics_async).unwrap();
    on().subscribe(panics_async_at_once).unwrap();
    on().subscribe(sync_ok()).unwrap();
    ok
}

fn check_mixed_failures(failures: &Failures, event: &str) {
    assert_eq!(failures.all().len(), 5, "{:#?}", failures.all());
    let expect = |handler: &str, kind: FailureKind| {
        let failure = failures.of_handler(handler);
        assert_eq!(failure.event, event);
        assert_eq!(failure.kind, kind, "{failure:#?}");
        assert!(failure.display.contains(handler), "{}", failure.display);
        assert!(failure.display.contains(event), "{}", failure.display);
    };
    expect("fails_sync", FailureKind::Failed("boom-sync".into()));
    expect("panics_sync", FailureKind::Panicked("kaboom-sync".into()));
    expect("fails_async", FailureKind::Failed("boom-async".into()));
    expect(
        "panics_async_at_once",
        FailureKind::Panicked("kaboom-async-first-poll".into()),
    );
    // `of_handler` matches by substring; `panics_async` is a prefix of the previous one.
    let formatted: Vec<Failure> = failures
        .all()
        .into_iter()
        .filter(|f| f.kind == FailureKind::Panicked("kaboom-async 7".into()))
        .collect();
    assert_eq!(formatted.len(), 1, "{:#?}", failures.all());
    assert!(formatted[0].handler.ends_with("panics_async"));
}

#[test]
fn failures_and_panics_do_not_stop_other_handlers_sync_context() {
    let (linker, emitter) = setup();
    let failures = Failures::new();
    let ok = link_mixed(&linker, "Mixed", &failures);
    emitter.emit("Mixed").unwrap();
    assert_eq!(ok.get(), 4, "every succeeding handler ran");
    check_mixed_failures(&failures, "Mixed");
}

#[test]
fn failures_and_panics_do_not_stop_other_handlers_sync_only() {
    // Only sync handlers: the emission runs without a runtime.
    let (linker, emitter) = setup();
    let failures = Failures::new();
    let ok = Counter::new();
    for _ in 0..2 {
        let o = ok.clone();
        linker.on("E").subscribe(move || o.incr()).unwrap();
        linker
            .on("E")
            .on_failure(failures.callback())
            .subscribe(fails_sync)
            .unwrap();
        linker
            .on("E")
            .on_failure(failures.callback())
            .subscribe(panics_sync)
            .unwrap();
    }
    emitter.emit("E").unwrap();
    assert_eq!(ok.get(), 2);
    let kinds: Vec<_> = failures.all().into_iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [
            FailureKind::Failed("boom-sync".into()),
            FailureKind::Panicked("kaboom-sync".into()),
            FailureKind::Failed("boom-sync".into()),
            FailureKind::Panicked("kaboom-sync".into()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_and_panics_do_not_stop_other_handlers_async_context() {
    let (linker, emitter) = setup();
    let failures = Failures::new();
    let ok = link_mixed(&linker, "Mixed", &failures);
    emitter.emit("Mixed").unwrap();
    emitter.wait_for_tasks().await;
    assert_eq!(ok.get(), 4, "every succeeding handler ran");
    check_mixed_failures(&failures, "Mixed");
}

#[test]
fn linker_default_on_failure_is_used_when_the_subscription_has_none() {
    let defaults = Failures::new();
    let own = Failures::new();
    let linker = EventLinker::builder()
        .on_failure(defaults.callback())
        .build()
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    linker.on("E").subscribe(fails_sync).unwrap();
    linker
        .on("E")
        .on_failure(own.callback())
        .subscribe(panics_sync)
        .unwrap();
    linker.on("E").subscribe(panics_async).unwrap();
    emitter.emit("E").unwrap();

    let defaults = defaults.all();
    assert_eq!(defaults.len(), 2, "{defaults:#?}");
    assert!(defaults[0].handler.ends_with("fails_sync"));
    assert_eq!(defaults[0].kind, FailureKind::Failed("boom-sync".into()));
    assert!(defaults[1].handler.ends_with("panics_async"));
    assert_eq!(
        defaults[1].kind,
        FailureKind::Panicked("kaboom-async 7".into())
    );
    let own = own.all();
    assert_eq!(
        own.len(),
        1,
        "the subscription's own callback, not the default"
    );
    assert!(own[0].handler.ends_with("panics_sync"));
}

#[test]
fn on_success_receives_the_typed_value() {
    let (linker, emitter) = setup();
    let sums = Arc::new(Mutex::new(Vec::new()));
    let strings = Arc::new(Mutex::new(Vec::new()));
    let failed = Counter::new();
    let s = sums.clone();
    let f = failed.clone();
    linker
        .on("Add")
        .on_success(move |v: &u64| s.lock().unwrap().push(*v))
        .on_failure(move |_| f.incr())
        .subscribe(|&(a, b): &(u64, u64)| a + b)
        .unwrap();
    let s = strings.clone();
    linker
        .on("Add")
        .on_success(move |v: &String| s.lock().unwrap().push(v.clone()))
        .subscribe(|(a, b): (u64, u64)| async move {
            tokio::task::yield_now().await;
            Ok::<_, std::io::Error>(format!("{a}+{b}"))
        })
        .unwrap();
    let s = sums.clone();
    linker
        .on("Add")
        .on_success(move |v: &u64| s.lock().unwrap().push(*v))
        .subscribe(|&(a, _): &(u64, u64)| if a > 100 { Err("too big") } else { Ok(a) })
        .unwrap();

    emitter.emit_with("Add", (2_u64, 3_u64)).unwrap();
    assert_eq!(*sums.lock().unwrap(), [5, 2]);
    assert_eq!(*strings.lock().unwrap(), ["2+3"]);

    // A failing handler does not call its success callback.
    emitter.emit_with("Add", (200_u64, 1_u64)).unwrap();
    assert_eq!(*sums.lock().unwrap(), [5, 2, 201]);
    assert_eq!(failed.get(), 0);
}

#[test]
fn a_success_does_not_call_on_failure_and_a_failure_does_not_call_on_success() {
    let (linker, emitter) = setup();
    let successes = Counter::new();
    let failures = Failures::new();
    let s = successes.clone();
    linker
        .on("E")
        .on_success(move |_: &()| s.incr())
        .on_failure(failures.callback())
        .subscribe(|ok: &bool| if *ok { Ok(()) } else { Err("no") })
        .unwrap();
    emitter.emit_with("E", true).unwrap();
    assert_eq!((successes.get(), failures.all().len()), (1, 0));
    emitter.emit_with("E", false).unwrap();
    assert_eq!((successes.get(), failures.all().len()), (1, 1));
}

#[test]
fn linker_default_on_success_gets_dyn_any() {
    let seen = Log::new();
    let s = seen.clone();
    let linker = EventLinker::builder()
        .on_success(move |value: &dyn Any| {
            let text = if let Some(v) = value.downcast_ref::<u32>() {
                format!("u32 {v}")
            } else if let Some(v) = value.downcast_ref::<String>() {
                format!("string {v}")
            } else if value.downcast_ref::<()>().is_some() {
                "unit".to_owned()
            } else {
                "unknown".to_owned()
            };
            s.push(text);
        })
        .build()
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    linker.on("E").subscribe(|| 7_u32).unwrap();
    linker
        .on("E")
        .subscribe(|| async { Ok::<_, std::io::Error>("async".to_owned()) })
        .unwrap();
    linker.on("E").subscribe(|| ()).unwrap();
    let own = Counter::new();
    let o = own.clone();
    linker
        .on("E")
        .on_success(move |_: &u32| o.incr())
        .subscribe(|| 99_u32)
        .unwrap();
    let o = own.clone();
    linker
        .on("E")
        .on_success(move |_: &u32| o.incr())
        .subscribe(|| async { 98_u32 })
        .unwrap();
    linker.on("E").subscribe(fails_sync).unwrap();

    emitter.emit("E").unwrap();
    assert_eq!(seen.snapshot(), ["u32 7", "string async", "unit"]);
    assert_eq!(
        own.get(),
        2,
        "a subscription's own callback replaces the default, sync or async"
    );
}

#[test]
fn payload_type_mismatch_is_reported_and_others_still_run() {
    let (linker, emitter) = setup();
    let failures = Failures::new();
    let got = Log::new();
    linker
        .on("E")
        .on_failure(failures.callback())
        .subscribe(|_: &u32| ())
        .unwrap();
    let g = got.clone();
    linker
        .on("E")
        .on_failure(failures.callback())
        .subscribe(move |s: &&str| g.push(format!("sync {s}")))
        .unwrap();
    linker
        .on("E")
        .on_failure(failures.callback())
        .subscribe(|_: u32| async {})
        .unwrap();
    let g = got.clone();
    linker
        .on("E")
        .on_failure(failures.callback())
        .subscribe(move |s: &'static str| {
            let g = g.clone();
            async move { g.push(format!("async {s}")) }
        })
        .unwrap();

    emitter.emit_with("E", "text").unwrap();
    assert_eq!(got.snapshot(), ["sync text", "async text"]);
    let all = failures.all();
    assert_eq!(all.len(), 2, "{all:#?}");
    for failure in all {
        assert_eq!(
            failure.kind,
            FailureKind::PayloadType {
                expected: "u32".into(),
                found: Some("&str".into())
            }
        );
        assert!(failure.display.contains("`u32`"), "{}", failure.display);
        assert!(failure.display.contains("`&str`"), "{}", failure.display);
        assert!(failure.display.contains("`E`"), "{}", failure.display);
    }
}

#[test]
fn handler_taking_a_payload_fails_when_emitted_without_one() {
    let (linker, emitter) = setup();
    let failures = Failures::new();
    let ran = Counter::new();
    linker
        .on("E")
        .on_failure(failures.callback())
        .subscribe(|_: &u32| ())
        .unwrap();
    linker
        .on("E")
        .on_failure(failures.callback())
        .subscribe(|_: String| async {})
        .unwrap();
    let r = ran.clone();
    linker.on("E").subscribe(move || r.incr()).unwrap();
    // A handler of `()` takes an emission without a payload, so the event accepts it,
    // and the two handlers that want one fail on their own.
    linker.on("E").subscribe(|_: &()| ()).unwrap();
    emitter.emit("E").unwrap();
    assert_eq!(ran.get(), 1);
    let kinds: Vec<_> = failures.all().into_iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [
            FailureKind::PayloadType {
                expected: "u32".into(),
                found: None
            },
            FailureKind::PayloadType {
                expected: std::any::type_name::<String>().into(),
                found: None
            },
        ]
    );
    assert!(
        failures.all()[0].display.contains("without"),
        "{:?}",
        failures.all()[0]
    );
}

#[test]
fn empty_event_name_is_an_error_not_a_panic() {
    let (linker, emitter) = setup();
    let ran = Counter::new();
    let r = ran.clone();
    // An any-event subscriber must not make "" look like a linked event.
    linker.on_any().subscribe(move || r.incr()).unwrap();
    assert!(matches!(emitter.emit(""), Err(EmitError::EmptyEventName)));
    assert!(matches!(
        emitter.emit_with("", 1_u8),
        Err(EmitError::EmptyEventName)
    ));
    let err = emitter.emit("").unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    assert_eq!(ran.get(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn empty_event_name_is_an_error_in_an_async_context() {
    let (linker, emitter) = setup();
    linker.on_any().subscribe(|| ()).unwrap();
    assert!(matches!(emitter.emit(""), Err(EmitError::EmptyEventName)));
    assert_eq!(emitter.processor().in_flight(), 0);
}

#[test]
fn blocking_handler_runs_on_another_thread_and_finishes_before_emit_returns() {
    let (linker, emitter) = setup();
    let log = Log::new();
    let threads = Arc::new(Mutex::new(Vec::new()));
    let (l, t) = (log.clone(), threads.clone());
    linker
        .on("Slow")
        .blocking()
        .subscribe(move |n: &u32| {
            t.lock().unwrap().push(("blocking", thread::current().id()));
            for _ in 0..1000 {
                thread::yield_now();
            }
            l.push(format!("blocking done {n}"));
        })
        .unwrap();
    let (l, t) = (log.clone(), threads.clone());
    linker
        .on("Slow")
        .subscribe(move |n: &u32| {
            t.lock().unwrap().push(("plain", thread::current().id()));
            l.push(format!("plain done {n}"));
        })
        .unwrap();

    let emitting = within("emit with a blocking handler", move || {
        emitter.emit_with("Slow", 7_u32).unwrap();
        thread::current().id()
    });
    let mut seen = log.snapshot();
    seen.sort();
    assert_eq!(seen, ["blocking done 7", "plain done 7"]);
    let mut threads = threads.lock().unwrap().clone();
    threads.sort_by_key(|(label, _)| *label);
    assert_eq!(threads.len(), 2);
    assert_eq!(threads[0].0, "blocking");
    assert_ne!(
        threads[0].1, emitting,
        "a blocking handler runs off the emitting thread"
    );
}

#[test]
fn two_blocking_handlers_run_at_the_same_time() {
    let (linker, emitter) = setup();
    // Each waits for the other on a std barrier: run on one thread, they never finish.
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let done = Counter::new();
    for _ in 0..2 {
        let (b, d) = (barrier.clone(), done.clone());
        linker
            .on("E")
            .blocking()
            .subscribe(move || {
                b.wait();
                d.incr();
            })
            .unwrap();
    }
    within("two blocking handlers waiting for each other", move || {
        emitter.emit("E").unwrap();
    });
    assert_eq!(done.get(), 2);
}

#[test]
fn blocking_handler_failures_go_to_the_failure_callback() {
    let (linker, emitter) = setup();
    let failures = Failures::new();
    linker
        .on("E")
        .blocking()
        .on_failure(failures.callback())
        .subscribe(fails_sync)
        .unwrap();
    linker
        .on("E")
        .blocking()
        .on_failure(failures.callback())
        .subscribe(panics_sync)
        .unwrap();
    linker
        .on("E")
        .blocking()
        .on_failure(failures.callback())
        .subscribe(|_: &u32| ())
        .unwrap();
    // Takes the `&str` emitted: the event accepts it, and the `u32` handler fails alone.
    linker.on("E").subscribe(|_: &&str| ()).unwrap();
    emitter.emit_with("E", "x").unwrap();
    assert_eq!(
        failures.of_handler("fails_sync").kind,
        FailureKind::Failed("boom-sync".into())
    );
    assert_eq!(
        failures.of_handler("panics_sync").kind,
        FailureKind::Panicked("kaboom-sync".into())
    );
    // Blocking handlers finish in any order; find the mismatch by its kind.
    let all = failures.all();
    assert_eq!(all.len(), 3, "{all:#?}");
    let mismatch = FailureKind::PayloadType {
        expected: "u32".into(),
        found: Some("&str".into()),
    };
    assert_eq!(
        all.iter().filter(|f| f.kind == mismatch).count(),
        1,
        "{all:#?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn blocking_handler_in_an_async_context_runs_off_the_runtime_thread() {
    let (linker, emitter) = setup();
    let threads = Arc::new(Mutex::new(Vec::new()));
    let t = threads.clone();
    linker
        .on("E")
        .blocking()
        .subscribe(move |s: &String| t.lock().unwrap().push((thread::current().id(), s.clone())))
        .unwrap();
    emitter.emit_with("E", "payload".to_owned()).unwrap();
    emitter.wait_for_tasks().await;
    let threads = threads.lock().unwrap();
    assert_eq!(threads.len(), 1);
    assert_ne!(threads[0].0, thread::current().id());
    assert_eq!(threads[0].1, "payload");
}

#[tokio::test(flavor = "current_thread")]
async fn a_blocking_handler_and_its_callbacks_run_together_on_the_blocking_thread() {
    let (linker, emitter) = setup();
    let threads = Arc::new(Mutex::new(Vec::new()));
    let record = |what: &'static str| {
        let threads = threads.clone();
        move || threads.lock().unwrap().push((what, thread::current().id()))
    };
    for fails in [false, true] {
        let (handler, success, failure) = (record("handler"), record("success"), record("failure"));
        linker
            .on("E")
            .blocking()
            .on_success(move |_: &()| success())
            .on_failure(move |_| failure())
            .subscribe(move || {
                handler();
                if fails {
                    Err("refused")
                } else {
                    Ok(())
                }
            })
            .unwrap();
        emitter.emit("E").unwrap();
        emitter.wait_for_tasks().await;
        let seen = std::mem::take(&mut *threads.lock().unwrap());
        let callback = if fails { "failure" } else { "success" };
        let names: Vec<_> = seen.iter().map(|(what, _)| *what).collect();
        assert_eq!(names, ["handler", callback], "fails: {fails}");
        assert_eq!(
            seen[0].1, seen[1].1,
            "{callback} runs on the handler's thread"
        );
        assert_ne!(
            seen[0].1,
            thread::current().id(),
            "a blocking handler runs off the runtime thread"
        );
        linker.remove_all();
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Order {
    id: u64,
    items: Vec<String>,
}

#[test]
fn any_event_gives_name_id_and_payload() {
    let (linker, emitter) = setup();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    linker
        .on_any()
        .subscribe(move |e: &AnyEvent| {
            s.lock().unwrap().push((
                "sync",
                e.name().to_string(),
                e.id(),
                e.payload::<u32>().copied(),
                e.payload_type(),
            ));
        })
        .unwrap();
    let s = seen.clone();
    linker
        .on("B")
        .subscribe(move |e: AnyEvent| {
            let s = s.clone();
            async move {
                tokio::task::yield_now().await;
                s.lock().unwrap().push((
                    "async",
                    e.name().to_string(),
                    e.id(),
                    e.payload::<u32>().copied(),
                    e.payload_type(),
                ));
            }
        })
        .unwrap();

    emitter.emit_with("A", 5_u32).unwrap();
    emitter.emit("B").unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(
        (seen[0].0, seen[0].1.as_str(), seen[0].3, seen[0].4),
        ("sync", "A", Some(5), Some("u32"))
    );
    assert_eq!(
        (seen[1].0, seen[1].1.as_str(), seen[1].3, seen[1].4),
        ("sync", "B", None, None)
    );
    assert_eq!(
        (seen[2].0, seen[2].1.as_str(), seen[2].3, seen[2].4),
        ("async", "B", None, None)
    );
    assert_ne!(seen[0].2, seen[1].2, "each emission has its own id");
    assert_eq!(
        seen[1].2, seen[2].2,
        "handlers of one emission see the same id"
    );
}

#[test]
fn async_handler_takes_a_clone_of_the_payload_by_value() {
    let (linker, emitter) = setup();
    let got = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..2 {
        let g = got.clone();
        linker
            .on("Order")
            .subscribe(move |mut order: Order| {
                let g = g.clone();
                async move {
                    tokio::task::yield_now().await;
                    order.items.push("mine".into());
                    g.lock().unwrap().push(order);
                }
            })
            .unwrap();
    }
    let by_ref = Arc::new(Mutex::new(None));
    let b = by_ref.clone();
    linker
        .on("Order")
        .subscribe(move |order: &Order| *b.lock().unwrap() = Some(order.clone()))
        .unwrap();
    let order = Order {
        id: 1,
        items: vec!["book".into()],
    };
    emitter.emit_with("Order", order.clone()).unwrap();
    let mine = Order {
        id: 1,
        items: vec!["book".into(), "mine".into()],
    };
    assert_eq!(*got.lock().unwrap(), [mine.clone(), mine]);
    assert_eq!(
        by_ref.lock().unwrap().as_ref(),
        Some(&order),
        "each handler got its own copy"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn async_handler_takes_a_clone_of_the_payload_in_an_async_context() {
    let (linker, emitter) = setup();
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    linker
        .on("Order")
        .subscribe(move |order: Order| {
            let g = g.clone();
            async move { g.lock().unwrap().push(order.id) }
        })
        .unwrap();
    emitter
        .emit_with(
            "Order",
            Order {
                id: 42,
                items: Vec::new(),
            },
        )
        .unwrap();
    emitter.wait_for_tasks().await;
    assert_eq!(*got.lock().unwrap(), [42]);
}

#[test]
fn the_unit_payload_handler_accepts_an_emission_without_payload() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let ran = Counter::new();
    let r = ran.clone();
    linker.on("E").subscribe(move |_: &()| r.incr()).unwrap();
    emitter.emit("E").unwrap();
    assert_eq!(ran.get(), 1);
}
