//! R1–R3 (`--redis`): ventus-redis against raw redis-rs, on a private `redis-server`.
//!
//! The bench starts its own server (`--port <free> --save "" --appendonly no --bind
//! 127.0.0.1`, ready once its log says so, killed on drop) and flushes it before every
//! round. Everything runs on one 2-worker multi-thread runtime: the emitting tasks, the
//! four workers (or the floor's four consumers), the server's connections.
//!
//! * R1: N emissions sent in batches of [`BATCH`] by [`SENDERS`] concurrent tasks
//!   through a `RedisEmitter`, run by four `ventus_redis::Worker`s (concurrency 64) whose
//!   sync handler counts into an atomic; timed from the first send to the N-th handler
//!   run (a `Notify`, no polling). Floor F6: `XADD` pipelines of the same size carrying
//!   the same fields and bytes, and four consumers each looping `XREADGROUP COUNT 64
//!   BLOCK` + a pipeline of one `XACK` per entry, counting each entry before its ack.
//! * R2: `emit_with` awaited one by one, against one raw `XADD` of the same fields
//!   awaited one by one.
//! * R3: emit → handler latency at a fixed 1 000 emissions/s: the emitter stamps the
//!   send time (ns since a shared `Instant`) in the payload, the handler records
//!   `now - sent`; p99 against the fixed 10 000 µs target.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::streams::StreamReadReply;
use redis::{AsyncConnectionConfig, Value};
use tokio::runtime::Runtime;
use tokio::sync::Notify;
use ventus::EventLinker;
use ventus_redis::{RedisEmitter, Worker, WorkerHandle, WorkerReport};

use crate::harness::{fail, failure_count, interleave, leak_counter, Samples, Settings};
use crate::report::{Row, Target};

/// Emissions per `Batch::send` (R1) and `XADD`s per pipeline (F6).
const BATCH: usize = 100;
/// Concurrent sending tasks (R1, F6).
const SENDERS: usize = 4;
/// Workers (ventus) and consumers (F6).
const WORKERS: usize = 4;
/// Each worker's concurrency, and the floor consumers' `XREADGROUP COUNT`.
const CONCURRENCY: usize = 64;
/// How long a read blocks; also bounds how long a floor consumer takes to stop.
const BLOCK: Duration = Duration::from_millis(100);
/// The queue ventus uses, and the floor's stream and group.
const QUEUE: &str = "bench";
const FLOOR_STREAM: &str = "floor:stream";
const FLOOR_GROUP: &str = "floor";
/// R3's rate and its fixed target.
const R3_RATE: u64 = 1_000;
const R3_TARGET_US: f64 = 10_000.0;
/// A `traceparent` of the length the emitter writes (the floors carry the same bytes).
const TRACEPARENT: &str = "00-0192b3c4d5e6f708192a3b4c5d6e7f80-8192a3b4c5d6e7f8-01";

// ---------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------

