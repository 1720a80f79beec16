//! Many threads at once: once-subscriptions run exactly once, subscribe/unsubscribe churn
//! during heavy emitting stays consistent, and `wait_for_tasks` waits for every handler
//! of many concurrent emitters. Deadlocks fail the test instead of hanging it.

mod support;

use std::collections::HashSet;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use support::{setup, within, within_async, Counter};
use ventus::{AnyEvent, EmissionId, EventLinker, Subscription, TokioEventEmitter};

const ROUNDS: usize = 200;
const EMITTERS: usize = 8;

/// Links a once-handler to `E`, sync or async, counting its runs.
fn once_counter(linker: &EventLinker, async_handler: bool) -> (Subscription, Counter) {
    let runs = Counter::new();
    let r = runs.clone();
    let sub = if async_handler {
        linker
            .on("E")
            .once()
            .subscribe(move || {
                let r = r.clone();
                async move {
                    tokio::task::yield_now().await;
                    r.incr();
                }
            })
            .unwrap()
    } else {
        linker.on("E").once().subscribe(move || r.incr()).unwrap()
    };
    (sub, runs)
}

#[test]
fn once_runs_exactly_once_under_concurrent_emitters() {
    within("once under concurrent emitters", || {
        for round in 0..ROUNDS {
            let (linker, emitter) = setup();
            let (sub, runs) = once_counter(&linker, round % 2 == 1);
            // A plain handler beside it, to check every emission still ran.
            let all = Counter::new();
            let a = all.clone();
            linker.on("E").subscribe(move || a.incr()).unwrap();
            let barrier = Barrier::new(EMITTERS);
            thread::scope(|s| {
                for _ in 0..EMITTERS {
                    s.spawn(|| {
                        barrier.wait();
                        emitter.emit("E").unwrap();
                    });
                }
            });
            assert_eq!(runs.get(), 1, "round {round}: exactly one run");
            assert_eq!(all.get(), EMITTERS, "round {round}");
            assert!(!sub.is_linked(), "round {round}: claimed");
            assert!(!sub.unsubscribe(), "round {round}: already claimed");
            assert_eq!(linker.subscriber_count_of("E"), 1, "round {round}: removed");
        }
    });
}

#[test]
fn once_runs_or_is_unsubscribed_never_both_under_concurrent_emit_and_unsubscribe() {
    within("once under emit and unsubscribe", || {
        for round in 0..ROUNDS {
            let (linker, emitter) = setup();
            let (sub, runs) = once_counter(&linker, round % 2 == 1);
            let barrier = Barrier::new(5);
            let unsubscribed = thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        barrier.wait();
                        emitter.emit("E").unwrap();
                    });
                }
                let unsubscriber = s.spawn(|| {
                    barrier.wait();
                    sub.unsubscribe()
                });
                unsubscriber.join().unwrap()
            });
            assert_eq!(
                runs.get() + usize::from(unsubscribed),
                1,
                "round {round}: runs {} unsubscribed {unsubscribed}",
                runs.get()
            );
            assert!(linker.is_empty(), "round {round}: removed either way");
        }
    });
}

/// Per-handler record of the emissions it ran for.
#[derive(Clone, Default)]
struct Seen {
    ids: Arc<Mutex<HashSet<EmissionId>>>,
    duplicates: Counter,
    runs: Counter,
}

impl Seen {
    fn record(&self, id: EmissionId) {
        self.runs.incr();
        if !self.ids.lock().unwrap().insert(id) {
            self.duplicates.incr();
        }
    }
}

