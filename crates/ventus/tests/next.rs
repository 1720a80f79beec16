//! `EventLinker::next` and its typed forms, used as a user would: awaited in tokio tasks,
//! waited on in sync code, resolved by emissions from other tasks and threads, timed
//! out, dropped, and raced. After every outcome the waiter's subscription is gone.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use ventus::{
    AnyEvent, EmitError, Event, EventLinker, NextError, SubscribeError, TokioEventEmitter,
};

fn linker() -> EventLinker {
    EventLinker::builder().build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolves_with_the_payload_emitted_from_another_task() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let paid = linker.next_with::<u64>("Paid");
    assert_eq!(linker.subscriber_count_of("Paid"), 1);
    let task = tokio::spawn(async move { emitter.emit_with("Paid", 42_u64).map(drop) });

    assert_eq!(paid.await, Ok(42));
    assert_eq!(linker.subscriber_count_of("Paid"), 0);
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolves_with_the_payload_emitted_from_another_thread() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let ready = linker.next_with::<String>("Ready");
    // A plain thread has no runtime: its emission runs the waiter inline.
    let thread = std::thread::spawn(move || emitter.emit_with("Ready", "db".to_string()).map(drop));

    assert_eq!(ready.await.as_deref(), Ok("db"));
    assert_eq!(linker.subscriber_count_of("Ready"), 0);
    thread.join().unwrap().unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn an_emission_between_the_call_and_the_await_is_the_one_it_gets() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let tick = linker.next_with::<u32>("Tick");
    // Run to its end before the future is first polled.
    emitter.run_with("Tick", 1_u32).await.unwrap();
    emitter.run_with("Tick", 2_u32).await.unwrap();

    assert_eq!(tick.await, Ok(1), "subscribed when made, not when polled");
}