/// A private `redis-server`, killed on drop.
pub(crate) struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Starts one on a free loopback port; `Err` says why not (e.g. no `redis-server`).
    pub(crate) fn start() -> Result<Self, String> {
        let mut last = String::new();
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free loopback port: {e}"))?
                .port();
            match Self::launch(port) {
                Ok(server) => return Ok(server),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn launch(port: u16) -> Result<Self, String> {
        let mut child = Command::new("redis-server")
            .arg("--port")
            .arg(port.to_string())
            .args(["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        let out = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel::<String>();
        // Reads the log to its end (so the server never blocks on a full pipe), sending
        // each line while the bench listens.
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut log = VecDeque::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("Ready to accept connections") => {
                    return Ok(Self { child, port });
                }
                Ok(line) => {
                    if log.len() == 20 {
                        log.pop_front();
                    }
                    log.push_back(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log: Vec<String> = log.into();
                    return Err(format!(
                        "redis-server on port {port} did not get ready:\n{}",
                        log.join("\n")
                    ));
                }
            }
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------

/// The bench's clock: payload stamps are nanoseconds since this.
fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

fn nanos() -> u64 {
    base().elapsed().as_nanos() as u64
}

async fn connect(url: &str) -> MultiplexedConnection {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(BLOCK + Duration::from_secs(5)));
    redis::Client::open(url)
        .expect("redis url")
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("connect to the bench's redis-server")
}

async fn flush(conn: &mut MultiplexedConnection) {
    let r: redis::RedisResult<()> = redis::cmd("FLUSHDB").query_async(conn).await;
    if let Err(e) = r {
        fail(format!("R: FLUSHDB failed: {e}"));
    }
}

/// The fields a floor entry carries: those of an unsigned ventus envelope with the same
/// payload (`v`, `id`, `event`, `ts_ms`, `ct`, `payload`, `tp`), of the same lengths.
fn floor_fields(seq: u64, event: &str, payload: u64) -> [(&'static str, Vec<u8>); 7] {
    let id = format!(
        "{:08x}-0000-7000-8000-{:012x}",
        (seq >> 48) as u32,
        seq & 0xffff_ffff_ffff
    );
    let ts_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    [
        ("v", b"1".to_vec()),
        ("id", id.into_bytes()),
        ("event", event.as_bytes().to_vec()),
        ("ts_ms", ts_ms.to_string().into_bytes()),
        ("ct", b"application/json".to_vec()),
        ("payload", payload.to_string().into_bytes()),
        ("tp", TRACEPARENT.as_bytes().to_vec()),
    ]
}

fn xadd(stream: &str, fields: &[(&'static str, Vec<u8>)]) -> redis::Cmd {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(stream).arg("*");
    for (k, v) in fields {
        cmd.arg(*k).arg(&v[..]);
    }
    cmd
}

/// Counts handler runs and wakes the timer at the expected count.
struct Counter {
    count: &'static AtomicU64,
    expect: AtomicU64,
    done: Notify,
}

impl Counter {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            count: leak_counter(),
            expect: AtomicU64::new(u64::MAX),
            done: Notify::new(),
        })
    }

    /// Starts a round expecting `n` more runs; returns the count before it.
    fn arm(&self, n: u64) -> u64 {
        let before = self.count.load(Ordering::SeqCst);
        self.expect.store(before + n, Ordering::SeqCst);
        before
    }

    fn add(&self, k: u64) {
        let now = self.count.fetch_add(k, Ordering::Relaxed) + k;
        let expect = self.expect.load(Ordering::Relaxed);
        if now - k < expect && now >= expect {
            // Stores a permit if the timer does not wait yet: no wake-up is lost.
            self.done.notify_one();
        }
    }

    fn get(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }
}

/// Four workers on the queue with `linker`'s handlers for `event` (payload `u64`).
async fn start_workers(
    url: &str,
    linker: &EventLinker,
    event: &str,
) -> Vec<(WorkerHandle, tokio::task::JoinHandle<WorkerReport>)> {
    let mut workers = Vec::with_capacity(WORKERS);
    for _ in 0..WORKERS {
        let worker = Worker::builder(url)
            .linker(linker)
            .queue(QUEUE)
            .decode::<u64>(event)
            .concurrency(CONCURRENCY)
            .block(BLOCK)
            .build()
            .await
            .expect("build a worker");
        let handle = worker.handle();
        let run = tokio::spawn(worker.run_until(std::future::pending()));
        workers.push((handle, run));
    }
    workers
}

/// Stops the workers (each waits for what it runs) and checks that together they handled
/// and acked exactly `n` emissions, with nothing retried or dead-lettered, and that the
/// queue holds nothing pending, undelivered, trimmed or dead.
async fn stop_workers(
    what: &str,
    workers: Vec<(WorkerHandle, tokio::task::JoinHandle<WorkerReport>)>,
    n: u64,
) {
    for (handle, _) in &workers {
        handle.shutdown();
    }
    let stats_handle = workers[0].0.clone();
    let (mut handled, mut acked, mut retried, mut dead) = (0, 0, 0, 0);
    for (_, run) in workers {
        let report = run.await.expect("worker task");
        handled += report.metrics.handled;
        acked += report.metrics.acked;
        retried += report.metrics.retried;
        dead += report.metrics.dead_lettered;
        if !report.left_pending.is_empty() {
            fail(format!(
                "{what}: a worker left {} entries pending",
                report.left_pending.len()
            ));
        }
    }
    if handled != n || acked != n || retried != 0 || dead != 0 {
        fail(format!(
            "{what}: workers handled {handled}, acked {acked}, retried {retried}, \
             dead-lettered {dead} of {n} emissions"
        ));
    }
    match stats_handle.queue_stats().await {
        Ok(s) if s.pending == 0 && s.lag == 0 && s.lost_to_trim == 0 && s.dead_letters == 0 => {}
        Ok(s) => fail(format!("{what}: queue not drained: {s:?}")),
        Err(e) => fail(format!("{what}: queue stats: {e}")),
    }
}

// ---------------------------------------------------------------------------------------
// R1 / F6
// ---------------------------------------------------------------------------------------

/// One ventus round of R1: ns per emission, end to end.
fn r1_ventus(rt: &Runtime, url: &str, n: usize) -> f64 {
    rt.block_on(async {
        flush(&mut connect(url).await).await;
        let counter = Counter::new();
        let linker = EventLinker::builder().build().expect("linker");
        let c = counter.clone();
        linker
            .on("Tick")
            .subscribe(move |_n: &u64| c.add(1))
            .expect("subscribe");
        let emitter = RedisEmitter::builder(url)
            .queue(QUEUE)
            .build()
            .await
            .expect("build the emitter");
        let workers = start_workers(url, &linker, "Tick").await;
        counter.arm(n as u64);
        let batches = n / BATCH;
        let started = Instant::now();
        let mut senders = Vec::with_capacity(SENDERS);
        for s in 0..SENDERS {
            let emitter = emitter.clone();
            let share = batches / SENDERS + usize::from(s < batches % SENDERS);
            senders.push(tokio::spawn(async move {
                for b in 0..share {
                    let mut batch = emitter.batch();
                    for i in 0..BATCH {
                        let v = (b * BATCH + i) as u64;
                        if batch.add("Tick", &v).is_err() {
                            fail("R1: Batch::add refused an emission");
                        }
                    }
                    if let Err(e) = batch.send().await {
                        fail(format!("R1: Batch::send failed: {e}"));
                    }
                }
            }));
        }
        for s in senders {
            s.await.expect("sender task");
        }
        wait_for(&counter, "R1 (ventus)").await;
        let elapsed = started.elapsed();
        stop_workers("R1 (ventus)", workers, n as u64).await;
        let ran = counter.get();
        if ran != n as u64 {
            fail(format!("R1 (ventus): {ran} handler runs for {n} emissions"));
        }
        elapsed.as_nanos() as f64 / n as f64
    })
}

/// Waits (bounded, so a lost emission fails the run instead of hanging it) for the
/// counter to reach what it was armed for.
async fn wait_for(counter: &Counter, what: &str) {
    if tokio::time::timeout(Duration::from_secs(60), counter.done.notified())
        .await
        .is_err()
    {
        fail(format!(
            "{what}: only {} of {} handler runs after 60 s",
            counter.get(),
            counter.expect.load(Ordering::SeqCst)
        ));
    }
}

/// A floor consumer: `XREADGROUP COUNT 64 BLOCK`, decode and count each entry, then one
/// pipeline of an `XACK` per entry, until `stop`.
async fn floor_consumer(
    url: String,
    name: String,
    stop: Arc<AtomicBool>,
    handle: Arc<dyn Fn(u64) + Send + Sync>,
) -> u64 {
    let mut conn = connect(&url).await;
    let mut acked = 0;
    while !stop.load(Ordering::Relaxed) {
        let reply: Option<StreamReadReply> = match redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(FLOOR_GROUP)
            .arg(&name)
            .arg("COUNT")
            .arg(CONCURRENCY)
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(FLOOR_STREAM)
            .arg(">")
            .query_async(&mut conn)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                fail(format!("F6: XREADGROUP failed: {e}"));
                return acked;
            }
        };
        let Some(reply) = reply else { continue };
        let mut pipe = redis::pipe();
        let mut k = 0;
        for stream in reply.keys {
            for entry in stream.ids {
                let payload = match entry.map.get("payload") {
                    Some(Value::BulkString(b)) => serde_json::from_slice::<u64>(b).ok(),
                    _ => None,
                };
                match payload {
                    Some(v) => handle(v),
                    None => fail("F6: an entry without a u64 payload"),
                }
                pipe.xack(FLOOR_STREAM, FLOOR_GROUP, &[&entry.id]).ignore();
                k += 1;
            }
        }
        if k > 0 {
            match pipe.query_async::<()>(&mut conn).await {
                Ok(()) => acked += k,
                Err(e) => fail(format!("F6: XACK failed: {e}")),
            }
        }
    }
    acked
}

async fn floor_group(conn: &mut MultiplexedConnection) {
    let r: redis::RedisResult<()> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(FLOOR_STREAM)
        .arg(FLOOR_GROUP)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(conn)
        .await;
    if let Err(e) = r {
        fail(format!("F6: XGROUP CREATE failed: {e}"));
    }
}

fn start_consumers(
    url: &str,
    handle: &Arc<dyn Fn(u64) + Send + Sync>,
) -> (Arc<AtomicBool>, Vec<tokio::task::JoinHandle<u64>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let consumers = (0..WORKERS)
        .map(|i| {
            tokio::spawn(floor_consumer(
                url.to_owned(),
                format!("c{i}"),
                stop.clone(),
                handle.clone(),
            ))
        })
        .collect();
    (stop, consumers)
}

/// Stops the floor's consumers and checks they acked exactly `n` entries and none is
/// pending or undelivered.
async fn stop_consumers(
    what: &str,
    conn: &mut MultiplexedConnection,
    stop: Arc<AtomicBool>,
    consumers: Vec<tokio::task::JoinHandle<u64>>,
    n: u64,
) {
    stop.store(true, Ordering::Relaxed);
    let mut acked = 0;
    for c in consumers {
        acked += c.await.expect("consumer task");
    }
    let pending: redis::streams::StreamPendingReply = match redis::cmd("XPENDING")
        .arg(FLOOR_STREAM)
        .arg(FLOOR_GROUP)
        .query_async(conn)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            fail(format!("{what}: XPENDING failed: {e}"));
            return;
        }
    };
    if acked != n || pending.count() != 0 {
        fail(format!(
            "{what}: consumers acked {acked} of {n}, {} pending",
            pending.count()
        ));
    }
}