#[test]
fn emitting_while_subscribers_churn_stays_consistent() {
    const EMITTING_THREADS: usize = 4;
    const EMITS: usize = 10_000;

    let (linker, emitter) = setup();
    let permanent = Seen::default();
    let p = permanent.clone();
    linker
        .on("E")
        .subscribe(move |e: &AnyEvent| p.record(e.id()))
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let churned: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let once_outcomes: Arc<Mutex<Vec<(Counter, bool)>>> = Arc::default();

    let (ln, em) = (linker.clone(), emitter.clone());
    let (stop2, churned2, once2) = (stop.clone(), churned.clone(), once_outcomes.clone());
    within("emit under churn", move || {
        thread::scope(|s| {
            // Churn 1: plain handlers (sync, async, on `E` or on any event) that record
            // each emission they run for, subscribed then unsubscribed.
            s.spawn(|| {
                let mut n = 0_usize;
                while !stop2.load(Ordering::SeqCst) {
                    let seen = Seen::default();
                    let r = seen.clone();
                    let builder = if n % 3 == 0 { ln.on_any() } else { ln.on("E") };
                    let sub = if n % 4 == 0 {
                        builder
                            .subscribe(move |e: AnyEvent| {
                                let r = r.clone();
                                async move { r.record(e.id()) }
                            })
                            .unwrap()
                    } else {
                        builder
                            .subscribe(move |e: &AnyEvent| r.record(e.id()))
                            .unwrap()
                    };
                    thread::yield_now();
                    assert!(
                        sub.unsubscribe(),
                        "first unsubscribe of a plain subscription"
                    );
                    assert!(!sub.unsubscribe());
                    churned2.lock().unwrap().push(seen);
                    n += 1;
                }
            });
            // Churn 2: once-handlers, raced by the emitters and then unsubscribed.
            s.spawn(|| {
                while !stop2.load(Ordering::SeqCst) {
                    let runs = Counter::new();
                    let r = runs.clone();
                    let sub = ln.on("E").once().subscribe(move || r.incr()).unwrap();
                    thread::yield_now();
                    let unsubscribed = sub.unsubscribe();
                    once2.lock().unwrap().push((runs, unsubscribed));
                }
            });
            let emitters: Vec<_> = (0..EMITTING_THREADS)
                .map(|_| {
                    s.spawn(|| {
                        for _ in 0..EMITS {
                            em.emit("E").unwrap();
                        }
                    })
                })
                .collect();
            for e in emitters {
                e.join().unwrap();
            }
            stop2.store(true, Ordering::SeqCst);
        });
    });

    // Every emission ran the permanent handler exactly once.
    assert_eq!(permanent.runs.get(), EMITTING_THREADS * EMITS);
    assert_eq!(permanent.duplicates.get(), 0);
    assert_eq!(
        permanent.ids.lock().unwrap().len(),
        EMITTING_THREADS * EMITS
    );

    // Churned handlers ran at most once per emission, and only for real emissions.
    let all_ids = permanent.ids.lock().unwrap().clone();
    let churned = churned.lock().unwrap();
    assert!(!churned.is_empty());
    let mut churned_runs = 0;
    for seen in churned.iter() {
        assert_eq!(
            seen.duplicates.get(),
            0,
            "a handler ran twice in one emission"
        );
        let ids = seen.ids.lock().unwrap();
        assert!(
            ids.is_subset(&all_ids),
            "ran for an emission that never happened"
        );
        churned_runs += seen.runs.get();
    }

    // Each once-handler either ran exactly once or was unsubscribed, never both.
    let once_outcomes = once_outcomes.lock().unwrap();
    assert!(!once_outcomes.is_empty());
    let mut once_ran = 0;
    for (runs, unsubscribed) in once_outcomes.iter() {
        assert_eq!(
            runs.get() + usize::from(*unsubscribed),
            1,
            "once: runs {}",
            runs.get()
        );
        once_ran += runs.get();
    }

    // Nothing is left linked but the permanent handler, and nothing runs any more.
    assert_eq!(linker.subscriber_count(), 1);
    emitter.emit("E").unwrap();
    assert_eq!(permanent.runs.get(), EMITTING_THREADS * EMITS + 1);
    let after: usize = churned.iter().map(|s| s.runs.get()).sum();
    assert_eq!(after, churned_runs, "an unsubscribed handler ran");
    let once_after: usize = once_outcomes.iter().map(|(r, _)| r.get()).sum();
    assert_eq!(once_after, once_ran);
}

