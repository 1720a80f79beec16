//! A processor written the way a crate outside ventus would write one: only the public
//! API (`Processor`, `Emission`, `Emitted`), no change to `emit`.
//!
//! `Deferred` queues every emission and runs them when its owner calls `run_pending`,
//! one after another, in the order they were emitted. It is small, but it has what a
//! real backend needs: its own place to run emissions, in-flight accounting, shutdown
//! that reports what it cancelled, and refusal once closed.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ventus::{
    CancellationToken, Emission, EmitError, Emitted, EventEmitter, EventLinker, ProcessError,
    Processor, ShutdownReport,
};

/// Emissions wait in a queue until `run_pending`.
#[derive(Debug, Default)]
struct Deferred {
    queue: Mutex<VecDeque<Emission<'static>>>,
    /// Emissions taken from the queue and not finished.
    running: AtomicUsize,
    closed: AtomicBool,
    /// Cancels every emission this processor tracks.
    token: CancellationToken,
}

impl Deferred {
    /// Runs the queued emissions in order, including those queued while it runs; how
    /// many it ran.
    async fn run_pending(&self) -> usize {
        let mut ran = 0;
        loop {
            // Popped under the lock, run (and dropped) outside it.
            let next = self.queue.lock().unwrap().pop_front();
            let Some(emission) = next else { return ran };
            self.running.fetch_add(1, Ordering::AcqRel);
            emission.run().await;
            self.running.fetch_sub(1, Ordering::AcqRel);
            ran += 1;
        }
    }

    fn queued(&self) -> usize {
        self.queue.lock().unwrap().len()
    }
}

impl Processor for Deferred {
    fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(ProcessError::Closed);
        }
        let (emission, emitted) = emission.track(Some(&self.token));
        self.queue.lock().unwrap().push_back(emission);
        Ok(emitted)
    }

    fn in_flight(&self) -> usize {
        self.queued() + self.running.load(Ordering::Acquire)
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn shutdown(
        &self,
        _timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = ShutdownReport> + Send + '_>> {
        self.closed.store(true, Ordering::Release);
        self.token.cancel();
        // Taken out under the lock, dropped outside it: a dropped emission reports its
        // handlers cancelled, and dropping runs user code (the payload's `Drop`).
        let left: Vec<_> = self.queue.lock().unwrap().drain(..).collect();
        let mut report = ShutdownReport::default();
        report.cancelled = left.len();
        drop(left);
        Box::pin(std::future::ready(report))
    }
}

fn emitter_on(linker: &EventLinker) -> EventEmitter<Deferred> {
    EventEmitter::builder()
        .linker(linker)
        .processor(Deferred::default())
        .build()
}

#[derive(Default, Clone)]
struct Count(Arc<AtomicUsize>);

