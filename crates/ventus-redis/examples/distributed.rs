//! Emissions handled by worker processes through Redis Streams.
//!
//! ```sh
//! cargo run -p ventus-redis --example distributed
//! ```
//!
//! starts a private `redis-server` on a free port (or uses `REDIS_URL` if it is set),
//! starts two worker processes, emits 1 000 emissions, waits until they are handled,
//! stops the workers with SIGTERM and prints how many each handled, then
//! `1000 handled, 0 duplicates, 0 lost`. Each handler run counts itself in Redis, so
//! a duplicate or a lost emission would show.
//!
//! In three terminals, against a server you run (`REDIS_URL`, default
//! `redis://127.0.0.1:6379/`):
//!
//! ```sh
//! cargo run -p ventus-redis --example distributed -- worker      # terminal 1
//! cargo run -p ventus-redis --example distributed -- worker      # terminal 2
//! cargo run -p ventus-redis --example distributed -- emit 1000   # terminal 3
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use ventus::EventLinker;
use ventus_redis::{Delivery, RedisEmitter, Worker};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    n: u32,
}

const EMISSIONS: u32 = 1000;

fn url_from_env() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("worker") => {
            let queue = args.get(1).cloned().unwrap_or_else(|| "demo".into());
            worker(&url_from_env(), &queue).await
        }
        Some("emit") => {
            let n = args
                .get(1)
                .map_or(Ok(EMISSIONS), |s| s.parse())
                .context("emit N")?;
            let emitter = RedisEmitter::builder(url_from_env())
                .queue("demo")
                .build()
                .await?;
            for n in 0..n {
                emitter.emit_with("order.placed", &Order { n }).await?;
            }
            say(&format!("emitted {n}"));
            Ok(())
        }
        Some(other) => {
            bail!("unknown command `{other}`: use `worker [QUEUE]`, `emit [N]` or nothing")
        }
        None => all_in_one().await,
    }
}

/// A worker process: counts each handler run in Redis, by emission id and by worker.
async fn worker(url: &str, queue: &str) -> anyhow::Result<()> {
    let client = redis::Client::open(url)?;
    let conn = client.get_multiplexed_async_connection().await?;
    let runs = format!("demo:{{{queue}}}:runs");
    let by_worker = format!("demo:{{{queue}}}:by-worker");
    let linker = EventLinker::builder().build()?;
    linker
        .on("order.placed")
        .name("count")
        .subscribe(move |_order: Order| {
            let (mut conn, runs, by_worker) = (conn.clone(), runs.clone(), by_worker.clone());
            async move {
                let d = Delivery::current().expect("runs on a worker");
                let pid = std::process::id().to_string();
                conn.hincr::<_, _, _, ()>(&runs, d.id().to_string(), 1)
                    .await?;
                conn.hincr::<_, _, _, ()>(&by_worker, pid, 1).await?;
                Ok::<_, redis::RedisError>(())
            }
        })?;
    let worker = Worker::builder(url)
        .linker(&linker)
        .queue(queue)
        .decode::<Order>("order.placed")
        .build()
        .await?;
    say(&format!("worker {} ready", std::process::id()));
    let report = worker.run().await; // until SIGTERM or Ctrl-C
    say(&format!(
        "worker {} stopped: {} acked, {} left pending",
        std::process::id(),
        report.metrics.acked,
        report.left_pending.len()
    ));
    Ok(())
}

/// Starts (or connects to) a server and two workers, emits, checks, stops.
async fn all_in_one() -> anyhow::Result<()> {
    let (url, _server) = match std::env::var("REDIS_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let server = PrivateServer::start()?;
            (server.url(), Some(server))
        }
    };
    // A queue of its own, so an existing server's other data is left alone.
    let queue = format!("demo-{}", uuid::Uuid::now_v7().simple());
    let mut workers = Vec::new();
    for _ in 0..2 {
        workers.push(WorkerProcess::start(&url, &queue)?);
    }
    let emitter = RedisEmitter::builder(&url).queue(&queue).build().await?;
    let mut ids = Vec::new();
    for chunk in 0..(EMISSIONS / 100) {
        let mut batch = emitter.batch();
        for i in 0..100 {
            ids.push(batch.add("order.placed", &Order { n: chunk * 100 + i })?);
        }
        batch.send().await?;
    }
    say(&format!("emitted {} to queue {queue}", ids.len()));

    let client = redis::Client::open(url.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let runs_key = format!("demo:{{{queue}}}:runs");
    let started = Instant::now();
    loop {
        let stats = emitter.queue_stats().await?;
        if stats.pending == 0 && stats.lag == 0 {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("not drained after 60 s: {stats:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await; // spacing the checks
    }
    for w in &mut workers {
        w.stop()?;
    }
    let by_worker: Vec<(String, u64)> = conn.hgetall(format!("demo:{{{queue}}}:by-worker")).await?;
    for (pid, n) in &by_worker {
        say(&format!("worker {pid} handled {n}"));
    }
    let runs: std::collections::HashMap<String, u64> = conn.hgetall(&runs_key).await?;
    let handled = ids
        .iter()
        .filter(|id| runs.contains_key(&id.to_string()))
        .count();
    let duplicates: u64 = runs.values().map(|n| n - 1).sum();
    let lost = ids.len() - handled;
    let keys: Vec<String> = conn.keys(format!("*{queue}*")).await?;
    if !keys.is_empty() {
        conn.del::<_, ()>(keys).await?;
    }
    say(&format!(
        "{handled} handled, {duplicates} duplicates, {lost} lost"
    ));
    if handled != ids.len() || duplicates != 0 {
        bail!("emissions were lost or duplicated");
    }
    Ok(())
}

/// A worker: this example run again with `worker QUEUE`.
struct WorkerProcess(Child);

impl WorkerProcess {
    fn start(url: &str, queue: &str) -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["worker", queue])
            .env("REDIS_URL", url)
            .stdout(Stdio::piped())
            .spawn()?;
        let mut out = BufReader::new(child.stdout.take().context("worker stdout")?);
        let mut line = String::new();
        out.read_line(&mut line)?;
        if !line.contains("ready") {
            bail!("worker did not start: {line}");
        }
        // Echo the rest of its output.
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                say(&line);
            }
        });
        Ok(Self(child))
    }

    /// SIGTERM, then wait for the graceful exit.
    fn stop(&mut self) -> anyhow::Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()?;
        self.0.wait()?;
        Ok(())
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A `redis-server` of this run's own, on a free port, stopped on drop.
struct PrivateServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl PrivateServer {
    fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = tempfile::tempdir()?;
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .context("redis-server not found: install it (Debian: apt-get install redis-server) or set REDIS_URL")?;
        let out = BufReader::new(child.stdout.take().context("redis-server stdout")?);
        let mut lines = out.lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("Ready to accept connections") => break,
                Some(Ok(_)) => {}
                _ => bail!("redis-server exited before it was ready"),
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        say(&format!("started redis-server on port {port}"));
        Ok(Self {
            child,
            port,
            _dir: dir,
        })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
