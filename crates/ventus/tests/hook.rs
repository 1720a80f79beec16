//! `HandlerHook`: which handlers start, and each one's end as it happens.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ventus::{EventEmitter, EventLinker, HandlerHook, HandlerInfo, Outcome, SubscriptionId};

/// Skips the handlers named in `skip`; records every end as `(name, succeeded)`.
#[derive(Debug, Default)]
struct Journal {
    skip: Vec<&'static str>,
    admitted: Mutex<Vec<&'static str>>,
    ended: Mutex<Vec<(&'static str, bool)>>,
}

impl HandlerHook for Journal {
    fn admit(&self, handler: &HandlerInfo<'_>) -> bool {
        let ok = !self.skip.contains(&handler.handler());
        if ok {
            self.admitted.lock().unwrap().push(handler.handler());
        }
        ok
    }

    fn ended(&self, handler: &HandlerInfo<'_>, outcome: &Outcome) {
        self.ended
            .lock()
            .unwrap()
            .push((handler.handler(), outcome.is_success()));
    }
}

fn journal(skip: &[&'static str]) -> Arc<Journal> {
    Arc::new(Journal {
        skip: skip.to_vec(),
        ..Journal::default()
    })
}

#[test]
fn a_sync_context_emission_starts_only_the_admitted_handlers() {
    let linker = EventLinker::builder().build().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    for name in ["a", "b", "c"] {
        let ran = ran.clone();
        linker
            .on("Job")
            .name(name)
            .subscribe(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    }
    let hook = journal(&["b"]);
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .handler_hook(hook.clone())
        .build();
    let report = emitter.emit("Job").unwrap().wait().unwrap();
    assert_eq!(report.counts().succeeded, 2);
    assert_eq!(ran.load(Ordering::SeqCst), 2);
    assert_eq!(*hook.admitted.lock().unwrap(), ["a", "c"]);
    assert_eq!(*hook.ended.lock().unwrap(), [("a", true), ("c", true)]);
}

#[tokio::test(flavor = "current_thread")]
async fn an_awaited_emission_tells_each_end_before_the_report_and_failures_as_failed() {
    let linker = EventLinker::builder().build().unwrap();
    linker
        .on("Job")
        .name("fails")
        .subscribe(|_: u32| async { Err::<(), _>("no") })
        .unwrap();
    linker
        .on("Job")
        .name("works")
        .subscribe(|n: u32| async move { n + 1 })
        .unwrap();
    linker
        .on("Job")
        .name("skipped")
        .subscribe(|_: &u32| ())
        .unwrap();
    let hook = journal(&["skipped"]);
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .handler_hook(hook.clone())
        .build();
    let report = emitter.run_with("Job", 1_u32).await.unwrap();
    assert_eq!(report.counts().succeeded, 1);
    assert_eq!(report.counts().failed, 1);
    let mut ended = hook.ended.lock().unwrap().clone();
    ended.sort();
    assert_eq!(ended, [("fails", false), ("works", true)]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_scheduled_emission_with_a_hook_runs_on_the_full_path() {
    let linker = EventLinker::builder().build().unwrap();
    linker.on("Job").name("a").subscribe(|| async {}).unwrap();
    linker.on("Job").name("b").subscribe(|| async {}).unwrap();
    let hook = journal(&["a"]);
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .handler_hook(hook.clone())
        .build();
    let report = emitter.emit("Job").unwrap().await;
    assert_eq!(report.counts().succeeded, 1);
    assert_eq!(*hook.ended.lock().unwrap(), [("b", true)]);
}

#[test]
fn a_once_subscription_the_hook_keeps_from_starting_is_used_up_without_running() {
    let linker = EventLinker::builder().build().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    let sub = linker
        .on("Job")
        .name("once")
        .once()
        .subscribe(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let skip = EventEmitter::builder()
        .linker(&linker)
        .handler_hook(journal(&["once"]))
        .build();
    assert_eq!(
        skip.emit("Job").unwrap().wait().unwrap().counts().total(),
        0
    );
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert!(
        !linker.contains_subscriber(&sub),
        "claimed by the emission, then unlinked"
    );
}

#[derive(Debug)]
struct Panics {
    in_admit: bool,
}

impl HandlerHook for Panics {
    fn admit(&self, _: &HandlerInfo<'_>) -> bool {
        assert!(!self.in_admit, "admit panics");
        true
    }

    fn ended(&self, _: &HandlerInfo<'_>, _: &Outcome) {
        panic!("ended panics");
    }
}

#[test]
fn a_panicking_hook_is_contained() {
    let linker = EventLinker::builder().build().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    linker
        .on("Job")
        .subscribe(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let admit_panics = EventEmitter::builder()
        .linker(&linker)
        .handler_hook(Panics { in_admit: true })
        .build();
    let report = admit_panics.emit("Job").unwrap().wait().unwrap();
    assert_eq!(
        (report.counts().total(), ran.load(Ordering::SeqCst)),
        (0, 0)
    );

    let ended_panics = EventEmitter::builder()
        .linker(&linker)
        .handler_hook(Panics { in_admit: false })
        .build();
    let report = ended_panics.emit("Job").unwrap().wait().unwrap();
    assert_eq!(
        (report.counts().succeeded, ran.load(Ordering::SeqCst)),
        (1, 1)
    );
}

#[test]
fn the_hook_sees_the_emission_and_subscription() {
    #[derive(Debug, Default)]
    struct Seen(Mutex<Vec<(String, SubscriptionId)>>);
    impl HandlerHook for Seen {
        fn admit(&self, h: &HandlerInfo<'_>) -> bool {
            self.0
                .lock()
                .unwrap()
                .push((h.event().to_owned(), h.subscription()));
            true
        }
    }
    let linker = EventLinker::builder().build().unwrap();
    let sub = linker.on("Named").subscribe(|| ()).unwrap();
    let seen = Arc::new(Seen::default());
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .handler_hook(seen.clone())
        .build();
    emitter.emit("Named").unwrap();
    assert_eq!(*seen.0.lock().unwrap(), [("Named".to_owned(), sub.id())]);
}
