//! H1, H2 (`--axum`): an axum handler that emits one event through ventus-axum, against
//! the same handler doing the handler's work itself, without ventus.
//!
//! Two servers on loopback ports of one 2-worker multi-thread runtime: the ventus app
//! (`BackgroundEmitter` extractor, `VentusLayer`, one `emit_with("Hit", 1_u64)` per
//! request, whose sync handler adds to a counter after the response) and the floor app
//! (no layer, no extractor; the handler adds to the counter itself). A round sends N
//! requests over C keep-alive HTTP/1 connections of a hyper client on the same runtime,
//! each connection one request after the other, and measures the round's wall time
//! (H1: ns per request, the inverse of requests/s) and the 99th percentile of the
//! requests' latencies (H2). Rounds alternate which app goes first. After every ventus
//! round, `Background::wait_for_tasks` waits for the emissions, and each app's counter
//! must have grown by exactly N.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use ventus::{EventLinker, TokioEventEmitter};
use ventus_axum::{Background, BackgroundEmitter, VentusLayer};

use crate::harness::{fail, failure_count, leak_counter, median, Samples, Settings};
use crate::report::{Row, Target};

/// Connections of the client.
const CONNECTIONS: usize = 8;

async fn hit(emitter: BackgroundEmitter) -> &'static str {
    if emitter.emit_with("Hit", 1_u64).is_err() {
        fail("H: an emission was refused");
    }
    "ok"
}

async fn hit_floor(State(count): State<&'static AtomicU64>) -> &'static str {
    count.fetch_add(1, Ordering::Relaxed);
    "ok"
}

async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// One round: `n` GETs over [`CONNECTIONS`] connections. Returns (ns per request, p99
/// latency in ns).
async fn round(addr: SocketAddr, n: usize) -> (f64, f64) {
    let mut senders = Vec::with_capacity(CONNECTIONS);
    let mut conns = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        conns.push(tokio::spawn(async move {
            let _ = conn.await;
        }));
        senders.push(sender);
    }
    let started = Instant::now();
    let mut clients = Vec::with_capacity(CONNECTIONS);
    for (c, mut sender) in senders.into_iter().enumerate() {
        let share = n / CONNECTIONS + usize::from(c < n % CONNECTIONS);
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for _ in 0..share {
                let t = Instant::now();
                let request = hyper::Request::get("/hit")
                    .header("host", "127.0.0.1")
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                let ok = match sender.ready().await {
                    Ok(()) => match sender.send_request(request).await {
                        Ok(response) => {
                            let status = response.status();
                            response.into_body().collect().await.is_ok() && status.is_success()
                        }
                        Err(_) => false,
                    },
                    Err(_) => false,
                };
                if !ok {
                    fail("H: a request failed");
                }
                latencies.push(t.elapsed().as_nanos() as f64);
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(n);
    for client in clients {
        latencies.extend(client.await.expect("client task"));
    }
    let elapsed = started.elapsed();
    for conn in conns {
        conn.abort();
    }
    latencies.sort_by(f64::total_cmp);
    let p99 = latencies
        .get((latencies.len() * 99 / 100).min(latencies.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN);
    (elapsed.as_nanos() as f64 / n as f64, p99)
}

/// H1 and H2.
pub(crate) fn rows(s: &Settings) -> Vec<Row> {
    let failures_before = failure_count();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let n = if s.quick { 800 } else { 4_000 };
    let (throughput, p99) = runtime.block_on(async {
        let linker = EventLinker::builder().build().expect("linker");
        let ventus_count = leak_counter();
        linker
            .on("Hit")
            .subscribe(move |k: &u64| {
                ventus_count.fetch_add(*k, Ordering::Relaxed);
            })
            .expect("subscribe");
        let background = Background::new(TokioEventEmitter::with_linker(&linker));
        let ventus_app = Router::new()
            .route("/hit", get(hit))
            .layer(VentusLayer::new())
            .with_state(background.clone());
        let floor_count = leak_counter();
        let floor_app = Router::new()
            .route("/hit", get(hit_floor))
            .with_state(floor_count);
        let ventus_addr = serve(ventus_app).await;
        let floor_addr = serve(floor_app).await;

        let check = |what: &str, counter: &AtomicU64, before: u64| {
            let ran = counter.load(Ordering::Relaxed) - before;
            if ran != n as u64 {
                fail(format!("H ({what}): {ran} handler runs for {n} requests"));
            }
        };
        // Warm-up, checked like the rounds.
        for (addr, counter, what) in [
            (ventus_addr, ventus_count, "ventus"),
            (floor_addr, floor_count, "floor"),
        ] {
            let before = counter.load(Ordering::Relaxed);
            round(addr, n).await;
            background.wait_for_tasks().await;
            check(what, counter, before);
        }

        let mut throughput = Samples::default();
        let mut p99 = Samples::default();
        for r in 0..s.rounds {
            for side in [r % 2 == 0, r % 2 != 0] {
                if side {
                    let before = ventus_count.load(Ordering::Relaxed);
                    let (ns, tail) = round(ventus_addr, n).await;
                    background.wait_for_tasks().await;
                    check("ventus", ventus_count, before);
                    throughput.ventus.push(ns);
                    p99.ventus.push(tail);
                } else {
                    let before = floor_count.load(Ordering::Relaxed);
                    let (ns, tail) = round(floor_addr, n).await;
                    check("floor", floor_count, before);
                    throughput.floor.push(ns);
                    p99.floor.push(tail);
                }
            }
        }
        let report = background.shutdown(Duration::from_secs(10)).await;
        if report.cancelled != 0 {
            fail(format!(
                "H: {} emissions cancelled at shutdown",
                report.cancelled
            ));
        }
        let m = background.metrics();
        if m.skipped + m.dropped + m.refused + m.failed != 0 {
            fail(format!("H: emissions lost or failed: {m:?}"));
        }
        (throughput, p99)
    });
    let valid = failure_count() == failures_before;
    let param = format!("1 event/request, {CONNECTIONS} conns, N={n}");
    let floor = "axum handler doing the work, no ventus";
    let rps = |ns: f64| 1e9 / ns;
    let mut h1 = Row::timing("H1", param.clone(), &throughput, floor, Target::RatioAtMost(1.1))
        .note(format!(
            "ns per request (requests/s: ventus {:.0}, floor {:.0}); loopback hyper client on the same 2-worker runtime",
            rps(median(&throughput.ventus)),
            rps(median(&throughput.floor))
        ));
    let mut h2 = Row::timing("H2", param, &p99, floor, Target::None)
        .note("p99 latency of one request (per round, median over rounds)");
    h1.valid = valid;
    h2.valid = valid;
    vec![h1, h2]
}