/// One floor round of R1: ns per emission, end to end.
fn r1_floor(rt: &Runtime, url: &str, n: usize) -> f64 {
    rt.block_on(async {
        let mut admin = connect(url).await;
        flush(&mut admin).await;
        floor_group(&mut admin).await;
        let counter = Counter::new();
        let c = counter.clone();
        let handle: Arc<dyn Fn(u64) + Send + Sync> = Arc::new(move |_v| c.add(1));
        let (stop, consumers) = start_consumers(url, &handle);
        counter.arm(n as u64);
        let batches = n / BATCH;
        let started = Instant::now();
        let conn = connect(url).await;
        let mut senders = Vec::with_capacity(SENDERS);
        for s in 0..SENDERS {
            let mut conn = conn.clone();
            let share = batches / SENDERS + usize::from(s < batches % SENDERS);
            senders.push(tokio::spawn(async move {
                for b in 0..share {
                    let mut pipe = redis::pipe();
                    for i in 0..BATCH {
                        let v = (b * BATCH + i) as u64;
                        let seq = ((s as u64) << 40) | v;
                        pipe.add_command(xadd(FLOOR_STREAM, &floor_fields(seq, "Tick", v)));
                    }
                    if let Err(e) = pipe.query_async::<Vec<Value>>(&mut conn).await {
                        fail(format!("F6: XADD pipeline failed: {e}"));
                    }
                }
            }));
        }
        for s in senders {
            s.await.expect("sender task");
        }
        wait_for(&counter, "R1 (F6)").await;
        let elapsed = started.elapsed();
        stop_consumers("R1 (F6)", &mut admin, stop, consumers, n as u64).await;
        let ran = counter.get();
        if ran != n as u64 {
            fail(format!("R1 (F6): {ran} handler runs for {n} entries"));
        }
        elapsed.as_nanos() as f64 / n as f64
    })
}