#[test]
fn wait_for_tasks_waits_for_every_handler_of_many_concurrent_emitters() {
    const TASKS: usize = 16;
    const THREADS: usize = 2;
    const EMITS: usize = 300;

    let rt = support::multi_thread(4);
    let (linker, emitter) = setup();
    let done = Counter::new();
    let d = done.clone();
    linker
        .on("E")
        .subscribe(move || {
            let d = d.clone();
            async move {
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                d.incr();
            }
        })
        .unwrap();
    let d = done.clone();
    linker.on("E").subscribe(move || d.incr()).unwrap();
    let d = done.clone();
    linker
        .on("E")
        .blocking()
        .subscribe(move || d.incr())
        .unwrap();
    let expected = (TASKS + THREADS) * EMITS * 3;

    let counted = rt.block_on(async {
        let mut emitters = Vec::new();
        for _ in 0..TASKS {
            let em = emitter.clone();
            emitters.push(tokio::spawn(async move {
                for i in 0..EMITS {
                    em.emit("E").unwrap();
                    if i % 10 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            }));
        }
        // Plain threads that entered the runtime: an async context too.
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let (em, handle) = (emitter.clone(), tokio::runtime::Handle::current());
                thread::spawn(move || {
                    let _entered = handle.enter();
                    for _ in 0..EMITS {
                        em.emit("E").unwrap();
                    }
                })
            })
            .collect();
        for e in emitters {
            e.await.unwrap();
        }
        let joined = tokio::task::spawn_blocking(move || {
            for t in threads {
                t.join().unwrap();
            }
        });
        joined.await.unwrap();
        within_async("wait_for_tasks", emitter.wait_for_tasks()).await;
        // Read at once: every handler must already have run.
        done.get()
    });
    assert_eq!(counted, expected);
    assert_eq!(emitter.processor().in_flight(), 0);
}

#[test]
fn wait_for_tasks_started_before_the_work_returns_only_when_all_handlers_ran() {
    let rt = support::multi_thread(4);
    let (linker, emitter) = setup();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let done = Counter::new();
    let (g, d) = (gate.clone(), done.clone());
    linker
        .on("E")
        .subscribe(move || {
            let (g, d) = (g.clone(), d.clone());
            async move {
                g.acquire().await.unwrap().forget();
                d.incr();
            }
        })
        .unwrap();
    const N: usize = 500;
    let counted = rt.block_on(async {
        for _ in 0..N {
            emitter.emit("E").unwrap();
        }
        let em: TokioEventEmitter = emitter.clone();
        let c = done.clone();
        let waiter = tokio::spawn(async move {
            em.wait_for_tasks().await;
            c.get()
        });
        // Opened from several tasks, bit by bit, while the waiter waits.
        let openers: Vec<_> = (0..5)
            .map(|_| {
                let g = gate.clone();
                tokio::spawn(async move {
                    for _ in 0..N / 5 {
                        g.add_permits(1);
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for o in openers {
            o.await.unwrap();
        }
        within_async("waiter", waiter).await.unwrap()
    });
    assert_eq!(
        counted, N,
        "wait_for_tasks returned before every handler ran"
    );
}

/// Metrics lose no count however many threads emit: more threads than there are
/// per-thread stripes, so some share a stripe.
#[test]
fn metrics_count_every_emission_from_many_threads() {
    const THREADS: usize = 20;
    const PER_THREAD: u64 = 2_000;
    let linker = ventus::EventLinker::builder().build().unwrap();
    linker.on("Tick").subscribe(|| ()).unwrap();
    let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for _ in 0..PER_THREAD {
                    emitter.emit("Tick").unwrap();
                }
            });
        }
    });
    let metrics = emitter.metrics();
    let expected = THREADS as u64 * PER_THREAD;
    assert_eq!(metrics.emitted, expected);
    assert_eq!(metrics.succeeded, expected);
}

