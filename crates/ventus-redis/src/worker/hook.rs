//! The worker's handler hook: skip what is done, record each completion as it happens.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio_util::sync::CancellationToken;
use ventus::{HandlerHook, HandlerInfo};

use super::batch::Batcher;
use super::Counters;
use crate::delivery::{RecordFuture, CURRENT};
use crate::id::EmissionId;

/// A handler's completion, recorded for an emission id: the first success of that
/// handler for that id, whichever worker or attempt it came from.
///
/// # Examples
///
/// ```no_run
/// let builder = ventus_redis::Worker::builder("redis://127.0.0.1:6379/")
///     .on_completion(|c: &ventus_redis::Completion| {
///         println!("{} finished {} ({}) on attempt {}", c.handler, c.id, c.event, c.attempt)
///     });
/// # let _ = builder;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Completion {
    /// The emission.
    pub id: EmissionId,
    /// The event.
    pub event: String,
    /// The handler's stable key (`name#n`).
    pub handler: String,
    /// The delivery attempt that completed it.
    pub attempt: u64,
}

pub(super) type CompletionFn = Arc<dyn Fn(&Completion) + Send + Sync>;

/// The worker's [`HandlerHook`]: skips handlers already recorded as done for the
/// emission id, and records each success the moment it happens.
pub(super) struct WorkerHook {
    pub(super) conn: ConnectionManager,
    /// Sends the records, batched with other deliveries' commands.
    pub(super) batcher: Batcher,
    pub(super) consumer: String,
    pub(super) metrics: Arc<Counters>,
    pub(super) on_completion: Option<CompletionFn>,
    pub(super) stop: CancellationToken,
    /// How long completion records are kept, in milliseconds.
    pub(super) done_ttl_ms: i64,
}

/// Records that `key`'s handler completed for the emission whose completion hash is
/// `done_key`, and tells whether this was the first completion of that handler for it.
///
/// The record holds `token`, unique to this write. The first attempt (`first`, already
/// queued with other deliveries' commands when the handler ended) believes `HSETNX`'s
/// answer; a retry (after an error, when the write may have landed without its reply)
/// reads the record back, so it finds its own token and reports the completion, once.
/// Retries until Redis answers or the worker stops.
pub(super) async fn record_completion(
    first: impl std::future::Future<Output = redis::RedisResult<Vec<redis::Value>>>,
    conn: &mut ConnectionManager,
    done_key: &str,
    key: &str,
    token: &str,
    ttl_ms: i64,
    stop: &CancellationToken,
) -> redis::RedisResult<bool> {
    match first.await {
        Ok(values) => match values.first() {
            Some(redis::Value::Int(set)) => return Ok(*set == 1),
            Some(redis::Value::ServerError(e)) => {
                tracing::warn!(error = ?e, "ventus completion record refused; retrying");
            }
            _ => {}
        },
        Err(e) => tracing::warn!(error = %e, "ventus completion record not confirmed; retrying"),
    }
    let mut wait = Duration::from_millis(50);
    loop {
        let mut pipe = redis::pipe();
        pipe.cmd("HSETNX").arg(done_key).arg(key).arg(token);
        pipe.cmd("PEXPIRE").arg(done_key).arg(ttl_ms).ignore();
        pipe.cmd("HGET").arg(done_key).arg(key);
        let r: redis::RedisResult<Vec<redis::Value>> = pipe.query_async(conn).await;
        match r {
            Ok(values) => {
                return Ok(matches!(
                    values.as_slice(),
                    [_, redis::Value::BulkString(holder)] if holder == token.as_bytes()
                ))
            }
            Err(e) if stop.is_cancelled() => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "ventus completion record not confirmed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stop.cancelled() => {}
                }
                wait = (wait * 2).min(Duration::from_secs(1));
            }
        }
    }
}

impl HandlerHook for WorkerHook {
    fn admit(&self, handler: &HandlerInfo<'_>) -> bool {
        CURRENT
            .try_with(|s| {
                let key = s
                    .keys
                    .lock()
                    .key_of(handler.subscription(), handler.handler());
                !s.done.contains(&key)
            })
            .unwrap_or(true)
    }

    fn ended(&self, handler: &HandlerInfo<'_>, outcome: &ventus::Outcome) {
        if let ventus::Outcome::Failed(e) = outcome {
            let _ = CURRENT.try_with(|s| {
                s.error.lock().get_or_insert_with(|| e.to_string());
            });
        }
        if matches!(outcome, ventus::Outcome::Cancelled) {
            let _ = CURRENT.try_with(|s| {
                s.error
                    .lock()
                    .get_or_insert_with(|| "a handler was cancelled".into());
            });
        }
        if !outcome.is_success() {
            return;
        }
        let _ = CURRENT.try_with(|s| {
            let key = s
                .keys
                .lock()
                .key_of(handler.subscription(), handler.handler());
            let d = &s.delivery;
            let done_key = s.done_key.clone();
            let token = format!("{}/{}", self.consumer, uuid::Uuid::now_v7().simple());
            // Sent now, with whatever other deliveries send at this moment; the delivery
            // waits for the answer before its ack.
            let mut hsetnx = redis::cmd("HSETNX");
            hsetnx.arg(&done_key).arg(&key).arg(&token);
            let mut pexpire = redis::cmd("PEXPIRE");
            pexpire.arg(&done_key).arg(self.done_ttl_ms);
            let first = self.batcher.submit(vec![hsetnx, pexpire]);
            let mut conn = self.conn.clone();
            let metrics = self.metrics.clone();
            let on_completion = self.on_completion.clone();
            let stop = self.stop.clone();
            let ttl_ms = self.done_ttl_ms;
            // Made only for a callback that will read it.
            let completion = on_completion.as_ref().map(|_| Completion {
                id: d.id,
                event: d.event.to_string(),
                handler: key.clone(),
                attempt: d.attempt,
            });
            let task: RecordFuture = Box::pin(async move {
                let first =
                    record_completion(first, &mut conn, &done_key, &key, &token, ttl_ms, &stop)
                        .await?;
                if first {
                    metrics.handled.fetch_add(1, Ordering::Relaxed);
                    if let (Some(f), Some(completion)) = (&on_completion, &completion) {
                        let call = std::panic::AssertUnwindSafe(|| f(completion));
                        if std::panic::catch_unwind(call).is_err() {
                            tracing::error!("ventus worker's on_completion callback panicked");
                        }
                    }
                }
                Ok(first)
            });
            s.records.lock().push(task);
        });
    }
}