// ---------------------------------------------------------------------------------------
// R2
// ---------------------------------------------------------------------------------------

fn r2_ventus(rt: &Runtime, url: &str, n: usize) -> f64 {
    rt.block_on(async {
        flush(&mut connect(url).await).await;
        let emitter = RedisEmitter::builder(url)
            .queue(QUEUE)
            .build()
            .await
            .expect("build the emitter");
        let started = Instant::now();
        for i in 0..n as u64 {
            if let Err(e) = emitter.emit_with("Tick", &i).await {
                fail(format!("R2 (ventus): emit failed: {e}"));
            }
        }
        let ns = started.elapsed().as_nanos() as f64 / n as f64;
        let emitted = emitter.metrics().emitted;
        if emitted != n as u64 {
            fail(format!("R2 (ventus): {emitted} emitted of {n}"));
        }
        ns
    })
}

fn r2_floor(rt: &Runtime, url: &str, n: usize) -> f64 {
    rt.block_on(async {
        let mut conn = connect(url).await;
        flush(&mut conn).await;
        let started = Instant::now();
        for i in 0..n as u64 {
            let r: redis::RedisResult<String> = xadd(FLOOR_STREAM, &floor_fields(i, "Tick", i))
                .query_async(&mut conn)
                .await;
            if let Err(e) = r {
                fail(format!("R2 (floor): XADD failed: {e}"));
            }
        }
        let ns = started.elapsed().as_nanos() as f64 / n as f64;
        let len: redis::RedisResult<u64> = redis::cmd("XLEN")
            .arg(FLOOR_STREAM)
            .query_async(&mut conn)
            .await;
        if len.as_ref().ok() != Some(&(n as u64)) {
            fail(format!("R2 (floor): stream length {len:?} after {n} XADDs"));
        }
        ns
    })
}

