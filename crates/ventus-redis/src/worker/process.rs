//! One delivery: verify, run the handlers not done, then ack, retry or dead-letter.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use parking_lot::Mutex;
use redis::aio::ConnectionManager;
use redis::Value;
use tracing::Instrument;
use ventus::EmitError;

use super::{Entry, Shared};
use crate::conn::now_ms;
use crate::delivery::{Delivery, DeliveryState, Keys as HandlerKeys, CURRENT};
use crate::envelope::Envelope;
use crate::id::EmissionId;
use crate::keys::GROUP;
use crate::lua::scripts;
use crate::trace;

/// What became of one delivery.
pub(super) enum Ended {
    Acked,
    Retry(String),
    Dead {
        reason: &'static str,
        error: String,
    },
    /// Left pending: the server could not be told (it will be redelivered).
    Left,
}

pub(super) async fn process(shared: &Arc<Shared>, entry: Entry) {
    let mut cmd = shared.cmd.clone();
    if entry.fields.is_empty() {
        // Trimmed while pending: nothing left to run. The trim was counted by the
        // emitter that made room; clear it from the pending list.
        shared.metrics.lost_to_trim.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(entry = %entry.id, "ventus entry was trimmed before it was handled");
        let _ = ack(&mut cmd, &entry).await;
        return;
    }
    let envelope = match Envelope::open(
        &entry.fields,
        &shared.settings.keyring,
        shared.settings.window,
        now_ms(),
    ) {
        Ok(e) => e,
        Err(rejection) => {
            shared.metrics.rejected.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(entry = %entry.id, reason = rejection.reason(), "ventus envelope refused: {rejection}");
            to_dlq(
                shared,
                &mut cmd,
                &entry,
                rejection.reason(),
                &rejection.to_string(),
            )
            .await;
            return;
        }
    };
    let tp = envelope.traceparent().map(str::to_owned);
    let span = tracing::info_span!(
        "ventus.remote",
        event = envelope.event(),
        emission = %envelope.id(),
        attempt = entry.attempt,
        trace_id = tp.as_deref().and_then(trace::trace_id),
        parent_span = tp.as_deref().and_then(trace::span_id),
    );
    let ended = run_delivery(shared, &mut cmd, &entry, &envelope, tp)
        .instrument(span.clone())
        .await;
    let _entered = span.enter();
    match ended {
        Ended::Acked => {}
        Ended::Left => {}
        Ended::Retry(error) => {
            if entry.attempt >= shared.settings.max_deliveries {
                to_dlq(shared, &mut cmd, &entry, "failed", &error).await;
            } else {
                let due = now_ms() + shared.backoff(entry.attempt).as_millis() as u64;
                let done = entry.keys.done(&envelope.id().hyphenated().to_string());
                let r: redis::RedisResult<()> = redis::pipe()
                    .hset(&done, "!error", &error)
                    .ignore()
                    .pexpire(&done, shared.settings.done_ttl.as_millis() as i64)
                    .ignore()
                    .zadd(entry.keys.retry(), &entry.id, due)
                    .ignore()
                    .query_async(&mut cmd)
                    .await;
                match r {
                    Ok(()) => {
                        shared.metrics.retried.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(error = %error, "ventus delivery failed; retry scheduled");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "ventus retry could not be scheduled; the entry stays pending")
                    }
                }
            }
        }
        Ended::Dead { reason, error } => to_dlq(shared, &mut cmd, &entry, reason, &error).await,
    }
}

