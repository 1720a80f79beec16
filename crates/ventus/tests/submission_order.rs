//! Emitters built with `submission_order(true)`: one emission at a time, in the order
//! they were submitted, across threads and tasks, with any processor.

mod support;

use std::future::IntoFuture;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{linker, multi_thread, within, within_async};
use ventus::{
    Emission, EmitError, Emitted, EventEmitter, EventLinker, ProcessError, Processor,
    TokioEventEmitter, TokioProcessor,
};

/// Records handler starts and catches two emissions running at once.
#[derive(Default)]
struct Probe {
    /// (the emission whose handlers run, how many of them run now)
    active: Mutex<(u32, usize)>,
    violations: AtomicUsize,
    starts: Mutex<Vec<u32>>,
}

impl Probe {
    fn enter(&self, n: u32) {
        let mut active = self.active.lock().unwrap();
        if active.1 > 0 && active.0 != n {
            self.violations.fetch_add(1, Ordering::Relaxed);
        }
        *active = (n, active.1 + 1);
        drop(active);
        self.starts.lock().unwrap().push(n);
    }

    fn exit(&self) {
        self.active.lock().unwrap().1 -= 1;
    }

    fn violations(&self) -> usize {
        self.violations.load(Ordering::Relaxed)
    }

    fn starts(&self) -> Vec<u32> {
        self.starts.lock().unwrap().clone()
    }
}

/// Subscribes `k` async handlers to "Step" that yield `n % 5` times between their
/// start and their end.
fn async_steps(linker: &EventLinker, probe: &Arc<Probe>, k: usize) {
    for _ in 0..k {
        let probe = probe.clone();
        linker
            .on("Step")
            .subscribe(move |n: u32| {
                let probe = probe.clone();
                async move {
                    probe.enter(n);
                    for _ in 0..n % 5 {
                        tokio::task::yield_now().await;
                    }
                    probe.exit();
                }
            })
            .unwrap();
    }
}

fn ordered(linker: &EventLinker) -> TokioEventEmitter {
    EventEmitter::builder()
        .linker(linker)
        .submission_order(true)
        .build()
}

async fn await_all(handles: Vec<Emitted>) -> Vec<ventus::EmissionReport> {
    let mut reports = Vec::new();
    for handle in handles {
        reports.push(within_async("an ordered emission", handle.into_future()).await);
    }
    reports
}

fn one_task_keeps_order(k: usize) {
    let linker = linker();
    let probe = Arc::new(Probe::default());
    async_steps(&linker, &probe, k);
    let emitter = ordered(&linker);
    multi_thread(2).block_on(async {
        let handles = (1..=200_u32)
            .map(|n| emitter.emit_with("Step", n).unwrap())
            .collect();
        let reports = await_all(handles).await;
        assert!(reports.iter().all(|r| r.counts().succeeded as usize == k));
    });
    let expected: Vec<u32> = (1..=200).flat_map(|n| std::iter::repeat_n(n, k)).collect();
    assert_eq!(probe.starts(), expected);
    assert_eq!(probe.violations(), 0);
}

#[test]
fn one_task_keeps_order_one_handler() {
    one_task_keeps_order(1);
}

#[test]
fn one_task_keeps_order_two_handlers() {
    one_task_keeps_order(2);
}

/// Checks each producer's values start in its order, and that none is missing.
fn assert_per_producer(starts: &[u32], producers: u32, each: u32) {
    assert_eq!(starts.len(), (producers * each) as usize, "nothing lost");
    for p in 0..producers {
        let mine: Vec<u32> = starts.iter().copied().filter(|v| v / 1000 == p).collect();
        let expected: Vec<u32> = (0..each).map(|i| p * 1000 + i).collect();
        assert_eq!(mine, expected, "producer {p}");
    }
}

#[test]
fn producer_tasks_keep_their_order() {
    let linker = linker();
    let probe = Arc::new(Probe::default());
    async_steps(&linker, &probe, 1);
    let emitter = ordered(&linker);
    multi_thread(2).block_on(async {
        let tasks: Vec<_> = (0..4_u32)
            .map(|p| {
                let emitter = emitter.clone();
                tokio::spawn(async move {
                    let handles = (0..50_u32)
                        .map(|i| emitter.emit_with("Step", p * 1000 + i).unwrap())
                        .collect();
                    await_all(handles).await
                })
            })
            .collect();
        for task in tasks {
            let reports = task.await.unwrap();
            assert!(reports.iter().all(|r| r.counts().succeeded == 1));
        }
    });
    assert_per_producer(&probe.starts(), 4, 50);
    assert_eq!(probe.violations(), 0);
}