// ---------------------------------------------------------------------------------------
// R3
// ---------------------------------------------------------------------------------------

/// p50 and p99 (µs) of `lat` (ns).
fn percentiles(lat: &mut [u64]) -> (f64, f64) {
    lat.sort_unstable();
    let at = |q: usize| {
        lat.get((lat.len() * q / 100).min(lat.len().saturating_sub(1)))
            .map_or(f64::NAN, |&v| v as f64 / 1_000.0)
    };
    (at(50), at(99))
}

/// Latencies (ns) of `n` emissions at [`R3_RATE`] through ventus.
fn r3_ventus(rt: &Runtime, url: &str, n: usize) -> Vec<u64> {
    rt.block_on(async {
        flush(&mut connect(url).await).await;
        let counter = Counter::new();
        let lat = Arc::new(Mutex::new(Vec::with_capacity(n)));
        let linker = EventLinker::builder().build().expect("linker");
        let (c, l) = (counter.clone(), lat.clone());
        linker
            .on("Lat")
            .subscribe(move |sent: &u64| {
                let now = nanos();
                l.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(now.saturating_sub(*sent));
                c.add(1);
            })
            .expect("subscribe");
        let emitter = RedisEmitter::builder(url)
            .queue(QUEUE)
            .build()
            .await
            .expect("build the emitter");
        let workers = start_workers(url, &linker, "Lat").await;
        counter.arm(n as u64);
        let mut tick = tokio::time::interval(Duration::from_secs(1) / R3_RATE as u32);
        for _ in 0..n {
            tick.tick().await;
            if let Err(e) = emitter.emit_with("Lat", &nanos()).await {
                fail(format!("R3 (ventus): emit failed: {e}"));
            }
        }
        wait_for(&counter, "R3 (ventus)").await;
        stop_workers("R3 (ventus)", workers, n as u64).await;
        let lat = std::mem::take(&mut *lat.lock().unwrap_or_else(|e| e.into_inner()));
        lat
    })
}

/// Latencies (ns) of `n` entries at [`R3_RATE`] through F6's consumers (context).
fn r3_floor(rt: &Runtime, url: &str, n: usize) -> Vec<u64> {
    rt.block_on(async {
        let mut admin = connect(url).await;
        flush(&mut admin).await;
        floor_group(&mut admin).await;
        let counter = Counter::new();
        let lat = Arc::new(Mutex::new(Vec::with_capacity(n)));
        let (c, l) = (counter.clone(), lat.clone());
        let handle: Arc<dyn Fn(u64) + Send + Sync> = Arc::new(move |sent| {
            let now = nanos();
            l.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(now.saturating_sub(sent));
            c.add(1);
        });
        let (stop, consumers) = start_consumers(url, &handle);
        counter.arm(n as u64);
        let mut conn = connect(url).await;
        let mut tick = tokio::time::interval(Duration::from_secs(1) / R3_RATE as u32);
        for i in 0..n as u64 {
            tick.tick().await;
            let r: redis::RedisResult<String> =
                xadd(FLOOR_STREAM, &floor_fields(i, "Lat", nanos()))
                    .query_async(&mut conn)
                    .await;
            if let Err(e) = r {
                fail(format!("R3 (floor): XADD failed: {e}"));
            }
        }
        wait_for(&counter, "R3 (floor)").await;
        stop_consumers("R3 (floor)", &mut admin, stop, consumers, n as u64).await;
        let lat = std::mem::take(&mut *lat.lock().unwrap_or_else(|e| e.into_inner()));
        lat
    })
}

