//! A payload whose `Drop` panics is user code like any other: the panic is caught where
//! ventus drops the payload, and the emission's result still reaches its caller.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::Counter;
use ventus::{EventEmitter, EventLinker, TokioEventEmitter};

/// A payload that panics when dropped, and counts its drops.
#[derive(Clone)]
struct Bomb(Arc<AtomicUsize>);

impl Drop for Bomb {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("a payload's Drop panicked");
    }
}

fn bomb() -> (Bomb, Arc<AtomicUsize>) {
    let drops = Arc::new(AtomicUsize::new(0));
    (Bomb(drops.clone()), drops)
}

fn sync_handler(linker: &EventLinker, ran: &Counter) {
    let ran = ran.clone();
    linker
        .on("Bomb")
        .subscribe(move |_: &Bomb| ran.incr())
        .unwrap();
}

fn async_handler(linker: &EventLinker, ran: &Counter) {
    let ran = ran.clone();
    linker
        .on("Bomb")
        .subscribe(move |b: Bomb| {
            let ran = ran.clone();
            async move {
                ran.incr();
                // The handler's own clone goes here, inside the handler: its panic is
                // the handler's, reported as such.
                std::mem::forget(b);
            }
        })
        .unwrap();
}

#[test]
fn sync_context_lean_path_survives_the_payloads_drop() {
    let linker = EventLinker::builder().build().unwrap();
    let ran = Counter::new();
    sync_handler(&linker, &ran);
    let emitter = TokioEventEmitter::with_linker(&linker);
    let (payload, drops) = bomb();
    let report = emitter.emit_with("Bomb", payload).unwrap().wait().unwrap();
    assert_eq!(report.counts().succeeded, 1);
    assert_eq!((ran.get(), drops.load(Ordering::SeqCst)), (1, 1));
}

#[test]
fn sync_context_with_an_async_handler_survives_the_payloads_drop() {
    let linker = EventLinker::builder().build().unwrap();
    let ran = Counter::new();
    async_handler(&linker, &ran);
    let emitter = TokioEventEmitter::with_linker(&linker);
    let (payload, drops) = bomb();
    let report = emitter.emit_with("Bomb", payload).unwrap().wait().unwrap();
    assert_eq!(report.counts().succeeded, 1);
    assert_eq!((ran.get(), drops.load(Ordering::SeqCst)), (1, 1));
}

#[test]
fn sync_context_full_path_survives_the_payloads_drop() {
    let linker = EventLinker::builder().build().unwrap();
    let ran = Counter::new();
    sync_handler(&linker, &ran);
    // A timeout sends every emission down the full machine.
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .timeout(Duration::from_secs(60))
        .build();
    let (payload, drops) = bomb();
    let report = emitter.emit_with("Bomb", payload).unwrap().wait().unwrap();
    assert_eq!(report.counts().succeeded, 1);
    assert_eq!((ran.get(), drops.load(Ordering::SeqCst)), (1, 1));
}

#[tokio::test(flavor = "current_thread")]
async fn a_scheduled_emission_survives_the_payloads_drop() {
    let linker = EventLinker::builder().build().unwrap();
    let ran = Counter::new();
    async_handler(&linker, &ran);
    let emitter = TokioEventEmitter::with_linker(&linker);
    let (payload, drops) = bomb();
    let report = emitter.emit_with("Bomb", payload).unwrap().await;
    assert_eq!(report.counts().succeeded, 1);
    emitter.wait_for_tasks().await;
    assert_eq!((ran.get(), drops.load(Ordering::SeqCst)), (1, 1));
}

#[tokio::test(flavor = "current_thread")]
async fn an_awaited_emission_survives_the_payloads_drop() {
    let linker = EventLinker::builder().build().unwrap();
    let ran = Counter::new();
    sync_handler(&linker, &ran);
    async_handler(&linker, &ran);
    let emitter = TokioEventEmitter::with_linker(&linker);
    let (payload, drops) = bomb();
    let report = emitter.run_with("Bomb", payload).await.unwrap();
    assert_eq!(report.counts().succeeded, 2);
    assert_eq!((ran.get(), drops.load(Ordering::SeqCst)), (2, 1));
}

#[test]
fn a_refused_payload_is_handed_back_not_dropped() {
    let linker = EventLinker::builder().build().unwrap();
    linker.on("Bomb").subscribe(|_: &u32| ()).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let (payload, drops) = bomb();
    let Err(ventus::EmitError::PayloadType(mismatch)) = emitter.emit_with("Bomb", payload) else {
        panic!("a `Bomb` is not a `u32`");
    };
    assert_eq!(drops.load(Ordering::SeqCst), 0, "handed back in the error");
    let back = mismatch
        .into_payload::<Bomb>()
        .expect("the payload comes back");
    std::mem::forget(back);
}
