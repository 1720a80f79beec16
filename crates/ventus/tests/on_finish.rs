//! Following an emission's end without awaiting it: `Emitted::on_finish` gives the report
//! to a callback, exactly once, on whichever thread finishes the emission; a `Canceller`
//! cancels the emission after its handle is gone.

mod support;

use std::future::IntoFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use support::{setup, within, within_async};
use tokio::sync::Notify;
use ventus::{EmissionReport, EventLinker, ThreadPoolEventEmitter, TokioEventEmitter};

/// A callback that sends its report down a channel.
fn sender() -> (
    impl FnOnce(EmissionReport) + Send + 'static,
    mpsc::Receiver<EmissionReport>,
) {
    let (tx, rx) = mpsc::channel();
    (
        move |report| {
            tx.send(report).expect("the test waits for the report");
        },
        rx,
    )
}

/// Waits in async code, yielding to the runtime that sends it, for the next item on `rx`.
async fn recv_async<T>(what: &str, rx: &mpsc::Receiver<T>) -> T {
    within_async(what, async {
        loop {
            match rx.try_recv() {
                Ok(item) => return item,
                Err(_) => tokio::task::yield_now().await,
            }
        }
    })
    .await
}

fn recv(rx: &mpsc::Receiver<EmissionReport>) -> EmissionReport {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the callback was called")
}

#[test]
fn a_finished_emission_calls_back_at_once_on_this_thread() {
    let (linker, emitter) = setup();
    linker.on("Tick").subscribe(|| ()).unwrap();
    // No runtime here: the sync handler ran inside `emit`.
    let emitted = emitter.emit("Tick").unwrap();
    assert!(emitted.is_finished());
    let id = emitted.id();
    let here = thread::current().id();
    let called_on = Arc::new(std::sync::Mutex::new(None));
    let seen = called_on.clone();
    emitted.on_finish(move |report| {
        assert_eq!(report.id(), id);
        assert_eq!(report.counts().succeeded, 1);
        *seen.lock().unwrap() = Some(thread::current().id());
    });
    assert_eq!(
        *called_on.lock().unwrap(),
        Some(here),
        "called before `on_finish` returned"
    );
}

#[tokio::test]
async fn a_scheduled_emission_calls_back_once_with_its_report() {
    let (linker, emitter) = setup();
    let release = Arc::new(Notify::new());
    let r = release.clone();
    linker
        .on("Job")
        .subscribe(move |n: u32| {
            let r = r.clone();
            async move {
                r.notified().await;
                n * 2
            }
        })
        .unwrap();
    linker.on("Job").subscribe(|_: &u32| ()).unwrap();

    let emitted = emitter.emit_with("Job", 21_u32).unwrap();
    let id = emitted.id();
    let (callback, rx) = sender();
    emitted.on_finish(callback);
    // The async handler waits: no report yet.
    assert!(rx.try_recv().is_err());
    release.notify_one();
    let report = recv_async("the report", &rx).await;
    assert_eq!(report.id(), id);
    assert_eq!(report.counts().succeeded, 2);
    emitter.wait_for_tasks().await;
    assert!(rx.try_recv().is_err(), "called once");
}

#[test]
fn the_callback_runs_after_the_emission_left_the_in_flight_count() {
    let linker = EventLinker::builder().build().unwrap();
    linker.on("Job").subscribe(|| async {}).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let rt = support::multi_thread(2);
    let seen = Arc::new(AtomicUsize::new(usize::MAX));
    let (tx, rx) = mpsc::channel();
    rt.block_on(async {
        for _ in 0..200 {
            let (e, seen, tx) = (emitter.clone(), seen.clone(), tx.clone());
            emitter.emit("Job").unwrap().on_finish(move |_| {
                // Nothing else is in flight but this emission, which must be out already
                // or still counted by the others; the check is below.
                seen.fetch_min(e.metrics().in_flight, Ordering::Relaxed);
                tx.send(()).unwrap();
            });
            recv_async("one at a time", &rx).await;
        }
    });
    assert_eq!(
        seen.load(Ordering::Relaxed),
        0,
        "each callback ran with its emission out of the count"
    );
}

#[test]
fn a_panicking_callback_is_caught_and_the_emitter_goes_on() {
    let linker = EventLinker::builder().build().unwrap();
    linker.on("Job").subscribe(|| async {}).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let rt = support::multi_thread(2);
    rt.block_on(async {
        emitter
            .emit("Job")
            .unwrap()
            .on_finish(|_| panic!("a callback that panics"));
        emitter.wait_for_tasks().await;
        // The drainer that ran the callback survived it.
        let report = within_async("next", emitter.emit("Job").unwrap().into_future()).await;
        assert_eq!(report.counts().succeeded, 1);
    });
    // A finished handle's callback runs in `on_finish` itself: caught there too.
    let (linker2, inline) = setup();
    linker2.on("Tick").subscribe(|| ()).unwrap();
    inline
        .emit("Tick")
        .unwrap()
        .on_finish(|_| panic!("at once"));
}