/// Once-subscribers linked to several events each are subscribed while several threads
/// fire them, beside a thread that subscribes and unsubscribes plain handlers on the same
/// events and a reader that checks that a once-subscriber seen to have run is no longer
/// linked anywhere. Each once handler runs exactly once and nothing is left at the end.
#[test]
fn once_subscribers_fired_from_many_threads_while_others_churn() {
    const EVENTS: usize = 8;
    const ONCE: usize = 600;
    const EMITTING_THREADS: usize = 4;

    let (linker, emitter) = setup();
    let names: Vec<String> = (0..EVENTS).map(|e| format!("E{e}")).collect();
    let fired = Counter::new();
    let all_subscribed = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let onces: Mutex<Vec<(Subscription, Counter)>> = Mutex::default();
    let churned = Counter::new();

    let (ln, em, names2, fired2, churned2) = (
        linker.clone(),
        emitter.clone(),
        names.clone(),
        fired.clone(),
        churned.clone(),
    );
    let finished = within("once under churn", move || {
        let (names, fired, churned) = (names2, fired2, churned2);
        thread::scope(|s| {
            // Writers: once-subscribers, each on its own spread of one to three events.
            s.spawn(|| {
                for i in 0..ONCE {
                    let events: Vec<&str> = [i, i * 3 + 1, i * 5 + 2][..1 + i % 3]
                        .iter()
                        .map(|e| names[e % EVENTS].as_str())
                        .collect();
                    let (runs, f) = (Counter::new(), fired.clone());
                    let r = runs.clone();
                    let sub = ln
                        .on(events)
                        .once()
                        .subscribe(move || {
                            r.incr();
                            f.incr();
                        })
                        .unwrap();
                    onces.lock().unwrap().push((sub, runs));
                    if i % 16 == 0 {
                        thread::yield_now();
                    }
                }
                all_subscribed.store(true, Ordering::SeqCst);
            });
            // Writers: plain handlers on the same events, in and out.
            s.spawn(|| {
                let mut n = 0;
                while !done.load(Ordering::SeqCst) {
                    let sub = ln.on(names[n % EVENTS].as_str()).subscribe(|| ()).unwrap();
                    thread::yield_now();
                    assert!(sub.unsubscribe(), "first unsubscribe of a plain handler");
                    assert!(!sub.unsubscribe());
                    churned.incr();
                    n += 1;
                }
            });
            // Reader: a once-subscriber that ran is gone from every query at once.
            s.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    let seen: Vec<_> = onces.lock().unwrap().clone();
                    for (sub, runs) in seen.iter().rev().take(64) {
                        if runs.get() > 0 {
                            assert!(!sub.is_linked());
                            assert!(!ln.contains_subscriber(sub), "ran but still linked");
                            assert!(ln.events_of(sub).is_empty());
                            assert!(!ln.subscribers_of(names.as_slice()).contains(sub));
                        }
                    }
                    thread::yield_now();
                }
            });
            // Emitters: every event, over and over, until every once handler has run.
            let emitters: Vec<_> = (0..EMITTING_THREADS)
                .map(|_| {
                    s.spawn(|| {
                        while !(all_subscribed.load(Ordering::SeqCst) && fired.get() == ONCE) {
                            for name in &names {
                                em.emit(name.as_str()).unwrap();
                            }
                        }
                    })
                })
                .collect();
            for e in emitters {
                e.join().unwrap();
            }
            done.store(true, Ordering::SeqCst);
        });
        onces.into_inner().unwrap()
    });

    assert_eq!(finished.len(), ONCE);
    for (i, (sub, runs)) in finished.iter().enumerate() {
        assert_eq!(runs.get(), 1, "once handler {i} ran {} times", runs.get());
        assert!(!sub.is_linked());
        assert!(!sub.unsubscribe());
    }
    assert!(churned.get() > 0);
    assert_eq!(linker.subscriber_count(), 0);
    assert_eq!(linker.event_count(), 0);
    assert!(linker.is_empty(), "events left: {:?}", linker.events());
    for name in &names {
        let report = emitter.emit(name.as_str()).unwrap().wait().unwrap();
        assert_eq!(report.counts().total(), 0, "{name} still has a handler");
    }
    assert_eq!(fired.get(), ONCE);
}

