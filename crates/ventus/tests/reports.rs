//! Emission reports are the same whatever path an emission took: every report names its
//! event and prints the same way, and every emission (with handlers or without) has an
//! id of its own.

mod support;

use std::collections::HashSet;
use std::future::IntoFuture;

use support::{linker, within};
use ventus::{
    EmissionReport, EventEmitter, EventLinker, ThreadPoolEventEmitter, TokioEventEmitter,
};

/// The emitters whose reports are compared: plain (lean paths), detailed (full paths).
fn emitters(linker: &EventLinker) -> Vec<(&'static str, TokioEventEmitter)> {
    vec![
        ("plain", TokioEventEmitter::with_linker(linker)),
        (
            "detailed",
            EventEmitter::builder()
                .linker(linker)
                .detailed_reports(true)
                .build(),
        ),
    ]
}

/// Links sync handlers to "Sync", async ones to "Async", and nothing to "Nobody".
fn link(linker: &EventLinker) {
    linker.on("Sync").subscribe(|| ()).unwrap();
    linker.on("Sync").subscribe(|n: &u32| *n).unwrap();
    linker.on("Async").subscribe(|| async {}).unwrap();
    // A name longer than any inline buffer a name type might use.
    linker
        .on("An event whose name is longer than thirty-two bytes")
        .subscribe(|| ())
        .unwrap();
}

const EVENTS: [&str; 4] = [
    "Sync",
    "Async",
    "Nobody",
    "An event whose name is longer than thirty-two bytes",
];

/// Checks `report` names `event` and prints as every report does.
fn check(what: &str, report: &EmissionReport, event: &str, ids: &mut HashSet<u64>) {
    assert_eq!(report.event().as_str(), event, "{what}: {report}");
    let id = report.id();
    assert_ne!(id.as_u64(), 0, "{what}: ids start at 1");
    assert!(ids.insert(id.as_u64()), "{what}: {id} was given twice");
    let shown = report.to_string();
    let head = format!("{id} of `{event}`: ");
    assert!(
        shown.starts_with(&head),
        "{what}: `{shown}` should start with `{head}`"
    );
}

#[test]
fn sync_context_reports_name_their_event_and_have_unique_ids() {
    let linker = linker();
    link(&linker);
    let ids = within("sync emissions", move || {
        let mut ids = HashSet::new();
        for (kind, emitter) in emitters(&linker) {
            for event in EVENTS {
                for round in 0..3 {
                    let emitted = emitter.emit_with(event, 1_u32).unwrap();
                    let id = emitted.id();
                    let report = emitted.wait().unwrap();
                    assert_eq!(report.id(), id, "the handle and its report agree");
                    check(
                        &format!("sync {kind} {event} #{round}"),
                        &report,
                        event,
                        &mut ids,
                    );
                }
            }
        }
        ids
    });
    assert_eq!(ids.len(), 2 * EVENTS.len() * 3);
}

#[tokio::test(flavor = "current_thread")]
async fn async_context_and_run_reports_name_their_event_and_have_unique_ids() {
    let linker = linker();
    link(&linker);
    let mut ids = HashSet::new();
    for (kind, emitter) in emitters(&linker) {
        for event in EVENTS {
            for round in 0..3 {
                let emitted = emitter.emit_with(event, 1_u32).unwrap();
                let id = emitted.id();
                let report = emitted.into_future().await;
                assert_eq!(report.id(), id, "the handle and its report agree");
                check(
                    &format!("scheduled {kind} {event} #{round}"),
                    &report,
                    event,
                    &mut ids,
                );

                let report = emitter.run_with(event, 1_u32).await.unwrap();
                check(
                    &format!("run {kind} {event} #{round}"),
                    &report,
                    event,
                    &mut ids,
                );
            }
        }
    }
    assert_eq!(ids.len(), 2 * EVENTS.len() * 3 * 2);
}

#[test]
fn thread_pool_reports_name_their_event_and_have_unique_ids() {
    let linker = linker();
    link(&linker);
    let emitter = ThreadPoolEventEmitter::with_linker(&linker, 2);
    let mut ids = HashSet::new();
    for event in EVENTS {
        let report = emitter.emit_with(event, 1_u32).unwrap().wait().unwrap();
        check(&format!("pool {event}"), &report, event, &mut ids);
    }
    emitter.processor().shutdown(true);
}

#[test]
fn any_event_handlers_alone_are_reported_by_the_emitted_name() {
    let linker = linker();
    linker.on_any().subscribe(|| ()).unwrap();
    let mut ids = HashSet::new();
    for (kind, emitter) in emitters(&linker) {
        let report = within("any-only emission", move || {
            emitter.emit("Only any").unwrap().wait().unwrap()
        });
        assert_eq!(report.counts().succeeded, 1);
        check(&format!("any {kind}"), &report, "Only any", &mut ids);
    }
}