/// Producer threads in a sync context, each waiting for its handles.
fn producer_threads(emitter: EventEmitter, probe: &Arc<Probe>) {
    let threads: Vec<_> = (0..4_u32)
        .map(|p| {
            let emitter = emitter.clone();
            std::thread::spawn(move || {
                let handles: Vec<Emitted> = (0..50_u32)
                    .map(|i| emitter.emit_with("Step", p * 1000 + i).unwrap())
                    .collect();
                for handle in handles {
                    let report = handle.wait().expect("no runtime on this thread");
                    assert_eq!(report.counts().succeeded, 2);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_per_producer(
        &probe.starts().chunks(2).map(|c| c[0]).collect::<Vec<_>>(),
        4,
        50,
    );
    assert_eq!(probe.violations(), 0);
}

/// One sync and one async handler on "Step".
fn mixed_steps(linker: &EventLinker, probe: &Arc<Probe>) {
    let sync_probe = probe.clone();
    linker
        .on("Step")
        .subscribe(move |n: &u32| {
            sync_probe.enter(*n);
            sync_probe.exit();
        })
        .unwrap();
    async_steps(linker, probe, 1);
}

#[test]
fn producer_threads_in_a_sync_context() {
    within("sync producers", || {
        let linker = linker();
        let probe = Arc::new(Probe::default());
        mixed_steps(&linker, &probe);
        producer_threads(ordered(&linker).into(), &probe);
    });
}

#[cfg(feature = "thread-pool")]
#[test]
fn producer_threads_on_a_thread_pool() {
    within("thread-pool producers", || {
        let linker = linker();
        let probe = Arc::new(Probe::default());
        mixed_steps(&linker, &probe);
        let emitter = EventEmitter::builder()
            .linker(&linker)
            .processor(ventus::ThreadPoolProcessor::builder().threads(3).build())
            .submission_order(true)
            .build();
        producer_threads(emitter.into(), &probe);
    });
}

/// A handler of A emits B then C while D was already queued: A, D, B, C.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_emissions_go_to_the_back() {
    let linker = linker();
    let log = Arc::new(Mutex::new(Vec::new()));
    let gate = Arc::new(tokio::sync::Notify::new());
    let nested: Arc<Mutex<Vec<Emitted>>> = Arc::default();
    for name in ["B", "C", "D"] {
        let log = log.clone();
        linker
            .on(name)
            .subscribe(move || log.lock().unwrap().push(name))
            .unwrap();
    }
    let emitter = ordered(&linker);
    {
        let (log, gate, nested) = (log.clone(), gate.clone(), nested.clone());
        let emitter = emitter.clone();
        linker
            .on("A")
            .subscribe(move || {
                let (log, gate, nested, emitter) =
                    (log.clone(), gate.clone(), nested.clone(), emitter.clone());
                async move {
                    log.lock().unwrap().push("A");
                    gate.notified().await;
                    {
                        let mut nested = nested.lock().unwrap();
                        nested.push(emitter.emit("B").unwrap());
                        nested.push(emitter.emit("C").unwrap());
                    }
                    tokio::task::yield_now().await;
                    log.lock().unwrap().push("A ends");
                }
            })
            .unwrap();
    }
    let a = emitter.emit("A").unwrap();
    let d = emitter.emit("D").unwrap();
    gate.notify_one();
    within_async("A", a.into_future()).await;
    within_async("D", d.into_future()).await;
    let nested = std::mem::take(&mut *nested.lock().unwrap());
    await_all(nested).await;
    assert_eq!(*log.lock().unwrap(), ["A", "A ends", "D", "B", "C"]);
}

/// In a sync context the emit that runs the queue returns once it is empty, nested
/// emissions included.
#[test]
fn nested_emissions_in_a_sync_context() {
    within("sync nested", || {
        let linker = linker();
        let log = Arc::new(Mutex::new(Vec::new()));
        for name in ["B", "C"] {
            let log = log.clone();
            linker
                .on(name)
                .subscribe(move || log.lock().unwrap().push(name))
                .unwrap();
        }
        let emitter = ordered(&linker);
        {
            let (log, emitter) = (log.clone(), emitter.clone());
            linker
                .on("A")
                .subscribe(move || {
                    log.lock().unwrap().push("A");
                    let b = emitter.emit("B").unwrap();
                    assert!(!b.is_finished(), "B runs after A");
                    emitter.emit("C").unwrap();
                    log.lock().unwrap().push("A ends");
                })
                .unwrap();
        }
        assert!(emitter.emit("A").unwrap().is_finished());
        assert_eq!(*log.lock().unwrap(), ["A", "A ends", "B", "C"]);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_do_not_stall_the_queue() {
    let linker = linker();
    linker
        .on("Err")
        .subscribe(|| async { Err::<(), _>("refused") })
        .unwrap();
    linker
        .on("Panic")
        .subscribe(|| async { panic!("handler panic") })
        .unwrap();
    linker
        .on("Stuck")
        .subscribe(std::future::pending::<()>)
        .unwrap();
    linker.on("Ok").subscribe(|| async {}).unwrap();
    let emitter: TokioEventEmitter = EventEmitter::builder()
        .linker(&linker)
        .timeout(Duration::from_millis(20))
        .submission_order(true)
        .build();
    let handles = ["Err", "Panic", "Stuck", "Ok"]
        .map(|event| emitter.emit(event).unwrap())
        .into();
    let reports = await_all(handles).await;
    assert_eq!(reports[0].counts().failed, 1);
    assert_eq!(reports[1].counts().panicked, 1);
    assert_eq!(reports[2].counts().timed_out, 1);
    assert_eq!(reports[3].counts().succeeded, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_reports_queued_emissions() {
    let linker = linker();
    linker
        .on("Stuck")
        .subscribe(std::future::pending::<()>)
        .unwrap();
    linker.on("Quick").subscribe(|| async {}).unwrap();
    linker.on("Quick").subscribe(|| ()).unwrap();
    let emitter = ordered(&linker);
    shutdown_cancels_stuck_and_queued(&emitter, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_runs_what_fits_in_the_deadline() {
    let linker = linker();
    // Held until the shutdown has begun, so all five are in flight when it starts (a
    // worker could otherwise finish the first ones before it, and they would not be
    // the shutdown's to count).
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let g = gate.clone();
    linker
        .on("Quick")
        .subscribe(move || {
            let g = g.clone();
            async move { g.acquire().await.unwrap().forget() }
        })
        .unwrap();
    let emitter = ordered(&linker);
    let queued: Vec<Emitted> = (0..5).map(|_| emitter.emit("Quick").unwrap()).collect();
    let shutdown = tokio::spawn({
        let emitter = emitter.clone();
        async move { emitter.shutdown(Duration::from_secs(30)).await }
    });
    within_async("shutdown started", async {
        while !emitter.is_closed() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    gate.add_permits(5);
    let report = within_async("shutdown", shutdown).await.unwrap();
    assert_eq!((report.finished, report.cancelled), (5, 0));
    for report in await_all(queued).await {
        assert_eq!(report.counts().succeeded, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_waits_its_turn() {
    let linker = linker();
    let log = Arc::new(Mutex::new(Vec::new()));
    let gate = Arc::new(tokio::sync::Notify::new());
    {
        let (log, gate) = (log.clone(), gate.clone());
        linker
            .on("A")
            .subscribe(move || {
                let (log, gate) = (log.clone(), gate.clone());
                async move {
                    gate.notified().await;
                    log.lock().unwrap().push("A");
                }
            })
            .unwrap();
    }
    {
        let log = log.clone();
        linker
            .on("B")
            .subscribe(move |n: &u32| log.lock().unwrap().push(if *n == 1 { "B" } else { "?" }))
            .unwrap();
    }
    let emitter = ordered(&linker);
    let a = emitter.emit("A").unwrap();
    let run = {
        let emitter = emitter.clone();
        tokio::spawn(async move { emitter.run_with("B", 1_u32).await })
    };
    // Once `run_with` has submitted B, B cannot run before A has ended: the log stays
    // empty until the gate opens.
    within_async("B submitted", async {
        while emitter.metrics().emitted < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert!(log.lock().unwrap().is_empty());
    gate.notify_one();
    let report = within_async("run_with", run).await.unwrap().unwrap();
    assert_eq!(report.counts().succeeded, 1);
    assert!(within_async("A", a.into_future()).await.counts().succeeded == 1);
    assert_eq!(*log.lock().unwrap(), ["A", "B"]);
}

/// Runs each emission inline on the caller's thread or on a new thread, at random:
/// the hand-off between the queue and the turn's end races both ways.
#[derive(Debug, Default)]
struct Scatter(AtomicUsize);

impl Processor for Scatter {
    fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        // A cheap mix of the counter, so the two ways interleave irregularly.
        let spin = (n.wrapping_mul(0x9E37_79B9) >> 7) % 3;
        if spin == 0 {
            return emission.try_run_inline().map_err(|_| ProcessError::Closed);
        }
        let (emission, emitted) = emission.track(None);
        std::thread::spawn(move || {
            if spin == 2 {
                std::thread::yield_now();
            }
            let _ = emission.try_run_inline();
        });
        Ok(emitted)
    }
}

#[test]
fn hand_off_stress_with_threads() {
    within("stress", || {
        let linker = linker();
        let running = Arc::new(AtomicBool::new(false));
        let violations = Arc::new(AtomicUsize::new(0));
        let runs: Arc<Vec<AtomicUsize>> =
            Arc::new((0..8 * 300).map(|_| AtomicUsize::new(0)).collect());
        {
            let (running, violations, runs) = (running.clone(), violations.clone(), runs.clone());
            linker
                .on("Hit")
                .subscribe(move |n: &usize| {
                    if running.swap(true, Ordering::AcqRel) {
                        violations.fetch_add(1, Ordering::Relaxed);
                    }
                    runs[*n].fetch_add(1, Ordering::Relaxed);
                    running.store(false, Ordering::Release);
                })
                .unwrap();
        }
        let emitter: EventEmitter = EventEmitter::builder()
            .linker(&linker)
            .processor(Scatter::default())
            .submission_order(true)
            .build()
            .into();
        let producers: Vec<_> = (0..8_usize)
            .map(|p| {
                let emitter = emitter.clone();
                std::thread::spawn(move || {
                    let handles: Vec<Emitted> = (0..300)
                        .map(|i| emitter.emit_with("Hit", p * 300 + i).unwrap())
                        .collect();
                    for handle in handles {
                        assert_eq!(handle.wait().unwrap().counts().succeeded, 1);
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.join().unwrap();
        }
        assert_eq!(violations.load(Ordering::Relaxed), 0);
        assert!(
            runs.iter().all(|r| r.load(Ordering::Relaxed) == 1),
            "exactly once"
        );
    });
}

/// An unordered emitter is not ordered, and says so.
#[test]
fn unordered_by_default() {
    let emitter = EventEmitter::builder()
        .processor(TokioProcessor::new())
        .build();
    assert!(!emitter.is_submission_ordered());
    assert!(ordered(&linker()).is_submission_ordered());
}

/// Refuses emissions of "Refuse" and runs the others inline.
#[derive(Debug)]
struct RefuseSome;

impl Processor for RefuseSome {
    fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
        if emission.event() == "Refuse" {
            return Err(ProcessError::Failed("not this one".into()));
        }
        emission.try_run_inline().map_err(|_| ProcessError::Closed)
    }
}

/// An emission its processor refuses at its turn was accepted by `emit`: it is reported
/// cancelled with its handlers, and the queue goes on.
#[test]
fn a_refusal_at_the_turn_is_reported() {
    within("refusal", || {
        let linker = linker();
        let (ran, count) = support::counter();
        linker.on("Refuse").subscribe(|| ()).unwrap();
        linker.on("Refuse").subscribe(|| ()).unwrap();
        linker.on("Run").subscribe(count).unwrap();
        let emitter = EventEmitter::builder()
            .linker(&linker)
            .processor(RefuseSome)
            .submission_order(true)
            .build();
        let refused = emitter.emit("Refuse").unwrap().wait().unwrap();
        assert_eq!(refused.counts().cancelled, 2);
        assert_eq!(emitter.metrics().cancelled, 2);
        assert_eq!(
            emitter
                .emit("Run")
                .unwrap()
                .wait()
                .unwrap()
                .counts()
                .succeeded,
            1
        );
        assert_eq!(support::count(&ran), 1);
    });
}

/// On a thread pool, a stuck handler and the emissions queued behind it are cancelled
/// at the shutdown's deadline, and counted.
#[cfg(feature = "thread-pool")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thread_pool_shutdown_reports_queued_emissions() {
    let linker = linker();
    linker
        .on("Stuck")
        .subscribe(std::future::pending::<()>)
        .unwrap();
    linker.on("Quick").subscribe(|| ()).unwrap();
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .processor(ventus::ThreadPoolProcessor::builder().threads(2).build())
        .submission_order(true)
        .build();
    shutdown_cancels_stuck_and_queued(&emitter, 1).await;
}

/// Emits `Stuck` (a handler that never ends) and three `Quick` behind it, shuts the
/// emitter down with a short deadline, and checks that all four are reported cancelled,
/// each `Quick` with its `handlers` handlers counted, and that the emitter is closed.
async fn shutdown_cancels_stuck_and_queued<P: Processor>(emitter: &EventEmitter<P>, handlers: u32) {
    let stuck = emitter.emit("Stuck").unwrap();
    let queued: Vec<Emitted> = (0..3).map(|_| emitter.emit("Quick").unwrap()).collect();
    let report = within_async("shutdown", emitter.shutdown(Duration::from_millis(30))).await;
    assert_eq!((report.finished, report.cancelled), (0, 4));
    assert_eq!(
        within_async("stuck", stuck.into_future())
            .await
            .counts()
            .cancelled,
        1
    );
    for report in await_all(queued).await {
        assert_eq!(report.counts().cancelled, handlers, "each handler counted");
    }
    assert!(matches!(
        emitter.emit("Quick"),
        Err(EmitError::Closed { .. })
    ));
}