/// Every handle gets its report however the end of its emission on another thread races
/// with the wait: handles awaited from tasks (some polled before the end, some after, some
/// polled in one task and finished in another, whose waker replaces the first) and waited
/// for from plain threads.
#[test]
fn every_handle_gets_its_report_while_emissions_end_on_other_threads() {
    const TASKS: usize = 8;
    const THREADS: usize = 4;
    const EMITS: u64 = 300;

    let rt = support::multi_thread(4);
    let (linker, emitter) = setup();
    linker
        .on("E")
        .subscribe(|n: u64| async move {
            // Ends at the first poll, or after a few hops through the scheduler.
            for _ in 0..n % 4 {
                tokio::task::yield_now().await;
            }
        })
        .unwrap();
    linker.on("E").subscribe(|| ()).unwrap();

    let reports = rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let em = emitter.clone();
                tokio::spawn(async move {
                    let mut got = 0;
                    for i in 0..EMITS {
                        let emitted = em.emit_with("E", i + t as u64).unwrap();
                        let mut wait = emitted.into_future();
                        let report = match i % 3 {
                            // Polled once (registering a waker), then awaited here.
                            0 => match futures_poll_once(wait.as_mut()).await {
                                Some(report) => report,
                                None => wait.await,
                            },
                            // Polled once here, then awaited in another task.
                            1 => match futures_poll_once(wait.as_mut()).await {
                                Some(report) => report,
                                None => tokio::spawn(wait).await.unwrap(),
                            },
                            _ => wait.await,
                        };
                        assert_eq!(report.counts().succeeded, 2, "task {t}, emission {i}");
                        got += 1;
                    }
                    got
                })
            })
            .collect();
        let handle = tokio::runtime::Handle::current();
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let (em, handle) = (emitter.clone(), handle.clone());
                thread::spawn(move || {
                    let _entered = handle.enter();
                    let handles: Vec<_> = (0..EMITS)
                        .map(|i| em.emit_with("E", i + t as u64).unwrap())
                        .collect();
                    drop(_entered);
                    // Blocks on the condvar while the emissions end on the workers.
                    handles
                        .into_iter()
                        .map(|h| h.wait().unwrap().counts().succeeded)
                        .filter(|&n| n == 2)
                        .count()
                })
            })
            .collect();
        let mut got = 0;
        for task in tasks {
            got += within_async("awaited handles", task).await.unwrap();
        }
        let joined = tokio::task::spawn_blocking(move || {
            threads
                .into_iter()
                .map(|t| t.join().unwrap())
                .sum::<usize>()
        });
        got + within_async("waited handles", joined).await.unwrap()
    });
    assert_eq!(reports, (TASKS + THREADS) * EMITS as usize);
    // Exact, not eventual: an emission leaves the count before its report is published.
    assert_eq!(emitter.processor().in_flight(), 0);
}

