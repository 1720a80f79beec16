//! With ventus's own spans off (a subscriber at `info`), a scheduled emission still runs
//! in the span it was made in. Alone in its binary: `tracing` caches a callsite's
//! interest across every subscriber of the process, and a test elsewhere that enables
//! ventus's `debug` spans would decide what this one sees.

use std::future::IntoFuture;
use std::sync::{Arc, Mutex};

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use ventus::{EventLinker, TokioEventEmitter};

#[test]
fn with_ventus_spans_off_a_scheduled_emission_runs_in_the_span_it_was_made_in() {
    let linker = EventLinker::builder().build().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let current = || {
        tracing::Span::current()
            .metadata()
            .map_or("none", |m| m.name())
    };
    let s = seen.clone();
    linker
        .on("Job")
        .subscribe(move || s.lock().unwrap().push(("sync", current())))
        .unwrap();
    let s = seen.clone();
    linker
        .on("Job")
        .subscribe(move || {
            let s = s.clone();
            async move {
                // After an await: the rest of the emission, in a task of its own.
                tokio::task::yield_now().await;
                s.lock().unwrap().push(("async", current()));
            }
        })
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    // `info` only: ventus's `debug` spans are off, so the emission has no span of its own.
    let subscriber = tracing_subscriber::registry().with(LevelFilter::INFO);
    let report = tracing::subscriber::with_default(subscriber, || {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async {
                let emitted = {
                    let request = tracing::info_span!("request");
                    let _entered = request.enter();
                    emitter.emit("Job").unwrap()
                };
                // Outside `request` from here on; the drainer runs the emission later.
                assert_eq!(current(), "none");
                emitted.into_future().await
            })
    });
    assert_eq!(report.counts().succeeded, 2);
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, [("async", "request"), ("sync", "request")]);
}
