//! A worker process for the fault tests: the test binary runs itself as a child with
//! `VT_ROLE=worker`, and [`maybe_run_worker`] (called from a test named
//! `fixture_worker`) turns that child into a ventus-redis worker configured from
//! environment variables.
//!
//! Handlers take a [`Job`]; its `mode` says what they do. Each start is journaled as
//! `start` (from inside the handler) and each recorded completion as `done` (from the
//! worker's `on_completion`), with the emission id, handler key, attempt and pid.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::journal::append_line;
use super::ChildProcess;

/// The payload of the fixture's `job` event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// A number of the test's choosing.
    pub n: u64,
    /// `ok`, `sleep` (for `ms`), `hang` (never ends), `hang_first` (hangs on the first
    /// attempt, ends at once on later ones), `fail` (returns an error), `fail_first`
    /// (returns an error on the first attempt, ends at once on later ones),
    /// `fail_unless_env` (returns an error unless the worker runs with `VT_HEAL=1`),
    /// `abort` (aborts the process).
    pub mode: String,
    /// For `sleep`.
    pub ms: u64,
}

impl Job {
    pub fn new(n: u64, mode: &str) -> Self {
        Self {
            n,
            mode: mode.into(),
            ms: 0,
        }
    }

    pub fn sleep(n: u64, ms: u64) -> Self {
        Self {
            n,
            mode: "sleep".into(),
            ms,
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Spawns this test binary as a worker child with `envs` (the `VT_*` settings).
pub fn spawn_worker(envs: &[(&str, String)]) -> ChildProcess {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut all: Vec<(&str, String)> = vec![("VT_ROLE", "worker".into())];
    all.extend(envs.iter().cloned());
    let child = ChildProcess::spawn(
        &exe,
        &[
            "fixture_worker",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ],
        &all,
    );
    child.wait_for_line("VT_READY", Duration::from_secs(20));
    child
}

/// If this process is a worker child, runs the worker and exits; otherwise returns.
pub fn maybe_run_worker() {
    if std::env::var("VT_ROLE").as_deref() != Ok("worker") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let code = rt.block_on(run_worker());
    // Handlers still running (a `hang`) are dropped with the process.
    std::process::exit(code);
}

async fn run_worker() -> i32 {
    if let Ok(filter) = std::env::var("VT_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .try_init();
    }
    let url = std::env::var("VT_URL").expect("VT_URL");
    let queue = std::env::var("VT_QUEUE").unwrap_or_else(|_| "test".into());
    let journal = PathBuf::from(std::env::var("VT_JOURNAL").expect("VT_JOURNAL"));
    let linker = ventus::EventLinker::builder().build().expect("a linker");
    let j = journal.clone();
    linker
        .on("job")
        .name("job")
        .subscribe(move |job: Job| {
            let j = j.clone();
            async move {
                let d = ventus_redis::Delivery::current().expect("runs on a worker");
                let id = d.id().to_string();
                append_line(&j, "start", &id, "job", d.attempt(), std::process::id());
                say(&format!("VT_START {id} {} {}", job.n, d.attempt()));
                match job.mode.as_str() {
                    "sleep" => tokio::time::sleep(Duration::from_millis(job.ms)).await,
                    "hang" => std::future::pending::<()>().await,
                    "hang_first" if d.attempt() == 1 => std::future::pending::<()>().await,
                    "fail" => return Err(format!("job {} fails by design", job.n)),
                    "fail_first" if d.attempt() == 1 => {
                        return Err(format!("job {} fails on its first attempt", job.n))
                    }
                    "fail_unless_env" if std::env::var("VT_HEAL").as_deref() != Ok("1") => {
                        return Err(format!("job {} fails until VT_HEAL=1", job.n))
                    }
                    "abort" => std::process::abort(),
                    _ => {}
                }
                Ok(())
            }
        })
        .expect("subscribe");
    let j = journal.clone();
    let mut builder = ventus_redis::Worker::builder(url)
        .linker(&linker)
        .queue(queue)
        .partitions(env_u64("VT_PARTITIONS", 1) as u16)
        .decode::<Job>("job")
        .concurrency(env_u64("VT_CONCURRENCY", 16) as usize)
        .visibility(Duration::from_millis(env_u64("VT_VISIBILITY_MS", 1000)))
        .reclaim_every(Duration::from_millis(env_u64("VT_RECLAIM_MS", 200)))
        .backoff(vec![Duration::from_millis(env_u64("VT_BACKOFF_MS", 100))])
        .max_deliveries(env_u64("VT_MAX_DELIVERIES", 5))
        .window(
            std::env::var("VT_WINDOW_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .map(Duration::from_millis),
        )
        .lease(env_u64("VT_LEASE", 1) == 1)
        .shutdown_timeout(Duration::from_millis(env_u64("VT_SHUTDOWN_MS", 30_000)))
        .on_completion(move |c| {
            append_line(
                &j,
                "done",
                &c.id.to_string(),
                &c.handler,
                c.attempt,
                std::process::id(),
            );
        });
    if let Ok(key) = std::env::var("VT_KEY") {
        let (kid, secret) = key.split_once(':').expect("VT_KEY is kid:secret");
        builder = builder.keyring(ventus_redis::Keyring::new(kid, secret).expect("a key"));
    }
    let worker = match builder.build().await {
        Ok(w) => w,
        Err(e) => {
            say(&format!("VT_ERROR {e}"));
            return 2;
        }
    };
    say(&format!("VT_READY {}", worker.consumer()));
    let report = worker.run().await;
    say(&format!(
        "VT_REPORT acked={} handled={} left={}",
        report.metrics.acked,
        report.metrics.handled,
        report.left_pending.len()
    ));
    0
}

/// One line on stdout, flushed: the parent test reads it.
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// An emitter on the fixture's queue (`test`).
pub async fn test_emitter(url: &str) -> ventus_redis::RedisEmitter {
    ventus_redis::RedisEmitter::builder(url)
        .queue("test")
        .build()
        .await
        .unwrap()
}

/// The `VT_*` settings of a fixture worker: the server, the journal, and `extra`.
pub fn envs(
    server: &super::RedisServer,
    journal: &super::Journal,
    extra: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    let mut v: Vec<(&'static str, String)> = vec![
        ("VT_URL", server.url()),
        ("VT_JOURNAL", journal.path().display().to_string()),
    ];
    v.extend(extra.iter().map(|(k, val)| (*k, (*val).to_owned())));
    v
}

/// Waits until the queue has nothing pending and nothing undelivered.
pub async fn drained(emitter: &ventus_redis::RedisEmitter, timeout: Duration) {
    super::wait::until("the queue to drain", timeout, || async {
        let s = emitter.queue_stats().await.map_err(|e| e.to_string())?;
        if s.pending == 0 && s.lag == 0 {
            Ok(())
        } else {
            Err(format!("{s:?}"))
        }
    })
    .await;
}
