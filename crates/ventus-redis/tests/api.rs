//! The crate's API the way a user meets it: typed events, no payload, keyed order,
//! trace context across the hop, and the errors bad input gets.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use support::{wait, RedisServer};
use ventus_redis::{
    ConfigError, DeadLetters, Delivery, RedisEmitter, RemoteEmitError, Worker, WorkerHandle,
};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Shipped {
    parcels: u32,
}
impl ventus::Event for Shipped {}

async fn start(
    server: &RedisServer,
    linker: &ventus::EventLinker,
    configure: impl FnOnce(ventus_redis::WorkerBuilder) -> ventus_redis::WorkerBuilder,
) -> (
    WorkerHandle,
    tokio::task::JoinHandle<ventus_redis::WorkerReport>,
) {
    let builder = Worker::builder(server.url())
        .linker(linker)
        .queue("api")
        .reclaim_every(Duration::from_millis(50))
        .backoff(vec![Duration::from_millis(20)]);
    let worker = configure(builder).build().await.unwrap();
    let handle = worker.handle();
    (
        handle,
        tokio::spawn(worker.run_until(std::future::pending())),
    )
}

/// An emitter on the queue these tests use.
async fn api_emitter(server: &RedisServer) -> RedisEmitter {
    RedisEmitter::builder(server.url())
        .queue("api")
        .build()
        .await
        .unwrap()
}

