//! Pins `Send + Sync` for every public handle, error and future, in the manner of
//! tokio's `async_send_sync.rs`: losing one of these bounds is a breaking change, and
//! this file stops compiling when it happens.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ventus::plumbing::{LinkerDefault, Typed, Untyped, WithSuccess};
use ventus::{
    AnyEvent, BoxError, BuildError, Counts, Emission, EmissionId, EmissionReport, EmitError,
    EmitPermit, Emitted, EmitterMetrics, Event, EventEmitter, EventEmitterBuilder, EventKey,
    EventLinker, EventLinkerBuilder, EventName, EventTarget, HandlerError, HandlerErrorKind,
    HandlerReport, InvalidEventName, ProcessError, Processor, ShutdownReport, SubscribeBuilder,
    SubscribeError, Subscription, SubscriptionGuard, SubscriptionId, TokioEventEmitter,
    TokioProcessor, Value,
};

fn require_send<T: Send>() {}
fn require_sync<T: Sync>() {}
fn require_send_sync<T: Send + Sync>() {}
fn require_unpin<T: Unpin>() {}
fn require_static<T: 'static>() {}
fn require_error<T: std::error::Error + Send + Sync + 'static>() {}
fn require_send_future<F: Future + Send>(_: &F) {}
fn require_send_sync_val<T: Send + Sync>(_: &T) {}

macro_rules! assert_send_sync {
    ($($ty:ty),* $(,)?) => {$(
        require_send::<$ty>();
        require_sync::<$ty>();
        require_send_sync::<$ty>();
    )*};
}

#[test]
fn handles_are_send_and_sync() {
    assert_send_sync!(
        EventLinker,
        EventLinkerBuilder,
        EventEmitter,
        EventEmitter<TokioProcessor>,
        TokioEventEmitter,
        EventEmitterBuilder<TokioProcessor>,
        TokioProcessor,
        Subscription,
        SubscriptionGuard,
        SubscriptionId,
        SubscribeBuilder,
        SubscribeBuilder<LinkerDefault>,
        SubscribeBuilder<WithSuccess<fn(&u32)>>,
        SubscribeBuilder<LinkerDefault, Untyped>,
        // A typed builder's payload type does not leak into its auto traits.
        SubscribeBuilder<LinkerDefault, Typed<std::rc::Rc<u32>>>,
        AnyEvent,
        EmissionId,
        EventName,
        EventTarget,
        EventKey<u32>,
        // A key's payload type does not leak into its auto traits.
        EventKey<std::rc::Rc<u32>>,
        Value<u32>,
        Emitted,
        EmissionReport,
        HandlerReport,
        Counts,
        EmitterMetrics,
        ShutdownReport,
        EmitPermit<'static, TokioProcessor>,
        ventus::Rejected,
        ventus::NamedLinker,
    );
    #[cfg(feature = "thread-pool")]
    assert_send_sync!(
        ventus::ThreadPoolProcessor,
        ventus::ThreadPoolEventEmitter,
        ventus::ThreadPoolBuilder,
    );
    require_static::<EventLinker>();
    require_static::<Subscription>();
    require_unpin::<Subscription>();
    require_unpin::<SubscriptionGuard>();
}

#[test]
fn errors_are_send_sync_and_boxable() {
    assert_send_sync!(
        HandlerError,
        HandlerErrorKind,
        EmitError,
        SubscribeError,
        BuildError,
        InvalidEventName,
        BoxError,
    );
    require_error::<HandlerError>();
    require_error::<EmitError>();
    require_error::<SubscribeError>();
    require_error::<BuildError>();
    require_error::<InvalidEventName>();

    // They go through `?` into the usual boxed and anyhow errors.
    fn build() -> Result<EventLinker, anyhow::Error> {
        Ok(EventLinker::builder().max_subscribers(0).build()?)
    }
    fn subscribe(linker: &EventLinker) -> Result<Subscription, BoxError> {
        Ok(linker.on("").subscribe(|| ())?)
    }
    assert!(build().is_err());
    let linker = EventLinker::builder().build().unwrap();
    assert!(subscribe(&linker).is_err());
}

