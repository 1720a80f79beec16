//! `EventLinker::stream` and its typed forms, used as a user would: read with `recv` and
//! as a `futures_core::Stream`, fed by emissions from tokio tasks and plain threads,
//! overflowing under both policies, dropped (also while other threads emit), and ended
//! by a removal. After every drop the stream's subscription is gone.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures_core::{FusedStream, Stream};
use ventus::{
    AnyEvent, Event, EventLinker, Lagged, Outcome, StreamOverflow, SubscribeError,
    TokioEventEmitter,
};

use StreamOverflow::{DropOldest, RefuseNewest};

fn linker() -> EventLinker {
    EventLinker::builder().build().unwrap()
}

/// A waker that records being woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_from_another_task_come_in_order() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let mut ticks = linker
        .stream_with::<u32>("Tick", 1000, RefuseNewest)
        .unwrap();
    assert_eq!(linker.subscriber_count_of("Tick"), 1);
    let task = tokio::spawn(async move {
        for n in 0..500_u32 {
            emitter.run_with("Tick", n).await.unwrap();
        }
    });

    for n in 0..500_u32 {
        assert_eq!(ticks.recv().await, Some(Ok(n)));
    }
    task.await.unwrap();
    assert_eq!((ticks.refused(), ticks.dropped()), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_from_a_plain_thread_come_in_order() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let mut lines = linker
        .stream_with::<String>("Line", 256, RefuseNewest)
        .unwrap();
    // A plain thread has no runtime: its emissions run the stream's handler inline, each
    // buffered before `emit_with` returns, while this task reads them.
    let thread = std::thread::spawn(move || {
        for n in 0..200 {
            emitter.emit_with("Line", format!("line {n}")).unwrap();
        }
    });
    for n in 0..200 {
        assert_eq!(lines.recv().await, Some(Ok(format!("line {n}"))));
    }
    thread.join().unwrap();
    assert_eq!(lines.refused(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn drop_oldest_yields_a_lag_marker_with_the_exact_count_and_goes_on() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let mut ticks = linker.stream_with::<u32>("Tick", 3, DropOldest).unwrap();
    assert_eq!(ticks.overflow(), DropOldest);
    for n in 0..10_u32 {
        let report = emitter.run_with("Tick", n).await.unwrap();
        assert_eq!(
            report.counts().succeeded,
            1,
            "dropping the oldest is no failure"
        );
    }
    assert_eq!(ticks.len(), 3);
    assert_eq!(ticks.dropped(), 7);

    assert_eq!(ticks.recv().await, Some(Err(Lagged(7))));
    assert_eq!(ticks.recv().await, Some(Ok(7)));
    // A second gap, counted from the last item yielded.
    for n in 10..15_u32 {
        emitter.run_with("Tick", n).await.unwrap();
    }
    assert_eq!(
        ticks.recv().await,
        Some(Err(Lagged(4))),
        "8, 9, 10 and 11 were dropped"
    );
    for n in 12..15_u32 {
        assert_eq!(ticks.recv().await, Some(Ok(n)));
    }
    assert_eq!(ticks.dropped(), 11);
    assert_eq!(ticks.refused(), 0);
    assert!(ticks.is_empty());
    assert!(!ticks.is_terminated(), "a lag does not end the stream");
}

#[tokio::test(flavor = "current_thread")]
async fn refuse_newest_keeps_the_first_items_counts_the_rest_and_reports_them_failed() {
    let linker = linker();
    let emitter = ventus::EventEmitter::builder()
        .linker(&linker)
        .detailed_reports(true)
        .build();
    let mut ticks = linker.stream_with::<u32>("Tick", 3, RefuseNewest).unwrap();
    let mut failed = 0;
    for n in 0..10_u32 {
        let report = emitter.run_with("Tick", n).await.unwrap();
        let handler = &report.handlers()[0];
        assert_eq!(handler.handler, "ventus::stream");
        if let Outcome::Failed(err) = &handler.outcome {
            assert!(err.to_string().contains("item refused"), "{err}");
            failed += 1;
        }
    }
    assert_eq!((ticks.refused(), failed), (7, 7));

    for n in 0..3_u32 {
        assert_eq!(ticks.recv().await, Some(Ok(n)));
    }
    // Room again: the next item is taken, and the count stays.
    let report = emitter.run_with("Tick", 99_u32).await.unwrap();
    assert_eq!(report.counts().succeeded, 1);
    assert_eq!(ticks.recv().await, Some(Ok(99)));
    assert_eq!((ticks.refused(), ticks.dropped()), (7, 0));
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_it_unsubscribes_and_drops_the_buffered_items() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let payload = Arc::new(5_u8);
    let stream = linker
        .stream_with::<Arc<u8>>("Held", 4, DropOldest)
        .unwrap();
    emitter.run_with("Held", payload.clone()).await.unwrap();
    assert_eq!(Arc::strong_count(&payload), 2, "the stream holds a clone");
    assert_eq!(linker.subscriber_count_of("Held"), 1);

    drop(stream);
    assert_eq!(linker.subscriber_count_of("Held"), 0);
    assert_eq!(
        Arc::strong_count(&payload),
        1,
        "its buffered item went with it"
    );
    let later = emitter.emit_with("Held", payload.clone()).unwrap().await;
    assert_eq!(later.counts().total(), 0, "no emission runs it any more");
    assert!(linker.is_empty());
}

#[test]
fn emitter_threads_racing_drops_leave_no_subscriber() {
    let linker = linker();
    let emitters = 3;
    let droppers = 3;
    let start = Arc::new(Barrier::new(emitters + droppers));
    let mut threads = Vec::new();
    for _ in 0..emitters {
        let emitter = TokioEventEmitter::with_linker(&linker);
        let start = start.clone();
        threads.push(std::thread::spawn(move || {
            start.wait();
            for n in 0..3000_u64 {
                emitter.emit_with("Race", n).unwrap();
            }
        }));
    }
    for t in 0..droppers {
        let linker = linker.clone();
        let start = start.clone();
        threads.push(std::thread::spawn(move || {
            start.wait();
            for i in 0..400 {
                let overflow = if (i + t) % 2 == 0 {
                    DropOldest
                } else {
                    RefuseNewest
                };
                let stream = linker.stream_with::<u64>("Race", 2, overflow).unwrap();
                if i % 3 == 0 {
                    std::thread::yield_now();
                }
                drop(stream);
            }
        }));
    }
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(linker.subscriber_count_of("Race"), 0);
    assert!(linker.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_emissions_racing_drops_leave_no_subscriber() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let mut emitted = Vec::new();
    for round in 0..200_u64 {
        let mut stream = linker.stream_with::<u64>("Race", 4, DropOldest).unwrap();
        // Scheduled on tokio: these run on the workers while the stream is read and dropped.
        for n in 0..4 {
            emitted.push(emitter.emit_with("Race", round * 4 + n).unwrap());
        }
        if round % 2 == 0 {
            let item = stream.recv().await.unwrap().unwrap();
            assert!(item >= round * 4, "no item of an earlier stream: {item}");
        }
        drop(stream);
        assert_eq!(linker.subscriber_count_of("Race"), 0);
    }
    for handle in emitted {
        handle.await;
    }
    assert!(linker.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_its_subscription_wakes_and_ends_it() {
    let linker = linker();
    for remove in 0..4 {
        let mut stream = linker.stream_with::<u8>("Gone", 4, DropOldest).unwrap();
        let (polled, first_poll) = tokio::sync::oneshot::channel();
        let mut polled = Some(polled);
        let reading = tokio::spawn(poll_fn(move |cx| {
            let out = Pin::new(&mut stream).poll_next(cx);
            if let Some(polled) = polled.take() {
                let _ = polled.send(());
            }
            out.map(|item| (item, stream.is_terminated()))
        }));
        // Removed only once the task waits on its waker: the removal must wake it.
        first_poll.await.unwrap();
        match remove {
            0 => linker.remove_all(),
            1 => assert!(linker.remove_event("Gone")),
            2 => assert!(linker.remove("Gone", &linker.subscribers()[0])),
            _ => assert!(linker.subscribers()[0].unsubscribe()),
        }
        let woken = tokio::time::timeout(Duration::from_secs(10), reading).await;
        let out = woken.expect("the removal woke the stream").unwrap();
        assert_eq!(out, (None, true), "removal {remove}");
        assert!(linker.is_empty());
    }
}

#[tokio::test(flavor = "current_thread")]
async fn after_a_removal_it_yields_what_it_buffered_then_ends_for_good() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let mut ticks = linker.stream_with::<u8>("Tick", 2, DropOldest).unwrap();
    for n in 1..=3_u8 {
        emitter.run_with("Tick", n).await.unwrap();
    }
    linker.remove_all();

    assert_eq!(ticks.recv().await, Some(Err(Lagged(1))));
    assert_eq!(ticks.recv().await, Some(Ok(2)));
    assert_eq!(ticks.recv().await, Some(Ok(3)));
    assert!(!ticks.is_terminated());
    assert_eq!(ticks.recv().await, None);
    assert!(ticks.is_terminated());
    assert_eq!(ticks.recv().await, None, "and keeps ending");
}

#[test]
fn a_removal_wakes_a_pending_poll() {
    let linker = linker();
    let mut stream = linker.stream("Gone", 1, RefuseNewest).unwrap();
    let flag = Arc::new(Flag::default());
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut stream).poll_next(&mut cx).is_pending());
    assert!(!flag.0.load(Ordering::SeqCst));

    linker.remove_all();
    assert!(flag.0.load(Ordering::SeqCst), "the removal woke it");
    assert!(matches!(
        Pin::new(&mut stream).poll_next(&mut cx),
        Poll::Ready(None)
    ));
}

#[test]
fn an_emission_wakes_a_pending_poll() {
    let linker = linker();
    let mut stream = linker.stream_with::<u8>("Tick", 1, RefuseNewest).unwrap();
    let flag = Arc::new(Flag::default());
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut stream).poll_next(&mut cx).is_pending());

    let emitter = TokioEventEmitter::with_linker(&linker);
    std::thread::spawn(move || emitter.emit_with("Tick", 4_u8).map(drop))
        .join()
        .unwrap()
        .unwrap();
    assert!(flag.0.load(Ordering::SeqCst), "the emission woke it");
    assert!(matches!(
        Pin::new(&mut stream).poll_next(&mut cx),
        Poll::Ready(Some(Ok(4)))
    ));
}

