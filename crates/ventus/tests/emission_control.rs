//! Emission control: the handle `emit` returns and its report, `cancel`, `run` in the
//! calling task, shutdown with a deadline, `max_in_flight` under both overflow policies,
//! timeouts (per subscription and emitter-wide, async and sync) and `metrics()`.
//!
//! No test sleeps to wait for work: gates are `Notify`, `Semaphore`, channels and
//! condition variables; timeouts run on tokio's paused clock; the sync handlers that must
//! overrun a timeout spin until an `Instant` has passed.

mod support;

use std::collections::BTreeSet;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use support::{linker, setup, within, within_async, Counter, DropSignal};
use tokio::sync::{Notify, Semaphore};
use ventus::{
    EmissionReport, EmitError, Emitted, EventEmitter, EventLinker, HandlerError, HandlerErrorKind,
    HandlerReport, Outcome, Overflow, Subscription, SubscriptionId, TokioEventEmitter,
};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Busy-waits until `d` has passed: a sync handler that takes a known time without
/// sleeping.
fn spin_for(d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// How many handlers run at once, and the most that ever did.
#[derive(Debug, Default)]
struct Gauge {
    current: AtomicUsize,
    max: AtomicUsize,
}

impl Gauge {
    fn enter(&self) {
        // SeqCst: read from other threads after joins; the strongest ordering keeps the
        // reasoning trivial.
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
    }

    fn exit(&self) {
        self.current.fetch_sub(1, Ordering::SeqCst);
    }

    fn current(&self) -> usize {
        self.current.load(Ordering::SeqCst)
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

/// Links an async handler to `event` that never finishes; it holds a [`DropSignal`]
/// sending `name` on `drops`, so the test sees when its future is dropped.
fn subscribe_stuck(
    linker: &EventLinker,
    event: &str,
    drops: &mpsc::Sender<&'static str>,
    name: &'static str,
) -> Subscription {
    let drops = drops.clone();
    linker
        .on(event)
        .subscribe(move || {
            let guard = DropSignal(drops.clone(), name);
            async move {
                let _guard = guard;
                let never = Notify::new();
                never.notified().await;
            }
        })
        .unwrap()
}

/// Awaits `emitted` for its report, failing the test if that takes longer than the
/// deadlock timeout.
async fn report_of(what: &str, emitted: Emitted) -> EmissionReport {
    within_async(what, emitted.into_future()).await
}

/// A tokio emitter on `linker` that records each handler's outcome and duration.
fn detailed(linker: &EventLinker) -> TokioEventEmitter {
    EventEmitter::builder()
        .linker(linker)
        .detailed_reports(true)
        .build()
}

/// The part of `report` that belongs to `sub`.
fn part_of<'r>(report: &'r EmissionReport, sub: &Subscription) -> &'r HandlerReport {
    let found: Vec<_> = report
        .handlers()
        .iter()
        .filter(|h| h.subscription == sub.id())
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one entry for {} in {report:#?}",
        sub.id()
    );
    found[0]
}

/// The error of a handler that failed; panics for any other outcome.
fn failure_of<'r>(report: &'r EmissionReport, sub: &Subscription) -> &'r HandlerError {
    match &part_of(report, sub).outcome {
        Outcome::Failed(err) => err,
        other => panic!("expected {} to have failed, got {other:?}", sub.id()),
    }
}

/// A failure callback that records `(subscription, timeout)` of each failure; the
/// timeout is `None` for failures that are not timeouts.
type Seen = Arc<Mutex<Vec<(SubscriptionId, Option<Duration>)>>>;

fn record_failures(seen: &Seen) -> impl Fn(&HandlerError) + Send + Sync + 'static {
    let seen = seen.clone();
    move |err: &HandlerError| {
        let timeout = match err.kind() {
            HandlerErrorKind::TimedOut(d) => Some(*d),
            _ => None,
        };
        seen.lock().unwrap().push((err.subscription(), timeout));
    }
}