#[tokio::test(flavor = "current_thread")]
async fn after_it_resolves_no_emission_runs_it() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let tick = linker.next_with::<u32>("Tick");
    let first = emitter.run_with("Tick", 1_u32).await.unwrap();
    assert_eq!(first.counts().succeeded, 1, "the waiter ran");
    assert_eq!(tick.await, Ok(1));

    assert!(linker.is_empty());
    let later = emitter.emit_with("Tick", 2_u32).unwrap().await;
    assert_eq!(
        later.counts().total(),
        0,
        "the waiter is not linked any more"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_it_unsubscribes_before_and_after_a_poll() {
    let linker = linker();
    let never = linker.next("Never");
    assert_eq!(linker.subscriber_count_of("Never"), 1);
    drop(never);
    assert_eq!(linker.subscriber_count_of("Never"), 0, "dropped unpolled");

    let mut polled = linker.next_with::<u8>("Never");
    tokio::select! {
        biased;
        _ = &mut polled => panic!("nothing was emitted"),
        () = tokio::task::yield_now() => {}
    }
    assert_eq!(linker.subscriber_count_of("Never"), 1);
    drop(polled);
    assert_eq!(
        linker.subscriber_count_of("Never"),
        0,
        "dropped after a poll"
    );
    assert!(linker.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn a_payload_handed_over_to_a_dropped_future_is_dropped_with_it() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let payload = Arc::new(());
    let unread = linker.next_with::<Arc<()>>("Shared");
    emitter.run_with("Shared", payload.clone()).await.unwrap();
    assert_eq!(Arc::strong_count(&payload), 2, "the waiter holds its clone");
    drop(unread);
    assert_eq!(
        Arc::strong_count(&payload),
        1,
        "and drops it with the future"
    );
    assert!(linker.is_empty());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn timeout_resolves_timed_out_and_unsubscribes() {
    let linker = linker();
    let late = linker
        .next_with::<u64>("Late")
        .timeout(Duration::from_secs(30));
    assert_eq!(
        late.await,
        Err(NextError::TimedOut(Duration::from_secs(30)))
    );
    assert_eq!(linker.subscriber_count_of("Late"), 0);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn tokio_time_timeout_also_leaves_no_subscriber() {
    let linker = linker();
    let late = tokio::time::timeout(Duration::from_secs(30), linker.next("Late")).await;
    assert!(late.is_err(), "elapsed");
    assert_eq!(linker.subscriber_count_of("Late"), 0);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_emission_before_the_timeout_wins() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let soon = linker
        .next_with::<u64>("Soon")
        .timeout(Duration::from_secs(30));
    emitter.run_with("Soon", 5_u64).await.unwrap();
    assert_eq!(soon.await, Ok(5));
}

#[tokio::test(flavor = "current_thread")]
async fn next_where_skips_payloads_the_predicate_refuses() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let big = linker.next_where("N", |n: &u64| *n > 2);
    for n in [1_u64, 2] {
        let report = emitter.run_with("N", n).await.unwrap();
        assert_eq!(report.counts().succeeded, 1, "the waiter looked at {n}");
        assert_eq!(linker.subscriber_count_of("N"), 1, "and still waits");
    }
    emitter.run_with("N", 3_u64).await.unwrap();
    emitter.run_with("N", 4_u64).await.unwrap();
    assert_eq!(big.await, Ok(3));
    assert_eq!(linker.subscriber_count_of("N"), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_payload_of_another_type_does_not_resolve_a_typed_waiter() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let number = linker.next_with::<u64>("Mixed");
    // Only the waiter takes `Mixed`: another type is refused before any handler runs.
    assert!(matches!(
        emitter.emit_with("Mixed", "seven".to_string()),
        Err(EmitError::PayloadType { .. })
    ));
    // With a handler of that type, the waiter fails that emission and goes on waiting.
    linker.on("Mixed").subscribe(|_: &String| ()).unwrap();
    let report = emitter
        .run_with("Mixed", "eight".to_string())
        .await
        .unwrap();
    assert_eq!((report.counts().succeeded, report.counts().failed), (1, 1));
    assert_eq!(linker.subscriber_count_of("Mixed"), 2);

    emitter.run_with("Mixed", 9_u64).await.unwrap();
    assert_eq!(number.await, Ok(9));
    assert_eq!(
        linker.subscriber_count_of("Mixed"),
        1,
        "only the user's handler is left"
    );
}

#[derive(Debug, Clone, PartialEq)]
struct Shutdown {
    reason: &'static str,
}
impl Event for Shutdown {}

#[tokio::test(flavor = "current_thread")]
async fn next_event_resolves_with_the_typed_event() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let shutdown = linker.next_event::<Shutdown>();
    emitter.emit_event(Shutdown { reason: "deploy" }).unwrap();
    assert_eq!(shutdown.await, Ok(Shutdown { reason: "deploy" }));
    assert!(linker.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn next_event_refuses_a_name_of_another_typed_event() {
    mod other {
        #[derive(Clone)]
        pub(super) struct Shutdown;
        impl ventus::Event for Shutdown {}
    }
    let linker = linker();
    linker
        .on_event::<other::Shutdown>()
        .subscribe(|| ())
        .unwrap();
    let refused = linker.next_event::<Shutdown>().await;
    assert!(matches!(
        refused,
        Err(NextError::Subscribe(SubscribeError::NameCollision { .. }))
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn next_gives_the_emission_as_any_event() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let ping = linker.next("Ping");
    let emitted = emitter.emit_with("Ping", 7_u32).unwrap();
    let id = emitted.id();
    emitted.await;

    let event: AnyEvent = ping.await.unwrap();
    assert_eq!(event.name().as_str(), "Ping");
    assert_eq!(event.id(), id);
    assert_eq!(event.payload::<u32>(), Some(&7));
    assert_eq!(event.payload_type(), Some("u32"));
}

#[tokio::test(flavor = "current_thread")]
async fn next_any_resolves_with_the_first_event_of_any_name() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    linker.on(["A", "B"]).subscribe(|| ()).unwrap();
    let first = linker.next_any();
    emitter.run("B").await.unwrap();
    emitter.run("A").await.unwrap();
    assert_eq!(first.await.unwrap().name().as_str(), "B");
    assert_eq!(linker.subscriber_count_of(ventus::EventTarget::Any), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_event_and_an_empty_name_are_typed_errors() {
    let linker = EventLinker::builder().max_subscribers(1).build().unwrap();
    linker.on("Full").subscribe(|| ()).unwrap();
    assert!(matches!(
        linker.next("Full").await,
        Err(NextError::Subscribe(SubscribeError::TooManySubscribers {
            max: 1,
            ..
        }))
    ));
    assert_eq!(
        linker.next_with::<u8>("").await,
        Err(NextError::Subscribe(SubscribeError::EmptyEventName))
    );
    assert_eq!(linker.subscriber_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_its_subscription_wakes_it_with_removed() {
    let linker = linker();
    for remove in 0..4 {
        let mut next = linker.next_with::<u8>("Gone");
        let (polled, first_poll) = tokio::sync::oneshot::channel();
        let mut polled = Some(polled);
        let waiting = tokio::spawn(std::future::poll_fn(move |cx| {
            let out = std::pin::Pin::new(&mut next).poll(cx);
            if let Some(polled) = polled.take() {
                let _ = polled.send(());
            }
            out
        }));
        // Removed only once the task waits on its waker: the removal must wake it.
        first_poll.await.unwrap();
        match remove {
            0 => linker.remove_all(),
            1 => assert!(linker.remove_event("Gone")),
            2 => assert!(linker.remove("Gone", &linker.subscribers()[0])),
            _ => assert!(linker.subscribers()[0].unsubscribe()),
        }
        let woken = tokio::time::timeout(Duration::from_secs(10), waiting).await;
        let out = woken.expect("the removal woke the waiter").unwrap();
        assert_eq!(out, Err(NextError::Removed), "removal {remove}");
        assert!(linker.is_empty());
    }
}

#[test]
fn wait_blocks_sync_code_until_another_thread_emits() {
    let linker = linker();
    let ready = linker.next_with::<u64>("Ready");
    let emitter = TokioEventEmitter::with_linker(&linker);
    let thread = std::thread::spawn(move || emitter.emit_with("Ready", 3_u64).map(drop));
    assert_eq!(ready.wait(), Ok(3));
    assert_eq!(linker.subscriber_count_of("Ready"), 0);
    thread.join().unwrap().unwrap();
}

#[test]
fn wait_times_out_without_a_runtime() {
    let linker = linker();
    let late = linker.next("Late").timeout(Duration::from_millis(20));
    assert_eq!(
        late.wait().unwrap_err(),
        NextError::TimedOut(Duration::from_millis(20))
    );
    assert_eq!(linker.subscriber_count_of("Late"), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn wait_on_a_current_thread_runtime_refuses_and_unsubscribes() {
    let linker = linker();
    assert_eq!(linker.next("X").wait().unwrap_err(), NextError::WouldBlock);
    assert_eq!(linker.subscriber_count_of("X"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_on_a_multi_thread_worker_blocks_in_place() {
    let linker = linker();
    let ready = linker.next_with::<u64>("Ready");
    let emitter = TokioEventEmitter::with_linker(&linker);
    let thread = std::thread::spawn(move || emitter.emit_with("Ready", 4_u64).map(drop));
    assert_eq!(ready.wait(), Ok(4));
    thread.join().unwrap().unwrap();
}

/// Many waiters, some awaited to the end, some with a timeout, some dropped after a poll,
/// race emissions from several threads: every resolved waiter got one emitted payload,
/// and no subscriber is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_waiters_racing_emissions_from_threads_leave_no_subscriber() {
    const WAITERS: u64 = 300;
    const THREADS: u64 = 3;
    let linker = linker();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(THREADS as usize + 1));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let emitter = TokioEventEmitter::with_linker(&linker);
            let (stop, sent, start) = (stop.clone(), sent.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut n = t;
                while !stop.load(Ordering::Relaxed) {
                    // Refused (no subscriber) or run inline: both are fine here.
                    let _ = emitter.emit_with("Race", n);
                    sent.fetch_max(n, Ordering::Relaxed);
                    n += THREADS;
                }
            })
        })
        .collect();
    start.wait();

    let tasks: Vec<_> = (0..WAITERS)
        .map(|i| {
            let linker = linker.clone();
            tokio::spawn(async move {
                let next = linker.next_with::<u64>("Race");
                match i % 3 {
                    0 => Some(next.await),
                    1 => Some(next.timeout(Duration::from_millis(1)).await),
                    _ => {
                        let mut next = next;
                        tokio::select! {
                            biased;
                            got = &mut next => Some(got),
                            () = tokio::task::yield_now() => None,
                        }
                    }
                }
            })
        })
        .collect();
    let mut resolved = 0;
    for task in tasks {
        match task.await.unwrap() {
            Some(Ok(n)) => {
                assert!(
                    n <= sent.load(Ordering::Relaxed) + THREADS,
                    "{n} was emitted"
                );
                resolved += 1;
            }
            Some(Err(NextError::TimedOut(_))) | None => {}
            Some(Err(other)) => panic!("unexpected {other}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(
        resolved >= WAITERS / 3,
        "every awaited waiter resolved: {resolved}"
    );
    assert_eq!(linker.subscriber_count_of("Race"), 0);
    assert!(linker.is_empty());
}