impl Count {
    fn incr(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

#[test]
fn sync_context_emissions_wait_for_the_processor_and_then_run_every_handler() {
    let linker = EventLinker::builder().build().unwrap();
    let (sync_ran, async_ran) = (Count::default(), Count::default());
    let s = sync_ran.clone();
    linker
        .on("Paid")
        .subscribe(move |n: &u32| {
            assert_eq!(*n, 7);
            s.incr();
        })
        .unwrap();
    let a = async_ran.clone();
    linker
        .on("Paid")
        .subscribe(move |n: u32| {
            let a = a.clone();
            async move {
                assert_eq!(n, 7);
                tokio::task::yield_now().await;
                a.incr();
            }
        })
        .unwrap();
    let emitter = emitter_on(&linker);

    // No runtime on this thread: the emitter still hands the emission to the processor
    // (it does not run inline), and no handler runs yet.
    let emitted = emitter.emit_with("Paid", 7_u32).unwrap();
    assert_eq!((sync_ran.get(), async_ran.get()), (0, 0));
    assert_eq!(emitter.processor().in_flight(), 1);
    assert_eq!(emitter.metrics().in_flight, 1);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(emitter.processor().run_pending()), 1);
    assert_eq!((sync_ran.get(), async_ran.get()), (1, 1));
    let report = emitted.wait().expect("the emission finished");
    assert_eq!(report.counts().succeeded, 2);
    assert_eq!(emitter.processor().in_flight(), 0);
}

#[tokio::test]
async fn async_context_emissions_run_in_submission_order_with_their_reports() {
    let linker = EventLinker::builder().build().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    linker
        .on("Step")
        .subscribe(move |n: u32| {
            let s = s.clone();
            async move { s.lock().unwrap().push(n) }
        })
        .unwrap();
    let emitter = emitter_on(&linker);
    let handles: Vec<_> = (0..5_u32)
        .map(|n| emitter.emit_with("Step", n).unwrap())
        .collect();
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(emitter.processor().run_pending().await, 5);
    assert_eq!(*seen.lock().unwrap(), [0, 1, 2, 3, 4]);
    for handle in handles {
        assert_eq!(handle.await.counts().succeeded, 1);
    }
}

#[tokio::test]
async fn a_handler_that_emits_queues_behind_the_current_emission() {
    let linker = EventLinker::builder().build().unwrap();
    let emitter = emitter_on(&linker);
    let order = Arc::new(Mutex::new(Vec::new()));
    let (o, e) = (order.clone(), emitter.clone());
    linker
        .on("Outer")
        .subscribe(move || {
            o.lock().unwrap().push("outer");
            // Queued, not run: the processor runs one emission at a time.
            e.emit("Inner").map(|_| ()).map_err(|err| err.to_string())
        })
        .unwrap();
    let o = order.clone();
    linker
        .on("Inner")
        .subscribe(move || o.lock().unwrap().push("inner"))
        .unwrap();

    let outer = emitter.emit("Outer").unwrap();
    assert_eq!(emitter.processor().run_pending().await, 2);
    assert_eq!(*order.lock().unwrap(), ["outer", "inner"]);
    assert_eq!(outer.await.counts().succeeded, 1);
}

#[tokio::test]
async fn a_panicking_handler_is_isolated_on_this_processor_too() {
    let linker = EventLinker::builder().build().unwrap();
    let ran = Count::default();
    linker
        .on("Boom")
        .subscribe(|| -> () { panic!("handler bug") })
        .unwrap();
    let r = ran.clone();
    linker.on("Boom").subscribe(move || r.incr()).unwrap();
    let emitter = emitter_on(&linker);
    let emitted = emitter.emit("Boom").unwrap();
    emitter.processor().run_pending().await;
    let counts = emitted.await.counts();
    assert_eq!((counts.succeeded, counts.panicked), (1, 1));
    assert_eq!(ran.get(), 1);
}

#[tokio::test]
async fn a_once_subscription_is_claimed_by_the_first_queued_emission_only() {
    let linker = EventLinker::builder().build().unwrap();
    let ran = Count::default();
    let r = ran.clone();
    linker
        .on("Ready")
        .once()
        .subscribe(move || r.incr())
        .unwrap();
    let emitter = emitter_on(&linker);
    let first = emitter.emit("Ready").unwrap();
    // The claim was made at emit: the second finds no handler and never reaches the
    // processor.
    let second = emitter.emit("Ready").unwrap();
    assert_eq!(emitter.processor().queued(), 1);
    assert_eq!(second.await.counts().total(), 0);
    emitter.processor().run_pending().await;
    assert_eq!(first.await.counts().succeeded, 1);
    assert_eq!(ran.get(), 1);
    assert_eq!(linker.subscriber_count(), 0);
}

#[tokio::test]
async fn shutdown_reports_the_queued_emissions_cancelled_and_later_ones_are_refused() {
    let linker = EventLinker::builder().build().unwrap();
    let ran = Count::default();
    let r = ran.clone();
    linker.on("Job").subscribe(move || r.incr()).unwrap();
    let emitter = emitter_on(&linker);
    let queued: Vec<_> = (0..3).map(|_| emitter.emit("Job").unwrap()).collect();

    let report = emitter.shutdown(Duration::from_secs(1)).await;
    assert_eq!((report.finished, report.cancelled), (0, 3));
    for handle in queued {
        assert_eq!(handle.await.counts().cancelled, 1, "reported, not lost");
    }
    assert_eq!(ran.get(), 0);
    assert!(matches!(emitter.emit("Job"), Err(EmitError::Closed { .. })));
    assert_eq!(emitter.processor().run_pending().await, 0);
}