#[test]
fn an_emission_cancelled_by_shutdown_calls_back_with_its_handlers_cancelled() {
    let linker = EventLinker::builder().build().unwrap();
    linker
        .on("Forever")
        .subscribe(std::future::pending::<()>)
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let rt = support::multi_thread(2);
    let (callback, rx) = sender();
    rt.block_on(async {
        emitter.emit("Forever").unwrap().on_finish(callback);
        let shut = emitter.shutdown(Duration::from_millis(20)).await;
        assert_eq!(shut.cancelled, 1);
    });
    assert_eq!(recv(&rx).counts().cancelled, 1);
}

#[test]
fn pool_emissions_call_back_once_each() {
    let linker = EventLinker::builder().build().unwrap();
    linker.on("Job").subscribe(|| ()).unwrap();
    let pool = ThreadPoolEventEmitter::with_linker(&linker, 2);
    let (tx, rx) = mpsc::channel();
    for _ in 0..50 {
        let tx = tx.clone();
        pool.emit("Job").unwrap().on_finish(move |report| {
            tx.send(report.counts().succeeded).unwrap();
        });
    }
    for _ in 0..50 {
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 1);
    }
    assert!(rx.try_recv().is_err(), "one callback per emission");
}

#[test]
fn many_threads_racing_finish_and_on_finish_lose_no_callback() {
    // Handlers end on the runtime's workers while other threads register callbacks: each
    // registration either sees the report or is seen by the finish, never neither.
    let linker = EventLinker::builder().build().unwrap();
    linker
        .on("Job")
        .subscribe(|| async { tokio::task::yield_now().await })
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let rt = support::multi_thread(2);
    let called = Arc::new(AtomicUsize::new(0));
    const THREADS: usize = 4;
    const EACH: usize = 500;
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (emitter, called, handle) = (emitter.clone(), called.clone(), rt.handle().clone());
            thread::spawn(move || {
                for _ in 0..EACH {
                    let emitted = {
                        let _rt = handle.enter();
                        emitter.emit("Job").unwrap()
                    };
                    let called = called.clone();
                    emitted.on_finish(move |report| {
                        assert_eq!(report.counts().succeeded, 1);
                        called.fetch_add(1, Ordering::Relaxed);
                    });
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    rt.block_on(async { within_async("drain", emitter.wait_for_tasks()).await });
    // `wait_for_tasks` returns once the emissions left the count, a step before their
    // callbacks ran: wait for the last ones on the shutdown of the runtime.
    drop(rt);
    assert_eq!(called.load(Ordering::Relaxed), THREADS * EACH);
}

#[tokio::test]
async fn a_canceller_cancels_after_the_handle_was_given_away() {
    let (linker, emitter) = setup();
    linker
        .on("Forever")
        .subscribe(std::future::pending::<()>)
        .unwrap();
    let emitted = emitter.emit("Forever").unwrap();
    let canceller = emitted.canceller();
    let (callback, rx) = sender();
    emitted.on_finish(callback);
    assert!(!canceller.is_finished());
    let clone = canceller.clone();
    assert!(clone.cancel());
    let report = recv_async("cancelled", &rx).await;
    assert_eq!(report.counts().cancelled, 1);
    assert!(canceller.is_finished());
    assert!(!canceller.cancel(), "nothing left to cancel");
}

#[test]
fn a_canceller_of_a_finished_emission_cancels_nothing() {
    let (linker, emitter) = setup();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    linker
        .on("Tick")
        .subscribe(move || {
            r.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    let emitted = emitter.emit("Tick").unwrap();
    let canceller = emitted.canceller();
    assert!(canceller.is_finished());
    assert!(!canceller.cancel());
    let report = within("wait", move || emitted.wait().unwrap());
    assert_eq!(report.counts().succeeded, 1);
    assert_eq!(ran.load(Ordering::Relaxed), 1);
}

#[test]
fn a_pool_emission_cancelled_while_queued_starts_no_handler() {
    // One worker, busy with the first emission: the second waits in the pool's queue
    // and is cancelled there. Its sync handler must not run when its turn comes.
    let linker = EventLinker::builder().build().unwrap();
    let (busy_tx, busy_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    linker
        .on("Busy")
        .subscribe(move || {
            busy_tx.send(()).unwrap();
            release_rx.lock().unwrap().recv().unwrap();
        })
        .unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    linker
        .on("Queued")
        .subscribe(move || {
            r.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    let pool = ThreadPoolEventEmitter::with_linker(&linker, 1);
    let busy = pool.emit("Busy").unwrap();
    busy_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let queued = pool.emit("Queued").unwrap();
    assert!(queued.canceller().cancel());
    release_tx.send(()).unwrap();
    assert_eq!(
        within("busy", move || busy.wait().unwrap())
            .counts()
            .succeeded,
        1
    );
    let report = within("queued", move || queued.wait().unwrap());
    assert_eq!(report.counts().cancelled, 1);
    assert_eq!(ran.load(Ordering::Relaxed), 0);
}