/// The documented order, under load: an emission leaves its processor's in-flight count
/// before its report is published, so `in_flight()` read right after `wait()` returned
/// no longer counts it. Each thread has an emitter (and processor) of its own, so the
/// count it reads is only of its own emissions: exactly 0 after each wait. With the
/// count dropped after the report, a share of these reads saw 1.
#[test]
#[cfg(feature = "thread-pool")]
fn in_flight_never_counts_an_emission_whose_wait_returned() {
    const THREADS: usize = 4;
    const EMITS: u64 = 2_000;
    let rt = support::multi_thread(2);
    let linker = support::linker();
    linker.on("E").subscribe(|| ()).unwrap();
    linker
        .on("E")
        .subscribe(|n: u64| async move {
            // Ends at the first poll, or after a hop through the scheduler.
            if n % 2 == 0 {
                tokio::task::yield_now().await;
            }
        })
        .unwrap();
    let stale = within("emit and wait on many threads", move || {
        let start = Arc::new(Barrier::new(2 * THREADS));
        let mut threads = Vec::new();
        for t in 0..THREADS {
            // On the pool: sync and async emissions end on a worker thread.
            let (pool, go) = (
                ventus::ThreadPoolEventEmitter::with_linker(&linker, 1),
                start.clone(),
            );
            threads.push(thread::spawn(move || {
                go.wait();
                let mut stale = 0;
                for i in 0..EMITS {
                    pool.emit_with("E", i + t as u64).unwrap().wait().unwrap();
                    stale += usize::from(pool.processor().in_flight() != 0);
                }
                pool.processor().shutdown(true);
                stale
            }));
            // On tokio: scheduled from a thread in the runtime's context, ended on one of
            // its workers.
            let (tokio, handle, go) = (
                TokioEventEmitter::with_linker(&linker),
                rt.handle().clone(),
                start.clone(),
            );
            threads.push(thread::spawn(move || {
                go.wait();
                let mut stale = 0;
                for i in 0..EMITS {
                    let emitted = {
                        let _entered = handle.enter();
                        tokio.emit_with("E", i + t as u64).unwrap()
                    };
                    emitted.wait().unwrap();
                    stale += usize::from(tokio.metrics().in_flight != 0);
                }
                stale
            }));
        }
        threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .sum::<usize>()
    });
    assert_eq!(
        stale, 0,
        "in_flight() still counted an emission after wait() returned its report"
    );
}

/// Polls `fut` once: its output if it was ready.
async fn futures_poll_once<F: std::future::Future + ?Sized>(
    fut: std::pin::Pin<&mut F>,
) -> Option<F::Output> {
    let mut fut = Some(fut);
    std::future::poll_fn(move |cx| {
        let fut = fut.take().expect("polled once");
        std::task::Poll::Ready(match fut.poll(cx) {
            std::task::Poll::Ready(out) => Some(out),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

#[test]
fn sparse_emissions_wake_parked_drainers_without_losing_one() {
    // Each thread (and each task) emits, then waits for that emission's end before the
    // next: every push finds its batch's drainers parked, or parking, on an empty queue.
    // A wake-up lost between a drainer's check and its park would leave an emission
    // queued forever and this test stuck.
    let linker = EventLinker::builder().build().unwrap();
    let ran = Counter::new();
    let c = ran.clone();
    linker.on("Sparse").subscribe(move || c.incr()).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let rt = support::multi_thread(2);
    const THREADS: usize = 3;
    const TASKS: usize = 2;
    const EACH: usize = 2_000;
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (emitter, handle) = (emitter.clone(), rt.handle().clone());
            std::thread::spawn(move || {
                let _rt = handle.enter();
                for _ in 0..EACH {
                    let (tx, rx) = std::sync::mpsc::channel();
                    emitter.emit("Sparse").unwrap().on_finish(move |report| {
                        tx.send(report.counts().succeeded).unwrap();
                    });
                    let succeeded = rx
                        .recv_timeout(std::time::Duration::from_secs(20))
                        .expect("an emission never ran: a drainer missed its wake-up");
                    assert_eq!(succeeded, 1);
                }
            })
        })
        .collect();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let emitter = emitter.clone();
            rt.spawn(async move {
                for _ in 0..EACH {
                    let report = emitter.emit("Sparse").unwrap().await;
                    assert_eq!(report.counts().succeeded, 1);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    rt.block_on(async {
        for t in tasks {
            support::within_async("tasks", t).await.unwrap();
        }
    });
    assert_eq!(ran.get(), (THREADS + TASKS) * EACH);
}