// ---------------------------------------------------------------------------------------
// Handles and reports
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn awaiting_the_handle_reports_counts_and_each_handlers_outcome_and_duration() {
    const SPIN: Duration = Duration::from_millis(5);
    let linker = linker();
    let quick = linker.on("Job").subscribe(|n: &u32| *n + 1).unwrap();
    let spinning = linker
        .on("Job")
        .subscribe(|_: &u32| spin_for(SPIN))
        .unwrap();
    let failing = linker
        .on("Job")
        .subscribe(|n: u32| async move {
            tokio::task::yield_now().await;
            if n > 3 {
                return Err("too big");
            }
            Ok(n)
        })
        .unwrap();
    let panicking = linker
        .on("Job")
        .subscribe(|n: u32| async move {
            tokio::task::yield_now().await;
            assert!(n < 3, "kaboom {n}");
        })
        .unwrap();
    let emitter = detailed(&linker);

    let emitted = emitter.emit_with("Job", 7_u32).unwrap();
    let id = emitted.id();
    assert!(
        !emitted.is_finished(),
        "scheduled; this task has not yielded"
    );
    let report = report_of("awaiting the handle", emitted).await;

    assert_eq!(report.id(), id);
    assert_eq!(report.event().as_str(), "Job");
    let c = report.counts();
    assert_eq!(
        (c.succeeded, c.failed, c.panicked, c.timed_out, c.cancelled),
        (2, 1, 1, 0, 0),
        "{report}"
    );
    assert_eq!(c.total(), 4);
    assert!(!report.is_success());

    assert_eq!(report.handlers().len(), 4, "{report:#?}");
    assert!(part_of(&report, &quick).outcome.is_success());
    assert_eq!(part_of(&report, &quick).handler, quick.handler_name());
    let spun = part_of(&report, &spinning);
    assert!(spun.outcome.is_success());
    assert!(
        spun.duration >= SPIN,
        "the spinning handler took {SPIN:?}, the report says {:?}",
        spun.duration
    );
    let err = failure_of(&report, &failing);
    assert!(
        matches!(err.kind(), HandlerErrorKind::Failed(e) if e.to_string() == "too big"),
        "{err:?}"
    );
    assert_eq!(err.emission(), id);
    let err = failure_of(&report, &panicking);
    assert!(err.is_panic(), "{err:?}");
    assert!(
        matches!(err.kind(), HandlerErrorKind::Panicked(m) if m.contains("kaboom 7")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn without_detailed_reports_the_report_has_counts_only() {
    let (linker, emitter) = setup();
    linker.on("Job").subscribe(|| ()).unwrap();
    linker.on("Job").subscribe(|| async {}).unwrap();
    let report = report_of("awaiting the handle", emitter.emit("Job").unwrap()).await;
    assert_eq!(report.counts().succeeded, 2);
    assert!(report.handlers().is_empty(), "{report:#?}");
    assert!(report.is_success());
}

#[test]
fn wait_in_a_sync_context_returns_the_report_of_an_emission_that_already_finished() {
    within("a sync-context emit and wait", || {
        let linker = linker();
        let sync = linker.on("Job").subscribe(|| ()).unwrap();
        let asynchronous = linker
            .on("Job")
            .subscribe(|| async { tokio::task::yield_now().await })
            .unwrap();
        let emitter = detailed(&linker);

        let emitted = emitter.emit("Job").unwrap();
        assert!(
            emitted.is_finished(),
            "a sync-context emit returns after every handler ran"
        );
        let report = emitted
            .wait()
            .expect("no runtime on this thread: waiting is allowed");
        assert_eq!(report.counts().succeeded, 2, "{report}");
        assert!(part_of(&report, &sync).outcome.is_success());
        assert!(part_of(&report, &asynchronous).outcome.is_success());
    });
}

#[test]
fn wait_on_a_current_thread_runtime_gives_the_handle_back_instead_of_deadlocking() {
    within("wait on a current-thread runtime", || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (linker, emitter) = setup();
            linker.on("Job").subscribe(|| async { 1 }).unwrap();

            let emitted = emitter.emit("Job").unwrap();
            assert!(!emitted.is_finished(), "this task has not yielded yet");
            let emitted = match emitted.wait() {
                Ok(report) => panic!("the emission cannot have run yet: {report}"),
                Err(handle) => handle,
            };
            // The handle given back still works.
            let report = report_of("awaiting the handle given back", emitted).await;
            assert_eq!(report.counts().succeeded, 1);
        });
    });
}

#[test]
fn wait_on_a_multi_thread_runtime_blocks_in_place_and_returns_the_report() {
    within("wait on a multi-thread runtime", || {
        let rt = support::multi_thread(2);
        rt.block_on(async {
            let (linker, emitter) = setup();
            linker
                .on("Job")
                .subscribe(|| async { tokio::task::yield_now().await })
                .unwrap();
            let report = tokio::spawn(async move {
                let emitted = emitter.emit("Job").unwrap();
                emitted.wait()
            })
            .await
            .unwrap()
            .expect("a multi-thread runtime can wait in place");
            assert_eq!(report.counts().succeeded, 1);
        });
    });
}