#[test]
fn emissions_are_send_and_sync() {
    // `Emission` is both: a processor may send an owned emission to another thread,
    // and `Emission::run` borrows it across awaits.
    assert_send_sync!(Emission<'static>);
}

/// Pins the futures without running them.
#[allow(dead_code)]
fn futures_are_send(
    emitter: &TokioEventEmitter,
    dynamic: &EventEmitter,
    emission: Emission<'static>,
    emitted: Emitted,
) {
    require_send_future(&std::future::IntoFuture::into_future(emitted));
    require_send_future(&emitter.reserve());
    require_send_future(&emitter.run("E"));
    require_send_future(&emitter.run_with("E", 1_u32));
    require_send_future(&emitter.shutdown(std::time::Duration::ZERO));
    require_send_future(&dynamic.shutdown(std::time::Duration::ZERO));
    require_send_future(&dynamic.run("E"));
    require_send_future(&emitter.wait_for_tasks());
    require_send_future(&dynamic.wait_for_tasks());
    require_send_future(&emitter.processor().wait_for_tasks());
    require_send_future(&emission.run());
}

/// Pins an emission that still borrows the emitter's frame, and its `run`.
#[allow(dead_code)]
fn borrowed_emission_run_is_send(emission: Emission<'_>) {
    require_send_sync_val(&emission);
    require_send_future(&emission.run());
}

/// A processor that keeps owned emissions for a test to run on a runtime of its own.
#[derive(Debug, Default)]
struct Deferred {
    queue: Mutex<Vec<Emission<'static>>>,
}

impl Processor for Deferred {
    fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
        let (emission, emitted) = emission.track(None);
        self.queue.lock().unwrap().push(emission);
        Ok(emitted)
    }
}

#[derive(Debug, Clone)]
struct Payment(u32);
impl Event for Payment {}

#[test]
fn owned_emissions_run_on_other_threads_and_tasks() {
    let linker = EventLinker::builder().build().unwrap();
    let total = Arc::new(AtomicUsize::new(0));
    let (sync_total, async_total) = (total.clone(), total.clone());
    linker
        .on_event::<Payment>()
        .subscribe(move |p: &Payment| {
            sync_total.fetch_add(p.0 as usize, Ordering::SeqCst);
        })
        .unwrap();
    linker
        .on_event::<Payment>()
        .subscribe(move |p: Payment| {
            let total = async_total.clone();
            async move {
                tokio::task::yield_now().await;
                total.fetch_add(p.0 as usize * 100, Ordering::SeqCst);
            }
        })
        .unwrap();

    let processor = Arc::new(Deferred::default());
    let emitter: EventEmitter = EventEmitter::builder()
        .linker(&linker)
        .processor(SharedDeferred(processor.clone()))
        .build()
        .into();
    emitter.emit_event(Payment(1)).unwrap();
    emitter.emit_event(Payment(2)).unwrap();
    assert_eq!(
        total.load(Ordering::SeqCst),
        0,
        "the processor was bypassed"
    );

    let emissions = std::mem::take(&mut *processor.queue.lock().unwrap());
    assert_eq!(emissions.len(), 2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(async {
        // `tokio::spawn` needs the future to be `Send + 'static`.
        let mut tasks = Vec::new();
        for emission in emissions {
            tasks.push(tokio::spawn(emission.run()));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert_eq!(total.load(Ordering::SeqCst), 303);

    // The tokio emitter's wait can be spawned too.
    let tokio_emitter = TokioEventEmitter::with_linker(&linker);
    runtime.block_on(async move {
        tokio_emitter.emit_event(Payment(4)).unwrap();
        tokio::spawn(async move { tokio_emitter.wait_for_tasks().await })
            .await
            .unwrap();
    });
    assert_eq!(total.load(Ordering::SeqCst), 707);
}

/// Shares one [`Deferred`] between the emitter and the test.
#[derive(Debug)]
struct SharedDeferred(Arc<Deferred>);

impl Processor for SharedDeferred {
    fn process(&self, emission: Emission<'_>) -> Result<Emitted, ProcessError> {
        self.0.process(emission)
    }
}
