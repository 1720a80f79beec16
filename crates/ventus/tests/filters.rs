//! `EmissionFilter`: an emitter-level filter that sees each emission before its handlers
//! and lets it pass or drops it with a reason.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ventus::{
    EmissionFilter, EmissionId, EmissionView, EmitError, EventEmitter, EventLinker, Verdict,
};

/// A linker with one handler on `event` that counts its runs (and takes any payload).
fn counted(event: &str) -> (EventLinker, Arc<AtomicUsize>) {
    let linker = EventLinker::builder().build().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    linker
        .on(event)
        .subscribe(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    (linker, ran)
}

/// Lets every other emission through, starting with the first.
fn every_other() -> impl EmissionFilter {
    let seen = AtomicU64::new(0);
    move |_: &EmissionView<'_>| {
        if seen.fetch_add(1, Ordering::SeqCst) % 2 == 0 {
            Verdict::Pass
        } else {
            Verdict::drop("sampled out")
        }
    }
}

fn reason_of<T: std::fmt::Debug>(result: Result<T, EmitError>) -> String {
    match result {
        Err(EmitError::Filtered(filtered)) => filtered.reason().to_owned(),
        other => panic!("expected a filtered emission, got {other:?}"),
    }
}

/// Records every emission it sees and lets all pass.
#[derive(Debug, Default)]
struct Audit(Mutex<Vec<(String, EmissionId, Option<u32>)>>);

impl EmissionFilter for Audit {
    fn filter(&self, emission: &EmissionView<'_>) -> Verdict {
        self.0.lock().unwrap().push((
            emission.event().to_owned(),
            emission.emission(),
            emission.payload_as::<u32>().copied(),
        ));
        Verdict::Pass
    }
}

#[test]
fn sampling_keeps_every_other_emission_in_a_sync_context() {
    let (linker, ran) = counted("Sample");
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .filter(every_other())
        .build();
    let mut dropped = 0;
    for n in 0..10 {
        match emitter.emit("Sample") {
            Ok(emitted) => {
                assert_eq!(n % 2, 0, "emission {n} passed");
                assert_eq!(emitted.wait().unwrap().counts().succeeded, 1);
            }
            Err(err) => {
                assert_eq!(n % 2, 1, "emission {n} was dropped");
                assert_eq!(reason_of::<()>(Err(err)), "sampled out");
                dropped += 1;
            }
        }
    }
    assert_eq!((dropped, ran.load(Ordering::SeqCst)), (5, 5));
    let metrics = emitter.metrics();
    assert_eq!((metrics.filtered, metrics.emitted), (5, 5));
}

#[tokio::test(flavor = "current_thread")]
async fn sampling_keeps_every_other_emission_in_an_async_context() {
    let linker = EventLinker::builder().build().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    linker
        .on("Sample")
        .subscribe(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        })
        .unwrap();
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .filter(every_other())
        .build();
    let mut scheduled = Vec::new();
    for _ in 0..6 {
        // Scheduled emissions: the filter decides in `emit`, before anything is queued.
        match emitter.emit("Sample") {
            Ok(emitted) => scheduled.push(emitted),
            Err(err) => assert_eq!(reason_of::<()>(Err(err)), "sampled out"),
        }
    }
    assert_eq!(scheduled.len(), 3);
    for emitted in scheduled {
        assert_eq!(emitted.await.counts().succeeded, 1);
    }
    // `run` in this task: emissions 7 (pass) and 8 (dropped).
    assert_eq!(emitter.run("Sample").await.unwrap().counts().succeeded, 1);
    assert_eq!(reason_of(emitter.run("Sample").await), "sampled out");
    assert_eq!(ran.load(Ordering::SeqCst), 4);
    assert_eq!(emitter.metrics().filtered, 4);
}