// ---------------------------------------------------------------------------------------
// Cancel
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn cancel_mid_emission_reports_one_finished_and_one_cancelled_and_drops_the_stuck_one() {
    let linker = linker();
    let finished = Arc::new(Notify::new());
    let f = finished.clone();
    let quick = linker
        .on("Job")
        .subscribe(move || {
            let f = f.clone();
            async move {
                tokio::task::yield_now().await;
                f.notify_one();
            }
        })
        .unwrap();
    let (drops_tx, drops_rx) = mpsc::channel();
    let stuck = subscribe_stuck(&linker, "Job", &drops_tx, "stuck");
    let emitter = detailed(&linker);

    let emitted = emitter.emit("Job").unwrap();
    within_async("the quick handler", finished.notified()).await;
    assert!(!emitted.is_finished(), "one handler is stuck");
    assert!(
        drops_rx.try_recv().is_err(),
        "the stuck handler runs until cancelled"
    );

    assert!(emitted.cancel(), "the emission had not finished");
    let report = report_of("the cancelled emission's report", emitted).await;
    let c = report.counts();
    assert_eq!((c.succeeded, c.cancelled, c.total()), (1, 1, 2), "{report}");
    assert!(part_of(&report, &quick).outcome.is_success());
    assert!(
        matches!(part_of(&report, &stuck).outcome, Outcome::Cancelled),
        "{report:#?}"
    );
    assert_eq!(
        drops_rx.try_recv(),
        Ok("stuck"),
        "the stuck handler's future was dropped before the report arrived"
    );

    within_async("wait_for_tasks", emitter.wait_for_tasks()).await;
    let m = emitter.metrics();
    assert_eq!((m.succeeded, m.cancelled, m.in_flight), (1, 1, 0), "{m:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn cancel_after_the_emission_finished_returns_false_and_changes_nothing() {
    let (linker, emitter) = setup();
    linker.on("Job").subscribe(|| async {}).unwrap();

    let emitted = emitter.emit("Job").unwrap();
    within_async("wait_for_tasks", emitter.wait_for_tasks()).await;
    assert!(emitted.is_finished());
    assert!(!emitted.cancel(), "nothing left to cancel");
    let report = emitted.await;
    assert_eq!(
        (report.counts().succeeded, report.counts().cancelled),
        (1, 0)
    );
}

#[test]
fn cancel_of_a_sync_context_emission_returns_false() {
    within("a sync-context emit", || {
        let (linker, emitter) = setup();
        linker.on("Job").subscribe(|| async {}).unwrap();
        let emitted = emitter.emit("Job").unwrap();
        assert!(!emitted.cancel(), "it finished inside `emit`");
        assert_eq!(emitted.wait().unwrap().counts().succeeded, 1);
    });
}

// ---------------------------------------------------------------------------------------
// `run` in the calling task
// ---------------------------------------------------------------------------------------

tokio::task_local! {
    /// Set around `run` calls; a handler sees it only if it runs in the same task.
    static CALLER: &'static str;
}

/// Where a handler ran: its task and what it saw of [`CALLER`].
type Seat = (&'static str, Option<tokio::task::Id>, Option<&'static str>);

fn seat(kind: &'static str) -> Seat {
    (kind, tokio::task::try_id(), CALLER.try_with(|c| *c).ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_and_run_with_run_handlers_in_the_calling_task_and_report_details_when_asked() {
    let linker = linker();
    let seats = Arc::new(Mutex::new(Vec::<Seat>::new()));
    let paid = Arc::new(Mutex::new(Vec::new()));
    let s = seats.clone();
    let sync = linker
        .on("Job")
        .subscribe(move || s.lock().unwrap().push(seat("sync")))
        .unwrap();
    let s = seats.clone();
    let asynchronous = linker
        .on("Job")
        .subscribe(move || {
            let s = s.clone();
            async move {
                tokio::task::yield_now().await;
                s.lock().unwrap().push(seat("async"));
            }
        })
        .unwrap();
    let (s, p) = (seats.clone(), paid.clone());
    linker
        .on("Paid")
        .subscribe(move |cents: u64| {
            let (s, p) = (s.clone(), p.clone());
            async move {
                s.lock().unwrap().push(seat("paid"));
                p.lock().unwrap().push(cents);
            }
        })
        .unwrap();
    // With detailed reports, `run` reports each handler, as `emit` does.
    let emitter = detailed(&linker);

    let (caller, job, payment) = tokio::spawn(async move {
        let caller = tokio::task::id();
        let job = CALLER.scope("caller", emitter.run("Job")).await.unwrap();
        let payment = CALLER
            .scope("caller", emitter.run_with("Paid", 1_250_u64))
            .await
            .unwrap();
        // For contrast: `emit` from the same task runs the handlers in another task.
        let emitted = CALLER
            .scope("caller", async { emitter.emit("Job").unwrap() })
            .await;
        report_of("the emitted handle", emitted).await;
        (caller, job, payment)
    })
    .await
    .unwrap();

    let seats = seats.lock().unwrap().clone();
    assert_eq!(seats.len(), 5, "{seats:?}");
    for (kind, task, local) in &seats[..3] {
        assert_eq!(
            *task,
            Some(caller),
            "`{kind}` ran in another task: {seats:?}"
        );
        assert_eq!(
            *local,
            Some("caller"),
            "`{kind}` did not see the task-local"
        );
    }
    for (kind, task, local) in &seats[3..] {
        assert_ne!(
            *task,
            Some(caller),
            "`{kind}` was emitted, not run: {seats:?}"
        );
        assert_eq!(*local, None);
    }
    assert_eq!(*paid.lock().unwrap(), [1_250]);

    assert_eq!(job.counts().succeeded, 2, "{job}");
    assert_eq!(job.handlers().len(), 2, "{job:#?}");
    assert!(part_of(&job, &sync).outcome.is_success());
    assert!(part_of(&job, &asynchronous).outcome.is_success());
    assert_eq!(payment.counts().succeeded, 1, "{payment}");
    assert_eq!(payment.handlers().len(), 1);
    assert_eq!(payment.event().as_str(), "Paid");

    // A plain emitter's `run` reports counts only, as its `emit` does.
    let plain = TokioEventEmitter::with_linker(&linker);
    let job = plain.run("Job").await.unwrap();
    assert_eq!(job.counts().succeeded, 2, "{job}");
    assert!(job.handlers().is_empty(), "{job:#?}");
}

#[tokio::test(flavor = "current_thread")]
async fn run_of_an_event_without_handlers_reports_nothing_and_run_after_shutdown_is_refused() {
    let (_linker, emitter) = setup();
    let report = emitter.run("Nobody").await.unwrap();
    assert_eq!(report.counts().total(), 0);
    assert!(report.handlers().is_empty());

    emitter.shutdown(Duration::from_millis(10)).await;
    assert!(matches!(
        emitter.run("Nobody").await,
        Err(EmitError::Closed { event }) if event == "Nobody"
    ));
}

// ---------------------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn shutdown_with_a_deadline_counts_finished_and_cancelled_then_refuses_emissions() {
    const QUICK: usize = 3;
    const STUCK: usize = 2;
    const DEADLINE: Duration = Duration::from_millis(200);
    let (linker, emitter) = setup();
    let quick_runs = Counter::new();
    let q = quick_runs.clone();
    linker
        .on("Quick")
        .subscribe(move || {
            let q = q.clone();
            async move {
                tokio::task::yield_now().await;
                q.incr();
            }
        })
        .unwrap();
    let (drops_tx, drops_rx) = mpsc::channel();
    subscribe_stuck(&linker, "Stuck", &drops_tx, "stuck");
    let clone_made_before = emitter.clone();

    let quick: Vec<_> = (0..QUICK).map(|_| emitter.emit("Quick").unwrap()).collect();
    let stuck: Vec<_> = (0..STUCK).map(|_| emitter.emit("Stuck").unwrap()).collect();
    assert_eq!(emitter.metrics().in_flight, QUICK + STUCK);

    let started = tokio::time::Instant::now();
    let report = within_async("shutdown", emitter.shutdown(DEADLINE)).await;
    assert_eq!(
        (report.finished, report.cancelled),
        (QUICK, STUCK),
        "{report:?}"
    );
    assert!(
        started.elapsed() >= DEADLINE,
        "the stuck emissions were given until the deadline"
    );
    assert_eq!(quick_runs.get(), QUICK);
    assert_eq!(
        drops_rx.try_iter().count(),
        STUCK,
        "each stuck handler dropped"
    );
    assert_eq!(emitter.metrics().in_flight, 0);
    for handle in quick {
        assert_eq!(handle.await.counts().succeeded, 1);
    }
    for handle in stuck {
        assert_eq!(handle.await.counts().cancelled, 1);
    }

    assert!(emitter.is_closed() && clone_made_before.is_closed());
    assert!(matches!(
        emitter.emit("Quick"),
        Err(EmitError::Closed { event }) if event == "Quick"
    ));
    assert!(matches!(
        clone_made_before.emit_with("Quick", 1_u8),
        Err(EmitError::Closed { .. })
    ));
    assert!(matches!(
        emitter.reserve().await,
        Err(EmitError::Closed { .. })
    ));
    let sync_side = emitter.clone();
    let refused = within("a sync-context emit after shutdown", move || {
        sync_side.emit("Quick").map(|_| ())
    });
    assert!(
        matches!(refused, Err(EmitError::Closed { .. })),
        "{refused:?}"
    );
    assert_eq!(quick_runs.get(), QUICK, "nothing ran after the shutdown");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn shutdown_returns_as_soon_as_everything_in_flight_finished() {
    let (linker, emitter) = setup();
    linker
        .on("Quick")
        .subscribe(|| async { tokio::task::yield_now().await })
        .unwrap();
    for _ in 0..4 {
        let _ = emitter.emit("Quick").unwrap();
    }
    let started = tokio::time::Instant::now();
    let report = within_async("shutdown", emitter.shutdown(Duration::from_secs(3600))).await;
    assert_eq!((report.finished, report.cancelled), (4, 0));
    assert!(
        started.elapsed() < Duration::from_secs(3600),
        "no emission was left, so the deadline was not waited for"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_reserve_waiting_for_room_is_refused_when_the_emitter_shuts_down() {
    let linker = linker();
    let (drops_tx, _drops_rx) = mpsc::channel();
    subscribe_stuck(&linker, "Stuck", &drops_tx, "stuck");
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .max_in_flight(1, Overflow::Wait)
        .build();
    let _first = emitter.reserve().await.unwrap().emit("Stuck").unwrap();

    let waiting = emitter.clone();
    let waiter = tokio::spawn(async move { waiting.reserve().await.map(drop) });
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished(), "no room: reserve waits");

    let report = within_async("shutdown", emitter.shutdown(Duration::from_millis(50))).await;
    assert_eq!((report.finished, report.cancelled), (0, 1));
    let refused = within_async("the waiting reserve", waiter).await.unwrap();
    assert!(
        matches!(refused, Err(EmitError::Closed { .. })),
        "{refused:?}"
    );
}

// ---------------------------------------------------------------------------------------
// max_in_flight
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn reject_policy_under_a_burst_refuses_exactly_the_excess_and_hands_the_payloads_back() {
    const BOUND: usize = 3;
    const BURST: u32 = 10;
    let linker = linker();
    let ran = Arc::new(Mutex::new(BTreeSet::new()));
    let r = ran.clone();
    linker
        .on("Job")
        .subscribe(move |n: u32| {
            let r = r.clone();
            async move {
                r.lock().unwrap().insert(n);
            }
        })
        .unwrap();
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .max_in_flight(BOUND, Overflow::Reject)
        .build();

    // A burst without yielding: none of the accepted emissions can have ended.
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    for n in 0..BURST {
        match emitter.emit_with("Job", n) {
            Ok(handle) => accepted.push(handle),
            Err(EmitError::Full(refused)) => {
                assert_eq!(refused.event(), "Job");
                rejected.push(
                    refused
                        .into_payload::<u32>()
                        .expect("the payload comes back"),
                );
            }
            Err(other) => panic!("expected a full emitter, got {other}"),
        }
    }
    assert_eq!(accepted.len(), BOUND);
    assert_eq!(rejected, (3..BURST).collect::<Vec<_>>());
    assert_eq!(emitter.metrics().in_flight, BOUND);

    for handle in accepted {
        let report = report_of("an accepted emission", handle).await;
        assert_eq!(report.counts().succeeded, 1);
    }
    within_async("wait_for_tasks", emitter.wait_for_tasks()).await;
    assert_eq!(*ran.lock().unwrap(), (0..3).collect::<BTreeSet<_>>());

    // Room again once they ended.
    report_of(
        "a later emission",
        emitter.emit_with("Job", 99_u32).unwrap(),
    )
    .await;
    assert!(ran.lock().unwrap().contains(&99));
}

#[tokio::test(flavor = "current_thread")]
async fn wait_policy_in_async_code_refuses_emit_and_reserve_waits_for_room() {
    let linker = linker();
    let gate = Arc::new(Notify::new());
    let g = gate.clone();
    linker
        .on("Job")
        .subscribe(move || {
            let g = g.clone();
            async move { g.notified().await }
        })
        .unwrap();
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .max_in_flight(1, Overflow::Wait)
        .build();

    let first = emitter.emit("Job").unwrap();
    // A runtime thread cannot block: `emit` refuses, as documented.
    match emitter.emit_with("Job", 2_u8) {
        Err(EmitError::Full(refused)) => assert_eq!(refused.into_payload::<u8>(), Some(2)),
        other => panic!("expected a full emitter, got {other:?}"),
    }

    let waiting = emitter.clone();
    let waiter = tokio::spawn(async move {
        waiting
            .reserve()
            .await
            .and_then(|permit| permit.emit("Job"))
    });
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished(), "no room: reserve waits");

    gate.notify_one();
    assert_eq!(report_of("the first", first).await.counts().succeeded, 1);
    let second = within_async("the waiting reserve", waiter)
        .await
        .unwrap()
        .expect("room after the first ended");
    gate.notify_one();
    assert_eq!(report_of("the second", second).await.counts().succeeded, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wait_policy_never_exceeds_the_bound_and_runs_every_emission() {
    const BOUND: usize = 3;
    const TASKS: usize = 24;
    let linker = linker();
    let gauge = Arc::new(Gauge::default());
    let gate = Arc::new(Semaphore::new(0));
    let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel();
    let ran = Arc::new(Mutex::new(BTreeSet::new()));
    let (g, gt, tx, r) = (gauge.clone(), gate.clone(), started_tx, ran.clone());
    linker
        .on("Job")
        .subscribe(move |n: usize| {
            let (g, gt, tx, r) = (g.clone(), gt.clone(), tx.clone(), r.clone());
            async move {
                g.enter();
                let _ = tx.send(n);
                gt.acquire().await.expect("the gate stays open").forget();
                g.exit();
                r.lock().unwrap().insert(n);
            }
        })
        .unwrap();
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .max_in_flight(BOUND, Overflow::Wait)
        .build();

    let mut emitters = tokio::task::JoinSet::new();
    for n in 0..TASKS {
        let emitter = emitter.clone();
        emitters.spawn(async move {
            emitter
                .reserve()
                .await?
                .emit_with("Job", n)
                .map(|_detached| ())
        });
    }

    for _ in 0..BOUND {
        within_async("a handler to start", started_rx.recv())
            .await
            .unwrap();
    }
    assert_eq!(gauge.current(), BOUND, "the bound is reached");
    // One out, one in, until every emission has started.
    for _ in BOUND..TASKS {
        gate.add_permits(1);
        within_async("a handler to start", started_rx.recv())
            .await
            .unwrap();
    }
    gate.add_permits(BOUND);
    while let Some(joined) = within_async("an emitting task", emitters.join_next()).await {
        joined.unwrap().expect("reserve never fails while open");
    }
    within_async("wait_for_tasks", emitter.wait_for_tasks()).await;

    assert_eq!(*ran.lock().unwrap(), (0..TASKS).collect::<BTreeSet<_>>());
    assert_eq!(gauge.max(), BOUND, "never more than the bound at once");
    let m = emitter.metrics();
    assert_eq!(
        (m.emitted, m.succeeded, m.in_flight),
        (TASKS as u64, TASKS as u64, 0)
    );
}

#[test]
fn wait_policy_in_sync_context_blocks_emitting_threads_instead_of_failing() {
    const BOUND: usize = 2;
    const THREADS: usize = 4;
    const PER_THREAD: usize = 5;
    within("sync-context emits under Overflow::Wait", || {
        let linker = linker();
        let gauge = Arc::new(Gauge::default());
        let ran = Counter::new();
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (started_tx, started_rx) = mpsc::channel::<()>();

        // "Hold" keeps its place under the bound until the gate opens.
        let (g, r, gt) = (gauge.clone(), ran.clone(), gate.clone());
        linker
            .on("Hold")
            .subscribe(move || {
                g.enter();
                started_tx.send(()).unwrap();
                let (open, cv) = &*gt;
                let mut open = open.lock().unwrap();
                while !*open {
                    open = cv.wait(open).unwrap();
                }
                drop(open);
                g.exit();
                r.incr();
            })
            .unwrap();
        let (g, r) = (gauge.clone(), ran.clone());
        linker
            .on("Job")
            .subscribe(move || {
                g.enter();
                spin_for(Duration::from_micros(200));
                g.exit();
                r.incr();
            })
            .unwrap();
        let emitter = EventEmitter::builder()
            .linker(&linker)
            .max_in_flight(BOUND, Overflow::Wait)
            .build();

        let holders: Vec<_> = (0..BOUND)
            .map(|_| {
                let e = emitter.clone();
                thread::spawn(move || e.emit("Hold").map(|_| ()))
            })
            .collect();
        for _ in 0..BOUND {
            started_rx.recv().unwrap();
        }
        // The bound is full: these threads must wait for room, not fail.
        let (trying_tx, trying_rx) = mpsc::channel::<()>();
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let (e, trying) = (emitter.clone(), trying_tx.clone());
                thread::spawn(move || {
                    trying.send(()).unwrap();
                    (0..PER_THREAD)
                        .map(|_| e.emit("Job").map(|done| done.wait().unwrap().counts()))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        for _ in 0..THREADS {
            trying_rx.recv().unwrap();
        }
        assert_eq!(ran.get(), 0, "nothing ran while the bound was full");

        let (open, cv) = &*gate;
        *open.lock().unwrap() = true;
        cv.notify_all();
        for holder in holders {
            holder.join().unwrap().expect("a holder emits");
        }
        for worker in workers {
            let counts = worker
                .join()
                .unwrap()
                .expect("Overflow::Wait blocks a sync caller instead of failing");
            assert!(counts.iter().all(|c| c.succeeded == 1), "{counts:?}");
        }
        assert_eq!(ran.get(), BOUND + THREADS * PER_THREAD);
        assert!(gauge.max() <= BOUND, "{} at once", gauge.max());
    });
}

// ---------------------------------------------------------------------------------------
// Timeouts
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_slow_async_handler_times_out_and_is_cancelled_while_the_others_succeed() {
    const LIMIT: Duration = Duration::from_millis(50);
    let linker = linker();
    let seen: Seen = Arc::default();
    let (drops_tx, drops_rx) = mpsc::channel();
    let slow = linker
        .on("Job")
        .timeout(LIMIT)
        .on_failure(record_failures(&seen))
        .subscribe(move || {
            let guard = DropSignal(drops_tx.clone(), "slow");
            async move {
                let _guard = guard;
                let never = Notify::new();
                never.notified().await;
            }
        })
        .unwrap();
    let quick_async = linker
        .on("Job")
        .timeout(LIMIT)
        .on_failure(record_failures(&seen))
        .subscribe(|| async {
            tokio::task::yield_now().await;
            1
        })
        .unwrap();
    let quick_sync = linker
        .on("Job")
        .on_failure(record_failures(&seen))
        .subscribe(|| 2)
        .unwrap();
    let emitter = detailed(&linker);

    let started = tokio::time::Instant::now();
    let report = report_of("the emission", emitter.emit("Job").unwrap()).await;
    assert!(started.elapsed() >= LIMIT);

    let c = report.counts();
    assert_eq!(
        (c.succeeded, c.failed, c.timed_out, c.cancelled),
        (2, 0, 1, 0),
        "{report}"
    );
    let err = failure_of(&report, &slow);
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        matches!(err.kind(), HandlerErrorKind::TimedOut(d) if *d == LIMIT),
        "{err:?}"
    );
    assert!(part_of(&report, &quick_async).outcome.is_success());
    assert!(part_of(&report, &quick_sync).outcome.is_success());
    assert_eq!(
        drops_rx.try_recv(),
        Ok("slow"),
        "the slow handler was dropped"
    );
    assert_eq!(*seen.lock().unwrap(), [(slow.id(), Some(LIMIT))]);
    assert_eq!(emitter.metrics().timed_out, 1);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_emitter_wide_timeout_applies_to_handlers_without_their_own() {
    const DEFAULT: Duration = Duration::from_millis(50);
    const SHORTER: Duration = Duration::from_millis(10);
    let linker = linker();
    let seen: Seen = Arc::default();
    let (drops_tx, _drops_rx) = mpsc::channel();
    let no_own = linker
        .on("Job")
        .on_failure(record_failures(&seen))
        .subscribe(move || {
            let guard = DropSignal(drops_tx.clone(), "no_own");
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            }
        })
        .unwrap();
    let shorter = linker
        .on("Job")
        .timeout(SHORTER)
        .on_failure(record_failures(&seen))
        .subscribe(std::future::pending::<()>)
        .unwrap();
    // Takes longer than the default, but within its own timeout.
    let longer = linker
        .on("Job")
        .timeout(Duration::from_secs(1))
        .on_failure(record_failures(&seen))
        .subscribe(|| async { tokio::time::sleep(Duration::from_millis(200)).await })
        .unwrap();
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .timeout(DEFAULT)
        .detailed_reports(true)
        .build();

    let report = report_of("the emission", emitter.emit("Job").unwrap()).await;
    let c = report.counts();
    assert_eq!((c.succeeded, c.timed_out), (1, 2), "{report}");
    assert!(matches!(
        failure_of(&report, &no_own).kind(),
        HandlerErrorKind::TimedOut(d) if *d == DEFAULT
    ));
    assert!(matches!(
        failure_of(&report, &shorter).kind(),
        HandlerErrorKind::TimedOut(d) if *d == SHORTER
    ));
    assert!(part_of(&report, &longer).outcome.is_success());
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        [(no_own.id(), Some(DEFAULT)), (shorter.id(), Some(SHORTER))]
    );
}

/// Links, to `event`, a sync handler that spins past its 5 ms timeout and one well within
/// its own; returns them with the success count of each.
fn link_sync_overrun(
    linker: &EventLinker,
    event: &str,
    seen: &Seen,
) -> (Subscription, Counter, Subscription, Counter) {
    let (over_ok, under_ok) = (Counter::new(), Counter::new());
    let o = over_ok.clone();
    let over = linker
        .on(event)
        .timeout(Duration::from_millis(5))
        .on_success(move |_: &u32| o.incr())
        .on_failure(record_failures(seen))
        .subscribe(|| {
            spin_for(Duration::from_millis(30));
            1_u32
        })
        .unwrap();
    let u = under_ok.clone();
    let under = linker
        .on(event)
        .timeout(Duration::from_secs(60))
        .on_success(move |_: &u32| u.incr())
        .on_failure(record_failures(seen))
        .subscribe(|| 2_u32)
        .unwrap();
    (over, over_ok, under, under_ok)
}

fn check_sync_overrun(
    report: &EmissionReport,
    seen: &Seen,
    (over, over_ok, under, under_ok): &(Subscription, Counter, Subscription, Counter),
) {
    let c = report.counts();
    assert_eq!((c.succeeded, c.timed_out), (1, 1), "{report}");
    let err = failure_of(report, over);
    assert!(
        matches!(err.kind(), HandlerErrorKind::TimedOut(d) if *d == Duration::from_millis(5)),
        "{err:?}"
    );
    assert!(part_of(report, over).duration >= Duration::from_millis(30));
    assert!(part_of(report, under).outcome.is_success());
    assert_eq!(
        over_ok.get(),
        0,
        "an overrun takes the failure path, not success"
    );
    assert_eq!(under_ok.get(), 1);
    assert_eq!(
        *seen.lock().unwrap(),
        [(over.id(), Some(Duration::from_millis(5)))]
    );
}

#[test]
fn a_sync_handler_over_its_timeout_is_reported_timed_out_and_skips_its_success_callback() {
    within("a sync-context emission", || {
        let linker = linker();
        let seen: Seen = Arc::default();
        let subs = link_sync_overrun(&linker, "Job", &seen);
        let emitter = detailed(&linker);
        let report = emitter.emit("Job").unwrap().wait().unwrap();
        check_sync_overrun(&report, &seen, &subs);
    });
}

#[tokio::test(flavor = "current_thread")]
async fn a_sync_handler_over_its_timeout_is_reported_timed_out_in_async_code_too() {
    let linker = linker();
    let seen: Seen = Arc::default();
    let subs = link_sync_overrun(&linker, "Job", &seen);
    let emitter = detailed(&linker);
    let report = within_async("run", emitter.run("Job")).await.unwrap();
    check_sync_overrun(&report, &seen, &subs);
}

#[tokio::test(flavor = "current_thread")]
async fn a_blocking_handler_over_its_timeout_is_reported_when_it_returns() {
    let linker = linker();
    let seen: Seen = Arc::default();
    let slow = linker
        .on("Job")
        .blocking()
        .timeout(Duration::from_millis(5))
        .on_failure(record_failures(&seen))
        .subscribe(|| spin_for(Duration::from_millis(30)))
        .unwrap();
    let report = report_of("the emission", detailed(&linker).emit("Job").unwrap()).await;
    assert_eq!(report.counts().timed_out, 1, "{report}");
    assert!(failure_of(&report, &slow).is_timeout());
    assert_eq!(
        *seen.lock().unwrap(),
        [(slow.id(), Some(Duration::from_millis(5)))]
    );
}

// ---------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn metrics_follow_a_scripted_scenario() {
    let linker = linker();
    let quiet = |_: &HandlerError| ();
    linker.on("Good").subscribe(|| ()).unwrap();
    linker.on("Good").subscribe(|| async {}).unwrap();
    linker
        .on("Bad")
        .on_failure(quiet)
        .subscribe(|| Err::<(), _>("bad"))
        .unwrap();
    linker
        .on("Boom")
        .on_failure(quiet)
        .subscribe(|explode: &bool| assert!(!*explode, "boom"))
        .unwrap();
    linker
        .on("Slow")
        .timeout(Duration::from_millis(10))
        .on_failure(quiet)
        .subscribe(std::future::pending::<()>)
        .unwrap();
    linker
        .on("Stuck")
        .subscribe(std::future::pending::<()>)
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    assert_eq!(emitter.metrics(), ventus::EmitterMetrics::default());

    let done = vec![
        emitter.emit("Good").unwrap(),
        emitter.emit("Good").unwrap(),
        emitter.emit("Bad").unwrap(),
        emitter.emit_with("Boom", true).unwrap(),
        emitter.emit("Slow").unwrap(),
    ];
    let stuck = emitter.emit("Stuck").unwrap();
    let nobody = emitter.emit("Nobody").unwrap();
    assert!(nobody.is_finished(), "no handler: nothing to wait for");
    assert!(emitter.emit("").is_err());

    let m = emitter.metrics();
    assert_eq!(m.emitted, 7, "an empty name is not an emission: {m:?}");
    assert_eq!(m.in_flight, 6, "all but `Nobody` are scheduled: {m:?}");
    assert_eq!(
        (m.succeeded, m.failed, m.panicked, m.timed_out, m.cancelled),
        (0, 0, 0, 0, 0),
        "this task has not yielded, so nothing ran: {m:?}"
    );

    for handle in done {
        report_of("an emission", handle).await;
    }
    assert!(stuck.cancel());
    report_of("the cancelled emission", stuck).await;
    within_async("wait_for_tasks", emitter.wait_for_tasks()).await;
    let m = emitter.metrics();
    assert_eq!(
        (
            m.emitted,
            m.succeeded,
            m.failed,
            m.panicked,
            m.timed_out,
            m.cancelled,
            m.in_flight
        ),
        (7, 4, 1, 1, 1, 1, 0),
        "{m:?}"
    );

    // A sync-context emission through a clone counts toward the same metrics.
    let clone = emitter.clone();
    within("a sync-context emission", move || {
        clone.emit("Good").unwrap();
    });
    let m = emitter.metrics();
    assert_eq!((m.emitted, m.succeeded, m.in_flight), (8, 6, 0), "{m:?}");
}

#[test]
fn wait_policy_a_sync_handler_emitting_on_its_own_full_emitter_does_not_deadlock() {
    // Bound 1, sync context: the outer emission holds the only place while its sync
    // handler emits again on the same emitter. Waiting for room there would wait for the
    // outer emission, which waits for the handler: the nested `emit` must return (run, or
    // refuse with `Full`), not block forever.
    let nested = within("a nested emit under a full Overflow::Wait bound", || {
        let linker = linker();
        let emitter = EventEmitter::builder()
            .linker(&linker)
            .max_in_flight(1, Overflow::Wait)
            .build();
        let result = Arc::new(Mutex::new(None));
        let (e, r) = (emitter.clone(), result.clone());
        linker
            .on("Outer")
            .subscribe(move || {
                let nested = e.emit("Inner").map(|_| ());
                *r.lock().unwrap() = Some(nested.map_err(|err| err.to_string()));
            })
            .unwrap();
        linker.on("Inner").subscribe(|| ()).unwrap();
        emitter.emit("Outer").unwrap();
        let nested = result.lock().unwrap().take();
        nested
    });
    assert!(
        nested.is_some(),
        "the outer handler ran and its nested emit returned"
    );
}

// ---------------------------------------------------------------------------------------
// Cancellation tokens of tracked emissions (custom processors)
// ---------------------------------------------------------------------------------------

/// A processor that spawns each emission and hands out its cancellation token (and,
/// optionally, tracks it under a parent token).
#[derive(Debug, Default)]
struct TokenProcessor {
    parent: Option<ventus::CancellationToken>,
    tokens: Mutex<Vec<ventus::CancellationToken>>,
}

impl ventus::Processor for TokenProcessor {
    fn process(&self, emission: ventus::Emission<'_>) -> Result<Emitted, ventus::ProcessError> {
        let (emission, emitted) = emission.track(self.parent.as_ref());
        let token = emission.cancellation().expect("tracked").clone();
        self.tokens.lock().unwrap().push(token);
        tokio::spawn(emission.run());
        Ok(emitted)
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_emissions_token_cancels_it_before_and_while_it_runs_and_cancel_cancels_the_token() {
    let linker = linker();
    let started = Arc::new(Notify::new());
    let s = started.clone();
    let (drops_tx, drops_rx) = mpsc::channel();
    linker
        .on("Stuck")
        .subscribe(move || {
            let (s, guard) = (s.clone(), DropSignal(drops_tx.clone(), "stuck"));
            async move {
                let _guard = guard;
                s.notify_one();
                std::future::pending::<()>().await;
            }
        })
        .unwrap();
    let processor = Arc::new(TokenProcessor::default());
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .processor(SharedProcessor(processor.clone()))
        .build();

    // Cancelled through its token while a handler waits.
    let running = emitter.emit("Stuck").unwrap();
    within_async("the handler start", started.notified()).await;
    let token = processor.tokens.lock().unwrap()[0].clone();
    token.cancel();
    let report = report_of("the token-cancelled emission", running).await;
    assert_eq!(report.counts().cancelled, 1, "{report}");
    assert_eq!(drops_rx.try_recv(), Ok("stuck"));

    // Cancelled through its token before it started: no handler runs.
    let queued = emitter.emit("Stuck").unwrap();
    processor.tokens.lock().unwrap()[1].cancel();
    let report = report_of("the emission cancelled before it ran", queued).await;
    assert_eq!(report.counts().cancelled, 1, "{report}");
    assert_eq!(
        drops_rx.try_recv(),
        Err(mpsc::TryRecvError::Empty),
        "never started"
    );

    // `Emitted::cancel` cancels the token a processor holds.
    let handle = emitter.emit("Stuck").unwrap();
    within_async("the handler start", started.notified()).await;
    assert!(handle.cancel());
    assert!(processor.tokens.lock().unwrap()[2].is_cancelled());
    let report = report_of("the handle-cancelled emission", handle).await;
    assert_eq!(report.counts().cancelled, 1, "{report}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_parent_token_cancels_every_emission_tracked_under_it() {
    let linker = linker();
    let started = Arc::new(Semaphore::new(0));
    let s = started.clone();
    linker
        .on("Stuck")
        .subscribe(move || {
            let s = s.clone();
            async move {
                s.add_permits(1);
                std::future::pending::<()>().await;
            }
        })
        .unwrap();
    let parent = ventus::CancellationToken::new();
    let processor = Arc::new(TokenProcessor {
        parent: Some(parent.clone()),
        tokens: Mutex::new(Vec::new()),
    });
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .processor(SharedProcessor(processor.clone()))
        .build();
    let handles: Vec<_> = (0..3).map(|_| emitter.emit("Stuck").unwrap()).collect();
    within_async("three handler starts", started.acquire_many(3))
        .await
        .unwrap()
        .forget();
    parent.cancel();
    for handle in handles {
        let report = report_of("an emission under the cancelled parent", handle).await;
        assert_eq!(report.counts().cancelled, 1, "{report}");
    }
}

/// Shares one processor between the test and the emitter.
#[derive(Debug)]
struct SharedProcessor(Arc<TokenProcessor>);

impl ventus::Processor for SharedProcessor {
    fn process(&self, emission: ventus::Emission<'_>) -> Result<Emitted, ventus::ProcessError> {
        self.0.process(emission)
    }
}

// ---------------------------------------------------------------------------------------
// Extreme builder settings: clamped or ignored, never a panic
// ---------------------------------------------------------------------------------------

/// `max_in_flight(usize::MAX, ..)` is beyond what tokio's semaphore holds; the bound is
/// clamped to `Semaphore::MAX_PERMITS` instead of panicking in `build`.
#[test]
fn a_bound_of_usize_max_builds_and_emits() {
    let linker = linker();
    linker.on("Job").subscribe(|| async {}).unwrap();
    for overflow in [Overflow::Reject, Overflow::Wait] {
        let emitter = EventEmitter::builder()
            .linker(&linker)
            .max_in_flight(usize::MAX, overflow)
            .build();
        let report = emitter.emit("Job").unwrap().wait().unwrap();
        assert_eq!(report.counts().succeeded, 1, "{overflow:?}");
    }
}

/// A timeout of `Duration::MAX` (emitter-wide or per subscription) is "never": the
/// deadline it would give overflows `Instant`, and must not panic.
#[test]
fn a_timeout_of_duration_max_never_fires_and_never_panics() {
    let linker = linker();
    linker.on("Job").subscribe(|| ()).unwrap();
    linker.on("Job").subscribe(|| async {}).unwrap();
    linker
        .on("Job")
        .timeout(Duration::MAX)
        .subscribe(|| ())
        .unwrap();
    linker
        .on("Job")
        .timeout(Duration::MAX)
        .subscribe(|| async {})
        .unwrap();
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .timeout(Duration::MAX)
        .build();
    let report = emitter.emit("Job").unwrap().wait().unwrap();
    assert_eq!(report.counts().succeeded, 4, "{report:?}");
}