async fn drained(emitter: &RedisEmitter) {
    wait::until("the queue to drain", Duration::from_secs(10), || async {
        let s = emitter.queue_stats().await.map_err(|e| e.to_string())?;
        (s.pending == 0 && s.lag == 0)
            .then_some(())
            .ok_or(format!("{s:?}"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_events_and_events_without_a_payload_reach_their_handlers() {
    let server = RedisServer::start();
    let emitter = api_emitter(&server).await;
    let got = Arc::new(Mutex::new(Vec::new()));
    let linker = ventus::EventLinker::builder().build().unwrap();
    let g = got.clone();
    linker
        .on_event::<Shipped>()
        .subscribe(move |s: &Shipped| g.lock().unwrap().push(format!("shipped {}", s.parcels)))
        .unwrap();
    let g = got.clone();
    linker
        .on("ping")
        .subscribe(move || g.lock().unwrap().push("ping".to_owned()))
        .unwrap();
    let (handle, run) = start(&server, &linker, |b| b.event::<Shipped>()).await;
    emitter.emit_event(&Shipped { parcels: 3 }).await.unwrap();
    emitter.emit("ping").await.unwrap();
    drained(&emitter).await;
    handle.shutdown();
    let report = run.await.unwrap();
    let mut got = got.lock().unwrap().clone();
    got.sort();
    assert_eq!(got, ["ping", "shipped 3"]);
    assert_eq!(report.metrics.acked, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_emissions_keep_their_order_per_key_across_partitions() {
    let server = RedisServer::start();
    let emitter = RedisEmitter::builder(server.url())
        .queue("api")
        .partitions(4)
        .build()
        .await
        .unwrap();
    let seen: Arc<Mutex<HashMap<String, Vec<u32>>>> = Arc::default();
    let linker = ventus::EventLinker::builder().build().unwrap();
    let s = seen.clone();
    linker
        .on("step")
        .subscribe(move |(key, n): &(String, u32)| {
            s.lock().unwrap().entry(key.clone()).or_default().push(*n);
        })
        .unwrap();
    let (handle, run) = start(&server, &linker, |b| {
        b.partitions(4)
            .concurrency(1)
            .decode::<(String, u32)>("step")
    })
    .await;
    let keys = ["alpha", "beta", "gamma", "delta", "epsilon"];
    for n in 0..20_u32 {
        for key in keys {
            emitter
                .emit_keyed(key, "step", &(key.to_owned(), n))
                .await
                .unwrap();
        }
    }
    drained(&emitter).await;
    handle.shutdown();
    run.await.unwrap();
    let seen = seen.lock().unwrap().clone();
    for key in keys {
        assert_eq!(seen[key], (0..20).collect::<Vec<_>>(), "order of {key}");
    }
    // Each key's 20 emissions went to one stream; the keys spread over several.
    let mut conn = server
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut lens = Vec::new();
    for p in 0..4 {
        let len: u64 = redis::cmd("XLEN")
            .arg(format!("ventus:{{api:{p}}}:s"))
            .query_async(&mut conn)
            .await
            .unwrap();
        lens.push(len);
    }
    assert_eq!(lens.iter().sum::<u64>(), 100);
    assert!(lens.iter().all(|l| l % 20 == 0), "{lens:?}");
    assert!(lens.iter().filter(|&&l| l > 0).count() >= 2, "{lens:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emission_made_in_a_workers_handler_continues_the_trace() {
    let server = RedisServer::start();
    let emitter = api_emitter(&server).await;
    let traces = Arc::new(Mutex::new(Vec::new()));
    let linker = ventus::EventLinker::builder().build().unwrap();
    let (t, e) = (traces.clone(), emitter.clone());
    linker
        .on("first")
        .subscribe(move || {
            let (t, e) = (t.clone(), e.clone());
            async move {
                let d = Delivery::current().unwrap();
                t.lock().unwrap().push(d.traceparent().unwrap().to_owned());
                e.emit("second").await.map(drop)
            }
        })
        .unwrap();
    let t = traces.clone();
    linker
        .on("second")
        .subscribe(move || {
            let d = Delivery::current().unwrap();
            t.lock().unwrap().push(d.traceparent().unwrap().to_owned());
        })
        .unwrap();
    let (handle, run) = start(&server, &linker, |b| b).await;
    emitter.emit("first").await.unwrap();
    wait::until("both handlers", Duration::from_secs(10), || async {
        let n = traces.lock().unwrap().len();
        (n == 2).then_some(()).ok_or(format!("{n} ran"))
    })
    .await;
    handle.shutdown();
    run.await.unwrap();
    let traces = traces.lock().unwrap();
    let trace_id = |tp: &str| tp.split('-').nth(1).unwrap().to_owned();
    let span_id = |tp: &str| tp.split('-').nth(2).unwrap().to_owned();
    assert_eq!(
        trace_id(&traces[0]),
        trace_id(&traces[1]),
        "one trace: {traces:?}"
    );
    assert_ne!(
        span_id(&traces[0]),
        span_id(&traces[1]),
        "a new span for the hop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_that_does_not_decode_is_dead_lettered_at_once_and_a_missing_decoder_retries() {
    let server = RedisServer::start();
    let emitter = api_emitter(&server).await;
    let linker = ventus::EventLinker::builder().build().unwrap();
    linker.on("count").subscribe(|_: &u32| ()).unwrap();
    linker.on("unknown").subscribe(|_: &u32| ()).unwrap();
    let (handle, run) = start(&server, &linker, |b| {
        b.decode::<u32>("count").max_deliveries(2)
    })
    .await;
    emitter.emit_with("count", &"not a number").await.unwrap();
    emitter.emit_with("unknown", &5_u32).await.unwrap();
    let dlq = DeadLetters::connect(&server.url(), "api", 1).await.unwrap();
    let letters = wait::until("two dead letters", Duration::from_secs(10), || async {
        let l = dlq.list(10).await.map_err(|e| e.to_string())?;
        (l.len() == 2).then_some(l).ok_or("fewer".to_owned())
    })
    .await;
    handle.shutdown();
    run.await.unwrap();
    let by_reason: HashMap<&str, &ventus_redis::DeadLetter> =
        letters.iter().map(|l| (l.reason.as_str(), l)).collect();
    let undecodable = by_reason["undecodable"];
    assert_eq!(undecodable.attempts, 1);
    assert!(
        undecodable.error.contains("does not deserialise"),
        "{}",
        undecodable.error
    );
    let failed = by_reason["failed"];
    assert_eq!(failed.attempts, 2, "retried up to max_deliveries");
    assert!(
        failed.error.contains("no decoder for event `unknown`"),
        "{}",
        failed.error
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error() {
    let server = RedisServer::start();
    let emitter = api_emitter(&server).await;
    let err = emitter.emit("").await.unwrap_err();
    assert!(matches!(err, RemoteEmitError::InvalidEvent { .. }), "{err}");
    assert!(!err.may_be_enqueued());
    let long = "e".repeat(ventus_redis::MAX_EVENT_LEN + 1);
    assert!(matches!(
        emitter.emit(&long).await,
        Err(RemoteEmitError::InvalidEvent { .. })
    ));
    let mut bad = HashMap::new();
    bad.insert((1, 2), "tuple keys do not make JSON object keys");
    let err = emitter.emit_with("map", &bad).await.unwrap_err();
    assert!(matches!(err, RemoteEmitError::Serialize { .. }), "{err}");
    assert!(err.to_string().contains("does not serialise"), "{err}");
    assert_eq!(emitter.metrics().emitted, 0, "nothing was sent");

    for queue in ["", "has space", "{tag}"] {
        let err = RedisEmitter::builder(server.url())
            .queue(queue)
            .build()
            .await
            .unwrap_err();
        assert!(matches!(err, ConfigError::InvalidQueue { .. }), "{err}");
    }
    let err = Worker::builder(server.url())
        .concurrency(0)
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("concurrency(0)"), "{err}");
    let err = Worker::builder(server.url())
        .max_deliveries(0)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ConfigError::InvalidSetting {
            setting: "max_deliveries",
            ..
        }
    ));
    let err = RedisEmitter::builder("not a url")
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, ConfigError::InvalidUrl(_)), "{err}");

    // A port nobody listens on: refused fast, with what to do.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let err = RedisEmitter::builder(format!("redis://127.0.0.1:{port}/"))
        .build()
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("unreachable"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_dead_letter_runs_only_the_handlers_that_did_not_finish() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let server = RedisServer::start();
    let emitter = api_emitter(&server).await;
    let linker = ventus::EventLinker::builder().build().unwrap();
    let (steady, flaky) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let healed = Arc::new(AtomicBool::new(false));
    let s = steady.clone();
    linker
        .on("order")
        .name("steady")
        .subscribe(move |_: &u32| {
            s.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let (f, h) = (flaky.clone(), healed.clone());
    linker
        .on("order")
        .name("flaky")
        .subscribe(move |_: &u32| {
            f.fetch_add(1, Ordering::SeqCst);
            if h.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err("the mail server is down")
            }
        })
        .unwrap();
    let (handle, run) = start(&server, &linker, |b| {
        b.decode::<u32>("order").max_deliveries(1)
    })
    .await;
    emitter.emit_with("order", &1_u32).await.unwrap();
    let dlq = DeadLetters::connect(&server.url(), "api", 1).await.unwrap();
    let letter = wait::until("a dead letter", Duration::from_secs(10), || async {
        let l = dlq.list(10).await.map_err(|e| e.to_string())?;
        l.into_iter().next().ok_or("none yet".to_owned())
    })
    .await;
    assert_eq!(
        (steady.load(Ordering::SeqCst), flaky.load(Ordering::SeqCst)),
        (1, 1)
    );
    healed.store(true, Ordering::SeqCst);
    dlq.replay(&letter.id).await.unwrap();
    drained(&emitter).await;
    handle.shutdown();
    let report = run.await.unwrap();
    assert_eq!(
        steady.load(Ordering::SeqCst),
        1,
        "its completion was recorded: skipped"
    );
    assert_eq!(flaky.load(Ordering::SeqCst), 2, "it runs once more");
    assert_eq!(report.metrics.handled, 2, "one completion per handler");
    assert_eq!(dlq.list(10).await.unwrap().len(), 0);
}