#[tokio::test(flavor = "current_thread")]
async fn an_audit_filter_sees_every_emission_with_its_id_and_payload_and_lets_all_pass() {
    let linker = EventLinker::builder().build().unwrap();
    linker.on("Order").subscribe(|n: &u32| *n).unwrap();
    linker.on("Ping").subscribe(|| async {}).unwrap();
    let audit = Arc::new(Audit::default());
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .filter(audit.clone())
        .build();

    let scheduled = emitter.emit_with("Order", 1_u32).unwrap().await;
    let awaited = emitter.run_with("Order", 2_u32).await.unwrap();
    let ping = emitter.run("Ping").await.unwrap();
    let sync_context = {
        let emitter = emitter.clone();
        std::thread::spawn(move || emitter.emit_with("Order", 3_u32).unwrap().wait().unwrap())
            .join()
            .unwrap()
    };
    for report in [&scheduled, &awaited, &ping, &sync_context] {
        assert_eq!(report.counts().succeeded, 1);
    }
    let seen = audit.0.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("Order".to_owned(), scheduled.id(), Some(1)),
            ("Order".to_owned(), awaited.id(), Some(2)),
            ("Ping".to_owned(), ping.id(), None),
            ("Order".to_owned(), sync_context.id(), Some(3)),
        ]
    );
    assert_eq!(emitter.metrics().filtered, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_feature_flag_drops_one_event_until_it_is_turned_on() {
    let linker = EventLinker::builder().build().unwrap();
    let beta = Arc::new(AtomicUsize::new(0));
    let counter = beta.clone();
    linker
        .on("beta.signup")
        .subscribe(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    linker.on("signup").subscribe(|| async {}).unwrap();
    let flag = Arc::new(AtomicBool::new(false));
    let on = flag.clone();
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .filter(move |e: &EmissionView<'_>| {
            if e.event() == "beta.signup" && !on.load(Ordering::SeqCst) {
                Verdict::drop(format!("{} is behind a flag", e.event()))
            } else {
                Verdict::Pass
            }
        })
        .build();

    assert_eq!(emitter.emit("signup").unwrap().await.counts().succeeded, 1);
    assert_eq!(
        reason_of(emitter.emit("beta.signup")),
        "beta.signup is behind a flag"
    );
    assert_eq!(
        reason_of(emitter.run("beta.signup").await),
        "beta.signup is behind a flag"
    );
    assert_eq!(beta.load(Ordering::SeqCst), 0);

    flag.store(true, Ordering::SeqCst);
    assert_eq!(
        emitter
            .emit("beta.signup")
            .unwrap()
            .await
            .counts()
            .succeeded,
        1
    );
    assert_eq!(
        emitter.run("beta.signup").await.unwrap().counts().succeeded,
        1
    );
    assert_eq!(beta.load(Ordering::SeqCst), 2);
    assert_eq!(emitter.metrics().filtered, 2);
}

/// A once-subscription on `Job` counting its runs, and an emitter whose filter drops
/// emissions while `closed` is set.
fn once_behind_a_gate() -> (EventLinker, EventEmitter, Arc<AtomicBool>, Arc<AtomicUsize>) {
    let linker = EventLinker::builder().build().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    linker
        .on("Job")
        .once()
        .subscribe(move |n: &u32| {
            counter.fetch_add(*n as usize, Ordering::SeqCst);
        })
        .unwrap();
    let closed = Arc::new(AtomicBool::new(true));
    let gate = closed.clone();
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .filter(move |_: &EmissionView<'_>| {
            if gate.load(Ordering::SeqCst) {
                Verdict::drop("gate closed")
            } else {
                Verdict::Pass
            }
        })
        .build()
        .into();
    (linker, emitter, closed, ran)
}