#[derive(Debug, Clone, PartialEq)]
struct Moved {
    x: i32,
}
impl Event for Moved {}

#[tokio::test(flavor = "current_thread")]
async fn typed_forms() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let mut moves = linker.stream_event::<Moved>(4, DropOldest).unwrap();
    let mut any = linker.stream_any(8, DropOldest).unwrap();
    let mut pings = linker.stream("Ping", 4, RefuseNewest).unwrap();

    emitter.run_event(Moved { x: 1 }).await.unwrap();
    let ping = emitter.run_with("Ping", 7_u32).await.unwrap();
    emitter.run("Ping").await.unwrap();
    emitter.run_event(Moved { x: 2 }).await.unwrap();

    assert_eq!(moves.recv().await, Some(Ok(Moved { x: 1 })));
    assert_eq!(moves.recv().await, Some(Ok(Moved { x: 2 })));
    let first: AnyEvent = pings.recv().await.unwrap().unwrap();
    assert_eq!((first.payload::<u32>(), first.id()), (Some(&7), ping.id()));
    assert!(pings
        .recv()
        .await
        .unwrap()
        .unwrap()
        .payload::<u32>()
        .is_none());
    let mut names = Vec::new();
    for _ in 0..4 {
        names.push(any.recv().await.unwrap().unwrap().name().to_string());
    }
    assert_eq!(names, ["Moved", "Ping", "Ping", "Moved"]);
    assert!(moves.is_empty() && pings.is_empty() && any.is_empty());
}

#[test]
fn subscribing_errors_are_returned_at_once() {
    let linker = EventLinker::builder().max_subscribers(1).build().unwrap();
    let _held = linker.stream("Full", 1, DropOldest).unwrap();
    assert!(matches!(
        linker.stream_with::<u8>("Full", 1, DropOldest),
        Err(SubscribeError::TooManySubscribers { .. })
    ));
    assert!(matches!(
        linker.stream("", 1, DropOldest),
        Err(SubscribeError::EmptyEventName)
    ));
    mod other {
        #[derive(Clone)]
        pub(super) struct Moved;
        impl ventus::Event for Moved {}
    }
    let linker = self::linker();
    linker.on_event::<other::Moved>().subscribe(|| ()).unwrap();
    assert!(matches!(
        linker.stream_event::<Moved>(1, DropOldest),
        Err(SubscribeError::NameCollision { .. })
    ));
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn a_zero_capacity_panics() {
    let _ = linker().stream("E", 0, DropOldest);
}
