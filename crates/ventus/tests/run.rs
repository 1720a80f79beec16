//! Awaited emissions (`run`): the lean awaited path (a plain emitter whose handlers
//! borrow the payload) and the full path (an emitter with detailed reports), run on the
//! same scenarios. A report's `event` tells the paths apart: the lean path leaves it out
//! when the event's own subscribers ran, the full path always names it.
//! No test here installs a `tracing` subscriber: one enabled at `DEBUG` would send every
//! emission to the full path.

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use support::{within_async, Counter, DropSignal, FailureKind, Failures, Log};
use ventus::{EmissionReport, EventEmitter, EventLinker, TokioEventEmitter};

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

/// Checks that `report` came from the path named `path`.
fn check_path(path: &str, report: &EmissionReport, event: &str) {
    match path {
        "lean" => {
            assert_eq!(report.event().as_str(), event, "lean: {report}");
            assert!(report.handlers().is_empty(), "lean: {report:#?}");
        }
        _ => {
            assert_eq!(report.event().as_str(), event, "{path}");
            assert_eq!(
                report.handlers().len() as u32,
                report.counts().total(),
                "{path}: {report:#?}"
            );
        }
    }
}

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: Future + ?Sized>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

#[tokio::test(flavor = "current_thread")]
async fn sync_async_and_any_event_handlers_all_finish_in_the_first_poll_in_order() {
    let linker = support::linker();
    let log = Log::new();
    let l = log.clone();
    linker
        .on("E")
        .subscribe(move |n: &u64| l.push(format!("sync1 {n}")))
        .unwrap();
    let l = log.clone();
    linker
        .on("E")
        .subscribe(move |n: u64| {
            let l = l.clone();
            async move { l.push(format!("async2 {n}")) }
        })
        .unwrap();
    let l = log.clone();
    linker
        .on_any()
        .subscribe(move |n: &u64| l.push(format!("any3 {n}")))
        .unwrap();
    let l = log.clone();
    linker
        .on("E")
        .subscribe(move || {
            let l = l.clone();
            async move { l.push("async4") }
        })
        .unwrap();
    let l = log.clone();
    linker.on("E").subscribe(move || l.push("sync5")).unwrap();

    for (path, emitter) in emitters(&linker) {
        let mut run = pin!(emitter.run_with("E", 7_u64));
        let Poll::Ready(report) = poll_once(run.as_mut()) else {
            panic!("{path}: every handler is ready, so the first poll ends the emission");
        };
        let report = report.unwrap();
        assert_eq!(report.counts().succeeded, 5, "{path}: {report}");
        assert!(report.is_success(), "{path}: {report}");
        check_path(path, &report, "E");
        assert_eq!(
            log.take(),
            ["sync1 7", "async2 7", "any3 7", "async4", "sync5"],
            "{path}: every handler runs once, in subscription order"
        );
        let metrics = emitter.metrics();
        assert_eq!((metrics.emitted, metrics.succeeded), (1, 5), "{path}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_event_without_handlers_and_any_event_handlers_alone_are_reported_by_name() {
    let linker = support::linker();
    for (path, emitter) in emitters(&linker) {
        let report = emitter.run("Nobody").await.unwrap();
        assert_eq!(report.counts().total(), 0, "{path}");
        assert_eq!(report.event().as_str(), "Nobody", "{path}");
    }
    let count = Counter::new();
    let c = count.clone();
    linker.on_any().subscribe(move || c.incr()).unwrap();
    for (path, emitter) in emitters(&linker) {
        let report = emitter.run_with("Only any", 1_u8).await.unwrap();
        assert_eq!(report.counts().succeeded, 1, "{path}");
        // No snapshot of the event itself: the name was made for the emission.
        assert_eq!(report.event().as_str(), "Only any", "{path}");
    }
    assert_eq!(count.get(), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn a_handler_left_pending_is_polled_until_it_finishes_and_counted_then() {
    let linker = support::linker();
    let failures = Failures::new();
    let log = Log::new();
    let gates: Arc<Mutex<Vec<tokio::sync::oneshot::Receiver<u32>>>> = Arc::default();
    let (l, g) = (log.clone(), gates.clone());
    linker
        .on("E")
        .on_failure(failures.callback())
        .subscribe(move |n: u64| {
            let l = l.clone();
            let gate = g.lock().unwrap().remove(0);
            async move {
                l.push(format!("waiting {n}"));
                let got = gate.await.unwrap();
                l.push(format!("woke {got}"));
                if got == 0 {
                    return Err(std::io::Error::other("gate said no"));
                }
                if got == 1 {
                    panic!("gate said panic");
                }
                Ok(got)
            }
        })
        .unwrap();
    let l = log.clone();
    linker
        .on("E")
        .subscribe(move |n: &u64| l.push(format!("sync {n}")))
        .unwrap();
    let l = log.clone();
    linker
        .on("E")
        .subscribe(move |_: u64| {
            let l = l.clone();
            async move {
                l.push("quick");
            }
        })
        .unwrap();

    // The gate's value: 2 succeeds, 0 fails, 1 panics.
    for (value, (succeeded, failed, panicked)) in [(2, (3, 0, 0)), (0, (2, 1, 0)), (1, (2, 0, 1))] {
        for (path, emitter) in emitters(&linker) {
            let (open, gate) = tokio::sync::oneshot::channel();
            gates.lock().unwrap().push(gate);
            let mut run = pin!(emitter.run_with("E", 5_u64));
            assert!(
                poll_once(run.as_mut()).is_pending(),
                "{path}: the first handler waits for its gate"
            );
            assert_eq!(
                log.take(),
                ["waiting 5", "sync 5", "quick"],
                "{path}: every handler started in the first poll, in order"
            );
            assert!(
                poll_once(run.as_mut()).is_pending(),
                "{path}: gate still shut"
            );
            open.send(value).unwrap();
            let report = within_async(path, run).await.unwrap();
            assert_eq!(log.take(), [format!("woke {value}")], "{path}");
            let c = report.counts();
            assert_eq!(
                (c.succeeded, c.failed, c.panicked),
                (succeeded, failed, panicked),
                "{path} gate {value}: {report}"
            );
            check_path(path, &report, "E");
            let seen: Vec<_> = failures
                .all()
                .into_iter()
                .map(|f| (f.event, f.kind))
                .collect();
            let expected = match value {
                0 => vec![("E".to_owned(), FailureKind::Failed("gate said no".into()))],
                1 => vec![(
                    "E".to_owned(),
                    FailureKind::Panicked("gate said panic".into()),
                )],
                _ => vec![],
            };
            assert_eq!(seen, expected, "{path} gate {value}");
            failures.clear();
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_run_while_a_handler_is_pending_drops_that_handler() {
    let linker = support::linker();
    let (dropped_tx, dropped) = mpsc::channel();
    let tx = Mutex::new(dropped_tx);
    let finished = Counter::new();
    let f = finished.clone();
    linker
        .on("E")
        .subscribe(move || {
            let signal = DropSignal(tx.lock().unwrap().clone(), "pending handler");
            let f = f.clone();
            async move {
                let _signal = signal;
                std::future::pending::<()>().await;
                f.incr();
            }
        })
        .unwrap();
    let done = Counter::new();
    let d = done.clone();
    linker
        .on("E")
        .subscribe(move || {
            let d = d.clone();
            async move { d.incr() }
        })
        .unwrap();

    for (runs, (path, emitter)) in emitters(&linker).into_iter().enumerate() {
        {
            let mut run = pin!(emitter.run("E"));
            assert!(poll_once(run.as_mut()).is_pending(), "{path}");
            assert_eq!(
                done.get(),
                runs + 1,
                "{path}: the other handler finished at once"
            );
            assert!(dropped.try_recv().is_err(), "{path}: not dropped yet");
        }
        // The `run` future is gone: the pending handler's future was dropped with it.
        assert_eq!(dropped.try_recv(), Ok("pending handler"), "{path}");
        assert_eq!(finished.get(), 0, "{path}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn panics_and_errors_in_the_first_pass_are_charged_to_their_handler() {
    let failures = Failures::new();
    let linker = EventLinker::builder()
        .on_failure(failures.callback())
        .build()
        .unwrap();
    let ran = Log::new();
    let r = ran.clone();
    linker
        .on("E")
        .subscribe(move |_: &u64| r.push("1 sync ok"))
        .unwrap();
    let r = ran.clone();
    linker
        .on("E")
        .subscribe(move |_: u64| -> std::future::Ready<()> {
            r.push("2 async panics when created");
            panic!("second handler panics when created");
        })
        .unwrap();
    let r = ran.clone();
    linker
        .on("E")
        .subscribe(move |_: u64| {
            let r = r.clone();
            async move {
                r.push("3 async panics when polled");
                panic!("third handler panics when polled") as ()
            }
        })
        .unwrap();
    let r = ran.clone();
    linker
        .on("E")
        .subscribe(move |_: u64| {
            let r = r.clone();
            async move {
                r.push("4 async fails");
                Err::<(), _>(std::io::Error::other("fourth handler fails"))
            }
        })
        .unwrap();
    let r = ran.clone();
    linker
        .on("E")
        .subscribe(move |_: &u64| -> () {
            r.push("5 sync panics");
            panic!("fifth handler panics");
        })
        .unwrap();
    let r = ran.clone();
    linker
        .on("E")
        .subscribe(move |_: &String| r.push("6 wrong payload type"))
        .unwrap();
    let r = ran.clone();
    linker
        .on("E")
        .subscribe(move |_: u64| {
            let r = r.clone();
            async move { r.push("7 async ok") }
        })
        .unwrap();

    for (path, emitter) in emitters(&linker) {
        let mut run = pin!(emitter.run_with("E", 3_u64));
        let Poll::Ready(report) = poll_once(run.as_mut()) else {
            panic!("{path}: nothing waits, so the first poll ends the emission");
        };
        let report = report.unwrap();
        let c = report.counts();
        assert_eq!(
            (c.succeeded, c.failed, c.panicked),
            (2, 2, 3),
            "{path}: {report}"
        );
        check_path(path, &report, "E");
        assert_eq!(
            ran.take(),
            [
                "1 sync ok",
                "2 async panics when created",
                "3 async panics when polled",
                "4 async fails",
                "5 sync panics",
                "7 async ok"
            ],
            "{path}: every handler runs once, in order"
        );
        let seen: Vec<_> = failures.all().into_iter().map(|f| f.kind).collect();
        assert_eq!(
            seen,
            [
                FailureKind::Panicked("second handler panics when created".into()),
                FailureKind::Panicked("third handler panics when polled".into()),
                FailureKind::Failed("fourth handler fails".into()),
                FailureKind::Panicked("fifth handler panics".into()),
                FailureKind::PayloadType {
                    expected: "alloc::string::String".into(),
                    found: Some("u64".into()),
                },
            ],
            "{path}"
        );
        failures.clear();
        let m = emitter.metrics();
        assert_eq!(
            (m.emitted, m.succeeded, m.failed, m.panicked),
            (1, 2, 2, 3),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_once_subscriber_is_claimed_by_exactly_one_of_many_concurrent_runs() {
    const TASKS: usize = 8;
    const ROUNDS: usize = 50;
    let linker = support::linker();
    let steady = Counter::new();
    let s = steady.clone();
    linker
        .on("E")
        .subscribe(move |_: u64| {
            let s = s.clone();
            async move { s.incr() }
        })
        .unwrap();
    for (path, emitter) in emitters(&linker) {
        for round in 0..ROUNDS {
            let once = Counter::new();
            let o = once.clone();
            linker
                .on("E")
                .once()
                .subscribe(move |_: u64| {
                    let o = o.clone();
                    async move {
                        // Half the rounds, the once-handler finishes on a later poll.
                        if round % 2 == 1 {
                            tokio::task::yield_now().await;
                        }
                        o.incr()
                    }
                })
                .unwrap();
            let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
            let tasks: Vec<_> = (0..TASKS)
                .map(|i| {
                    let (emitter, barrier) = (emitter.clone(), barrier.clone());
                    tokio::spawn(async move {
                        barrier.wait().await;
                        emitter.run_with("E", i as u64).await.unwrap()
                    })
                })
                .collect();
            let mut succeeded = 0;
            for task in tasks {
                let report = within_async(path, task).await.unwrap();
                check_path(path, &report, "E");
                succeeded += report.counts().succeeded;
            }
            assert_eq!(once.get(), 1, "{path} round {round}: claimed exactly once");
            assert_eq!(
                succeeded as usize,
                TASKS + 1,
                "{path} round {round}: each run counts the steady handler, one the once"
            );
        }
    }
    assert_eq!(steady.get(), 2 * ROUNDS * TASKS);
    assert_eq!(
        linker.subscriber_count(),
        1,
        "every once-subscriber was unlinked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_that_need_the_full_path_get_it_from_a_plain_emitter() {
    let linker = support::linker();
    let seen = Log::new();
    let s = seen.clone();
    linker
        .on("AnyEvent")
        .subscribe(move |event: &ventus::AnyEvent| {
            s.push(format!("{} {:?}", event.name(), event.payload::<u64>()));
        })
        .unwrap();
    let s = seen.clone();
    linker
        .on("Blocking")
        .blocking()
        .subscribe(move |n: &u64| s.push(format!("blocking {n}")))
        .unwrap();
    let s = seen.clone();
    linker
        .on("Timeout")
        .timeout(std::time::Duration::from_secs(60))
        .subscribe(move |n: u64| {
            let s = s.clone();
            async move { s.push(format!("timeout {n}")) }
        })
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    for (event, expected) in [
        ("AnyEvent", "AnyEvent Some(7)"),
        ("Blocking", "blocking 7"),
        ("Timeout", "timeout 7"),
    ] {
        let report = within_async(event, emitter.run_with(event, 7_u64))
            .await
            .unwrap();
        assert_eq!(report.counts().succeeded, 1, "{event}: {report}");
        // The full path names the event; its report is not detailed on a plain emitter.
        assert_eq!(report.event().as_str(), event);
        assert!(report.handlers().is_empty(), "{event}: {report:#?}");
        assert_eq!(seen.take(), [expected]);
    }
}
