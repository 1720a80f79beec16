//! Sync-context emissions of sync handlers take the emitter's lean path (no `Emission`
//! is built, one `catch_unwind` covers the handler loop). These tests run the same
//! scenarios on the lean path (default emitter) and on the full path (an emitter with
//! detailed reports, which the lean path does not serve), and expect the same outcome.
//! No test here installs a `tracing` subscriber: one enabled at `DEBUG` would send every
//! emission to the full path.

mod support;

use std::sync::{Arc, Mutex};

use support::{within, FailureKind, Failures};
use ventus::{EventEmitter, EventLinker, TokioEventEmitter};

/// The default emitter (lean) and one with detailed reports (full), on `linker`.
fn emitters(linker: &EventLinker) -> [(&'static str, TokioEventEmitter); 2] {
    [
        ("lean", TokioEventEmitter::with_linker(linker)),
        (
            "full",
            EventEmitter::builder()
                .linker(linker)
                .detailed_reports(true)
                .build(),
        ),
    ]
}

#[test]
fn panics_and_errors_are_charged_to_their_handler_and_the_rest_still_run() {
    within("lean panics", || {
        let failures = Failures::new();
        let linker = EventLinker::builder()
            .on_failure(failures.callback())
            .build()
            .unwrap();
        let ran = Arc::new(Mutex::new(Vec::new()));
        let mark = |n: u32| {
            let ran = ran.clone();
            move |_: &u64| ran.lock().unwrap().push(n)
        };
        linker.on("E").subscribe(mark(1)).unwrap();
        let m2 = mark(2);
        linker
            .on("E")
            .subscribe(move |v: &u64| -> () {
                m2(v);
                panic!("second handler panics");
            })
            .unwrap();
        linker.on("E").subscribe(mark(3)).unwrap();
        let m4 = mark(4);
        linker
            .on("E")
            .subscribe(move |v: &u64| -> Result<(), std::io::Error> {
                m4(v);
                Err(std::io::Error::other("fourth handler fails"))
            })
            .unwrap();
        let m5 = mark(5);
        linker
            .on("E")
            .subscribe(move |v: &u64| -> () {
                m5(v);
                panic!("fifth handler panics");
            })
            .unwrap();
        linker.on("E").subscribe(mark(6)).unwrap();

        for (path, emitter) in emitters(&linker) {
            let report = emitter.emit_with("E", 7_u64).unwrap().wait().unwrap();
            let counts = report.counts();
            assert_eq!(
                (counts.succeeded, counts.failed, counts.panicked),
                (3, 1, 2),
                "{path}: {report}"
            );
            assert_eq!(
                std::mem::take(&mut *ran.lock().unwrap()),
                [1, 2, 3, 4, 5, 6],
                "{path}: every handler runs once, in order"
            );
            let seen: Vec<FailureKind> = failures.all().into_iter().map(|f| f.kind).collect();
            assert_eq!(
                seen,
                [
                    FailureKind::Panicked("second handler panics".into()),
                    FailureKind::Failed("fourth handler fails".into()),
                    FailureKind::Panicked("fifth handler panics".into()),
                ],
                "{path}"
            );
            failures.clear();
            let metrics = emitter.metrics();
            assert_eq!(
                (
                    metrics.emitted,
                    metrics.succeeded,
                    metrics.failed,
                    metrics.panicked
                ),
                (1, 3, 1, 2),
                "{path}"
            );
        }
    });
}

#[test]
fn a_handler_that_panics_last_is_reported_and_emit_returns() {
    within("lean last panic", || {
        let failures = Failures::new();
        let linker = EventLinker::builder()
            .on_failure(failures.callback())
            .build()
            .unwrap();
        linker
            .on("E")
            .subscribe(|| -> () { panic!("only handler") })
            .unwrap();
        for (path, emitter) in emitters(&linker) {
            let report = emitter.emit("E").unwrap().wait().unwrap();
            assert_eq!(report.counts().panicked, 1, "{path}");
            assert_eq!(failures.all().len(), 1, "{path}");
            failures.clear();
        }
    });
}

#[test]
fn once_subscribers_run_once_across_paths() {
    within("lean once", || {
        let linker = support::linker();
        let count = support::Counter::new();
        let c = count.clone();
        linker.on("E").once().subscribe(move || c.incr()).unwrap();
        let steady = support::Counter::new();
        let s = steady.clone();
        linker.on("E").subscribe(move || s.incr()).unwrap();
        let [(_, lean), (_, full)] = emitters(&linker);

        let first = lean.emit("E").unwrap().wait().unwrap();
        assert_eq!(first.counts().succeeded, 2);
        let second = full.emit("E").unwrap().wait().unwrap();
        assert_eq!(second.counts().succeeded, 1);
        let third = lean.emit("E").unwrap().wait().unwrap();
        assert_eq!(third.counts().succeeded, 1);
        assert_eq!((count.get(), steady.get()), (1, 3));
        assert_eq!(linker.subscriber_count(), 1);
    });
}

#[test]
fn any_event_handlers_merge_in_subscription_order() {
    within("lean any", || {
        let linker = support::linker();
        let log = support::Log::new();
        let l = log.clone();
        linker.on("A").subscribe(move || l.push("a1")).unwrap();
        let l = log.clone();
        linker.on_any().subscribe(move || l.push("any")).unwrap();
        let l = log.clone();
        linker.on("A").subscribe(move || l.push("a2")).unwrap();
        for (path, emitter) in emitters(&linker) {
            let report = emitter.emit("A").unwrap().wait().unwrap();
            assert_eq!(report.counts().succeeded, 3, "{path}");
            assert_eq!(log.take(), ["a1", "any", "a2"], "{path}");
            // An event only "any event" handlers hear.
            let report = emitter.emit("B").unwrap().wait().unwrap();
            assert_eq!(report.counts().succeeded, 1, "{path}");
            assert_eq!(report.event().as_str(), "B", "{path}");
            assert_eq!(log.take(), ["any"], "{path}");
        }
    });
}

#[test]
fn a_payload_of_the_wrong_type_fails_only_that_handler() {
    within("lean payload type", || {
        let failures = Failures::new();
        let linker = EventLinker::builder()
            .on_failure(failures.callback())
            .build()
            .unwrap();
        linker.on("E").subscribe(|_: &String| ()).unwrap();
        linker.on("E").subscribe(|n: &u64| *n + 1).unwrap();
        for (path, emitter) in emitters(&linker) {
            let report = emitter.emit_with("E", 1_u64).unwrap().wait().unwrap();
            assert_eq!(
                (report.counts().succeeded, report.counts().failed),
                (1, 1),
                "{path}"
            );
            let all = failures.all();
            assert!(
                matches!(&all[..], [f] if matches!(&f.kind, FailureKind::PayloadType { found: Some(found), .. } if found == "u64")),
                "{path}: {all:?}"
            );
            failures.clear();
        }
    });
}

#[test]
fn handles_of_lean_emissions_are_finished_and_unique() {
    within("lean handles", || {
        let (linker, emitter) = support::setup();
        linker.on("E").subscribe(|| ()).unwrap();
        let a = emitter.emit("E").unwrap();
        let b = emitter.emit("E").unwrap();
        assert!(a.is_finished() && b.is_finished());
        assert!(!a.cancel(), "a finished emission cannot be cancelled");
        assert_ne!(a.id(), b.id());
        let (id, report) = (a.id(), a.wait().unwrap());
        assert_eq!(report.id(), id);
        assert_eq!(report.counts().succeeded, 1);
        assert!(report.handlers().is_empty(), "no detail unless asked for");
        let report = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async { b.await });
        assert_eq!(report.counts().succeeded, 1);
    });
}

#[test]
fn a_handler_emitting_again_runs_the_nested_emission_to_its_end() {
    within("lean nested", || {
        let (linker, emitter) = support::setup();
        let inner = support::Counter::new();
        let c = inner.clone();
        linker.on("Inner").subscribe(move || c.incr()).unwrap();
        let e = emitter.clone();
        linker
            .on("Outer")
            .subscribe(move || {
                let report = e.emit("Inner").unwrap().wait().unwrap();
                assert_eq!(report.counts().succeeded, 1);
            })
            .unwrap();
        let report = emitter.emit("Outer").unwrap().wait().unwrap();
        assert_eq!(report.counts().succeeded, 1);
        assert_eq!(inner.get(), 1);
    });
}