// ---------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn rounds(s: &Settings) -> usize {
    if s.quick {
        3
    } else {
        5
    }
}

/// R1 and its rate row.
pub(crate) fn r1(s: &Settings, server: &Server) -> Vec<Row> {
    let failures_before = failure_count();
    let rt = runtime();
    let url = server.url();
    let n = if s.quick { 20_000 } else { 100_000 };
    // Warm-up (connections, scripts, allocator), checked and not kept.
    r1_ventus(&rt, &url, n / 10);
    r1_floor(&rt, &url, n / 10);
    let samples = interleave(
        rounds(s),
        || r1_ventus(&rt, &url, n),
        || r1_floor(&rt, &url, n),
    );
    let valid = failure_count() == failures_before;
    let rate = |ns: f64| 1e9 / ns;
    let param = format!(
        "N={n}, {SENDERS} senders × batches of {BATCH}, {WORKERS} workers × concurrency {CONCURRENCY}"
    );
    let mut row = Row::timing(
        "R1",
        param.clone(),
        &samples,
        "F6",
        Target::RatioAtMost(1.5),
    )
    .note(format!(
        "ns per emission, first send to last handler run; emissions/s: ventus {:.0}, F6 {:.0}",
        rate(samples.ventus_median()),
        rate(samples.floor_median())
    ));
    row.valid = valid;
    let fixed = Samples {
        ventus: samples.ventus.clone(),
        floor: vec![10_000.0; samples.ventus.len()],
    };
    let mut rate_row = Row::timing(
        "R1 rate",
        param,
        &fixed,
        "100 000 emissions/s (10 µs each)",
        Target::RatioAtMost(1.0),
    )
    .note(format!(
        "ventus {:.0} emissions/s end to end",
        rate(samples.ventus_median())
    ));
    rate_row.valid = valid;
    vec![row, rate_row]
}

/// R2: one-by-one awaited emits.
pub(crate) fn r2(s: &Settings, server: &Server) -> Vec<Row> {
    let failures_before = failure_count();
    let rt = runtime();
    let url = server.url();
    let n = if s.quick { 2_000 } else { 10_000 };
    r2_ventus(&rt, &url, n / 10);
    r2_floor(&rt, &url, n / 10);
    let samples = interleave(
        rounds(s) + 2,
        || r2_ventus(&rt, &url, n),
        || r2_floor(&rt, &url, n),
    );
    let mut row = Row::timing(
        "R2",
        format!("N={n}, awaited one by one"),
        &samples,
        "raw XADD awaited",
        Target::RatioAtMost(1.3),
    )
    .note(
        "ns per emit: `emit_with` (one pipeline: `XADD`, `XLEN`) against one XADD of the same fields",
    );
    row.valid = failure_count() == failures_before;
    vec![row]
}

/// R3: emit → handler latency at a fixed rate.
pub(crate) fn r3(s: &Settings, server: &Server) -> Vec<Row> {
    let failures_before = failure_count();
    let rt = runtime();
    let url = server.url();
    let secs = if s.quick { 1 } else { 3 };
    let n = (R3_RATE * secs) as usize;
    let mut ventus = r3_ventus(&rt, &url, n);
    let mut floor = r3_floor(&rt, &url, n);
    let (v50, v99) = percentiles(&mut ventus);
    let (f50, f99) = percentiles(&mut floor);
    let samples = Samples {
        ventus: vec![v99],
        floor: vec![R3_TARGET_US],
    };
    let mut row = Row::timing(
        "R3",
        format!("{R3_RATE}/s for {secs} s, {WORKERS} workers"),
        &samples,
        "10 000 µs target",
        Target::RatioAtMost(1.0),
    )
    .note(format!(
        "p99 emit → handler; p50 {v50:.0} µs; raw XADD → XREADGROUP consumer (F6's kind): p50 {f50:.0} µs, p99 {f99:.0} µs"
    ));
    row.unit = "µs";
    row.valid = failure_count() == failures_before;
    vec![row]
}