pub(super) async fn run_delivery(
    shared: &Arc<Shared>,
    cmd: &mut ConnectionManager,
    entry: &Entry,
    envelope: &Envelope,
    tp: Option<String>,
) -> Ended {
    let id = envelope.id().hyphenated().to_string();
    let done_key = entry.keys.done(&id);
    // A first delivery of an entry that was not replayed has no completion records:
    // its emission id is new (one per emit), and nothing has run it yet.
    let replayed = entry.fields.iter().any(|(k, _)| k == "replayed");
    let done: HashMap<String, String> = if entry.attempt == 1 && !replayed {
        HashMap::new()
    } else {
        match redis::cmd("HGETALL").arg(&done_key).query_async(cmd).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "ventus cannot read completion records; the entry stays pending");
                return Ended::Left;
            }
        }
    };
    let decode = shared.decoders.get(envelope.event()).cloned();
    let payload_is_unit = matches!(envelope.payload(), b"null" | b"");
    let state = Arc::new(DeliveryState {
        delivery: Delivery {
            id: EmissionId(envelope.id()),
            event: envelope.event().into(),
            attempt: entry.attempt,
            entry: entry.id.as_str().into(),
            queue: shared.names.0.clone(),
            consumer: shared.names.1.clone(),
            traceparent: tp.map(Into::into),
        },
        done: done.into_keys().filter(|k| !k.starts_with('!')).collect(),
        done_key: done_key.clone(),
        keys: Mutex::new(HandlerKeys::default()),
        records: Mutex::new(Vec::new()),
        error: Mutex::new(None),
    });
    let emitter = &shared.emitter;
    let event = envelope.event();
    let run = async {
        match &decode {
            Some(decode) => match decode.emit(emitter, event, envelope.payload()) {
                Ok(fut) => Ok(fut.await),
                Err(e) => Err(e),
            },
            None if payload_is_unit => Ok(emitter.run(event).await),
            None => Ok(Err(EmitError::Processor(
                format!("this worker has no decoder for event `{event}`; add `.decode::<T>(\"{event}\")` to its builder").into(),
            ))),
        }
    };
    let result = CURRENT.scope(state.clone(), run).await;
    // Every completion record sent must have landed before the ack.
    let records: Vec<_> = std::mem::take(&mut *state.records.lock());
    let mut recorded = true;
    for r in records {
        if r.await.is_err() {
            recorded = false;
        }
    }
    let report = match result {
        Err(e) => {
            return Ended::Dead {
                reason: "undecodable",
                error: format!("the payload of `{event}` does not deserialise: {e}"),
            }
        }
        Ok(Err(e)) => return Ended::Retry(e.to_string()),
        Ok(Ok(report)) => report,
    };
    if !recorded {
        tracing::warn!(
            "ventus completion records could not all be written; the entry stays pending"
        );
        return Ended::Left;
    }
    let counts = report.counts();
    if counts.failed > 0 || counts.cancelled > 0 {
        let error = state
            .error
            .lock()
            .take()
            .unwrap_or_else(|| "a handler failed".into());
        return Ended::Retry(error);
    }
    if counts.total() == 0 && state.done.is_empty() {
        tracing::warn!(event, "ventus worker has no handler for this event; acked");
    }
    // The completion records got their TTL when they were written; a retry's
    // schedule entry was removed when the retry was claimed.
    let mut xack = redis::cmd("XACK");
    xack.arg(entry.keys.stream()).arg(GROUP).arg(&entry.id);
    let r = match shared.batcher.send(vec![xack]).await {
        Ok(values) => match values.into_iter().next() {
            Some(redis::Value::ServerError(e)) => Err(e.into()),
            _ => Ok(()),
        },
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => {
            shared.metrics.acked.fetch_add(1, Ordering::Relaxed);
            Ended::Acked
        }
        Err(e) => {
            tracing::warn!(error = %e, "ventus ack failed; the entry will be redelivered and its finished handlers skipped");
            Ended::Left
        }
    }
}

pub(super) async fn ack(cmd: &mut ConnectionManager, entry: &Entry) -> redis::RedisResult<()> {
    redis::cmd("XACK")
        .arg(entry.keys.stream())
        .arg(GROUP)
        .arg(&entry.id)
        .query_async(cmd)
        .await
}

pub(super) async fn to_dlq(
    shared: &Arc<Shared>,
    cmd: &mut ConnectionManager,
    entry: &Entry,
    reason: &str,
    error: &str,
) {
    let mut c = scripts()
        .to_dlq
        .cmd(&[entry.keys.stream(), entry.keys.dlq()]);
    c.arg(&entry.id)
        .arg(reason)
        .arg(entry.attempt)
        .arg(error)
        .arg(now_ms());
    for (k, v) in &entry.fields {
        c.arg(k).arg(&v[..]);
    }
    match scripts().to_dlq.run::<_, Value>(cmd, &c).await {
        Ok(_) => {
            let _ = redis::cmd("ZREM")
                .arg(entry.keys.retry())
                .arg(&entry.id)
                .query_async::<Value>(cmd)
                .await;
            shared.metrics.dead_lettered.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(entry = %entry.id, reason, attempts = entry.attempt, error, "ventus entry moved to the dead letters");
        }
        Err(e) => {
            tracing::warn!(error = %e, entry = %entry.id, "ventus could not move the entry to the dead letters; it stays pending")
        }
    }
}