#[test]
fn a_dropped_emission_leaves_once_subscriptions_linked_in_a_sync_context() {
    let (linker, emitter, closed, ran) = once_behind_a_gate();
    let Err(EmitError::Filtered(filtered)) = emitter.emit_with("Job", 5_u32) else {
        panic!("expected a filtered emission");
    };
    assert_eq!(
        filtered.into_payload::<u32>(),
        Some(5),
        "the payload comes back"
    );
    assert_eq!(linker.subscriber_count_of("Job"), 1);
    assert_eq!(ran.load(Ordering::SeqCst), 0);

    closed.store(false, Ordering::SeqCst);
    let report = emitter.emit_with("Job", 7_u32).unwrap().wait().unwrap();
    assert_eq!(report.counts().succeeded, 1);
    assert_eq!(ran.load(Ordering::SeqCst), 7);
    assert_eq!(
        linker.subscriber_count_of("Job"),
        0,
        "used up by the emission that ran"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_dropped_emission_leaves_once_subscriptions_linked_in_an_async_context() {
    let (linker, emitter, closed, ran) = once_behind_a_gate();
    assert_eq!(reason_of(emitter.emit_with("Job", 1_u32)), "gate closed");
    assert_eq!(
        reason_of(emitter.run_with("Job", 2_u32).await),
        "gate closed"
    );
    assert_eq!(linker.subscriber_count_of("Job"), 1);

    closed.store(false, Ordering::SeqCst);
    assert_eq!(
        emitter
            .run_with("Job", 3_u32)
            .await
            .unwrap()
            .counts()
            .succeeded,
        1
    );
    assert_eq!(
        ran.load(Ordering::SeqCst),
        3,
        "only the emission that passed ran"
    );
    assert_eq!(linker.subscriber_count_of("Job"), 0);
    let metrics = emitter.metrics();
    assert_eq!((metrics.filtered, metrics.emitted), (2, 1));
}

#[tokio::test(flavor = "current_thread")]
async fn a_panicking_filter_drops_the_emission_and_the_emitter_goes_on() {
    let (linker, ran) = counted("Job");
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .filter(|e: &EmissionView<'_>| match e.payload_as::<u32>() {
            Some(0) => panic!("a filter bug"),
            _ => Verdict::Pass,
        })
        .build();
    let sync_context = {
        let emitter = emitter.clone();
        std::thread::spawn(move || reason_of(emitter.emit_with("Job", 0_u32)))
            .join()
            .unwrap()
    };
    assert_eq!(sync_context, "the emission filter panicked");
    assert_eq!(
        reason_of(emitter.emit_with("Job", 0_u32)),
        "the emission filter panicked"
    );
    assert_eq!(
        reason_of(emitter.run_with("Job", 0_u32).await),
        "the emission filter panicked"
    );
    assert_eq!(ran.load(Ordering::SeqCst), 0);

    assert_eq!(
        emitter
            .run_with("Job", 1_u32)
            .await
            .unwrap()
            .counts()
            .succeeded,
        1
    );
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(emitter.metrics().filtered, 3);
}

#[test]
fn the_filter_sees_only_emissions_that_found_a_handler() {
    let (linker, _ran) = counted("Job");
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .filter(move |_: &EmissionView<'_>| {
            counter.fetch_add(1, Ordering::SeqCst);
            Verdict::drop("never")
        })
        .build();
    // Nobody is linked: the emission ends at once, unfiltered, as without a filter.
    let report = emitter.emit("Nobody").unwrap().wait().unwrap();
    assert_eq!(report.counts().total(), 0);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(emitter.emit("Job").is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let metrics = emitter.metrics();
    assert_eq!((metrics.filtered, metrics.emitted), (1, 1));
}

#[test]
fn a_filtered_error_says_what_was_dropped_and_why() {
    let (linker, _ran) = counted("Job");
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .filter(|_: &EmissionView<'_>| Verdict::drop("maintenance"))
        .build();
    let err = emitter.emit("Job").unwrap_err();
    assert_eq!(
        err.to_string(),
        "event `Job` was not emitted: the emitter's filter dropped it (maintenance)"
    );
}
