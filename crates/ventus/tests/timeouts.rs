//! Timeouts at their edges: a timed-out handler whose future panics when it is dropped,
//! and timeouts too long for the clock's arithmetic.

mod support;

use std::future::IntoFuture;
use std::time::Duration;

use support::{linker, within, within_async, Counter};
use ventus::{EventEmitter, EventLinker, TokioEventEmitter};

/// Panics when dropped: a handler's future holding one panics when ventus drops it.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        // Not while unwinding already: that would abort the test binary.
        if !std::thread::panicking() {
            panic!("this value panics when dropped");
        }
    }
}

/// Links a slow handler that finishes (after a few yields and a short sleep) and a
/// handler that times out while holding a [`PanicOnDrop`]; returns the slow one's
/// counter.
fn link_panicking_drop(linker: &EventLinker) -> Counter {
    let finished = Counter::new();
    let done = finished.clone();
    linker
        .on("Job")
        .subscribe(move || {
            let done = done.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                done.incr();
            }
        })
        .unwrap();
    linker
        .on("Job")
        .timeout(Duration::from_millis(10))
        .subscribe(|| async {
            let _held = PanicOnDrop;
            std::future::pending::<()>().await;
        })
        .unwrap();
    finished
}

#[test]
fn sync_context_a_timed_out_future_that_panics_when_dropped_stops_only_itself() {
    let linker = linker();
    let finished = link_panicking_drop(&linker);
    let emitter = TokioEventEmitter::with_linker(&linker);
    let report = within("sync emit", move || {
        emitter
            .emit("Job")
            .expect("emit is accepted")
            .wait()
            .expect("no runtime here: waiting is allowed")
    });
    assert_eq!(finished.get(), 1, "the slow handler finished: {report}");
    assert_eq!(report.counts().succeeded, 1, "{report}");
    assert_eq!(report.counts().timed_out, 1, "{report}");
    assert_eq!(report.counts().cancelled, 0, "{report}");
}

#[tokio::test(flavor = "current_thread")]
async fn async_context_a_timed_out_future_that_panics_when_dropped_stops_only_itself() {
    let linker = linker();
    let finished = link_panicking_drop(&linker);
    let emitter = TokioEventEmitter::with_linker(&linker);
    let report = within_async(
        "scheduled emission",
        emitter.emit("Job").unwrap().into_future(),
    )
    .await;
    assert_eq!(finished.get(), 1, "the slow handler finished: {report}");
    assert_eq!(report.counts().succeeded, 1, "{report}");
    assert_eq!(report.counts().timed_out, 1, "{report}");
    assert_eq!(report.counts().cancelled, 0, "{report}");
}

#[tokio::test(flavor = "current_thread")]
async fn run_a_timed_out_future_that_panics_when_dropped_stops_only_itself() {
    let linker = linker();
    let finished = link_panicking_drop(&linker);
    let emitter = TokioEventEmitter::with_linker(&linker);
    let report = within_async("run", emitter.run("Job")).await.unwrap();
    assert_eq!(finished.get(), 1, "the slow handler finished: {report}");
    assert_eq!(
        (report.counts().succeeded, report.counts().timed_out),
        (1, 1)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn cancelling_an_emission_whose_future_panics_when_dropped_reports_it_cancelled() {
    let linker = linker();
    linker
        .on("Stuck")
        .subscribe(|| async {
            let _held = PanicOnDrop;
            std::future::pending::<()>().await;
        })
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let emitted = emitter.emit("Stuck").unwrap();
    // Let the scheduled emission start its handler before cancelling it.
    tokio::task::yield_now().await;
    emitted.cancel();
    let report = within_async("cancelled emission", emitted.into_future()).await;
    assert_eq!(report.counts().cancelled, 1, "{report}");
    // The emitter goes on working.
    assert!(emitter.emit("Nobody").is_ok());
}

/// A handler that counts its runs, sync or async.
fn link_counted(linker: &EventLinker, event: &str, own_timeout: Option<Duration>) -> Counter {
    let ran = Counter::new();
    let (sync_ran, async_ran) = (ran.clone(), ran.clone());
    let builder = || match own_timeout {
        Some(t) => linker.on(event).timeout(t),
        None => linker.on(event),
    };
    builder().subscribe(move || sync_ran.incr()).unwrap();
    builder()
        .subscribe(move || {
            let ran = async_ran.clone();
            async move {
                tokio::task::yield_now().await;
                ran.incr();
            }
        })
        .unwrap();
    ran
}

#[test]
fn a_timeout_of_duration_max_means_no_timeout_in_a_sync_context() {
    let linker = linker();
    let ran = link_counted(&linker, "Own", Some(Duration::MAX));
    let emitter_wide = link_counted(&linker, "Wide", None);
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .timeout(Duration::MAX)
        .build();
    let (own, wide) = within("sync emit", move || {
        let own = emitter.emit("Own").unwrap().wait().unwrap();
        let wide = emitter.emit("Wide").unwrap().wait().unwrap();
        (own, wide)
    });
    assert_eq!(own.counts().succeeded, 2, "{own}");
    assert_eq!(wide.counts().succeeded, 2, "{wide}");
    assert_eq!((ran.get(), emitter_wide.get()), (2, 2));
}

#[tokio::test(flavor = "current_thread")]
async fn a_timeout_of_duration_max_means_no_timeout_in_an_async_context() {
    let linker = linker();
    let ran = link_counted(&linker, "Own", Some(Duration::MAX));
    let emitter_wide = link_counted(&linker, "Wide", None);
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .timeout(Duration::MAX)
        .build();
    let own = within_async("own", emitter.emit("Own").unwrap().into_future()).await;
    let wide = within_async("wide", emitter.emit("Wide").unwrap().into_future()).await;
    assert_eq!(own.counts().succeeded, 2, "{own}");
    assert_eq!(wide.counts().succeeded, 2, "{wide}");
    let run = emitter.run("Own").await.unwrap();
    assert_eq!(run.counts().succeeded, 2, "{run}");
    assert_eq!((ran.get(), emitter_wide.get()), (4, 2));
}
