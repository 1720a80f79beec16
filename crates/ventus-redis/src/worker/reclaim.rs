//! The reclaimer: due retries, and entries whose worker stopped renewing them.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use redis::aio::ConnectionManager;

use super::process::{ack, to_dlq};
use super::read::spawn_process;
use super::{Entry, Shared};
use crate::conn::now_ms;
use crate::envelope::Envelope;
use crate::keys::{Keys, GROUP};
use crate::stream::fields_of;

pub(super) async fn reclaim_loop(shared: Arc<Shared>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(shared.settings.reclaim_every) => {}
            () = shared.stop.cancelled() => return,
        }
        for part in 0..shared.keys.len() {
            if let Err(e) = reclaim(&shared, part).await {
                tracing::warn!(error = %e, "ventus reclaim pass failed");
            }
        }
    }
}

/// One pass: retries that are due, then entries whose visibility ran out.
pub(super) async fn reclaim(shared: &Arc<Shared>, part: usize) -> redis::RedisResult<()> {
    let keys = &shared.keys[part];
    let mut cmd = shared.cmd.clone();
    let due: Vec<String> = redis::cmd("ZRANGEBYSCORE")
        .arg(keys.retry())
        .arg("-inf")
        .arg(now_ms())
        .arg("LIMIT")
        .arg(0)
        .arg(shared.settings.concurrency)
        .query_async(&mut cmd)
        .await?;
    for id in due {
        if shared.stop.is_cancelled() {
            return Ok(());
        }
        let won: u64 = redis::cmd("ZREM")
            .arg(keys.retry())
            .arg(&id)
            .query_async(&mut cmd)
            .await?;
        if won == 0 {
            continue; // another worker took it
        }
        claim_and_process(shared, &mut cmd, part, &id, 0).await?;
    }
    let idle = shared.settings.visibility.as_millis() as u64;
    let pending: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
        .arg(keys.stream())
        .arg(GROUP)
        .arg("IDLE")
        .arg(idle)
        .arg("-")
        .arg("+")
        .arg(shared.settings.concurrency)
        .query_async(&mut cmd)
        .await?;
    for p in pending.ids {
        if shared.stop.is_cancelled() {
            return Ok(());
        }
        if shared.running.lock().contains(&(part, p.id.clone())) {
            continue;
        }
        let waiting: Option<f64> = redis::cmd("ZSCORE")
            .arg(keys.retry())
            .arg(&p.id)
            .query_async(&mut cmd)
            .await?;
        if waiting.is_some() {
            continue; // a failed entry waiting for its backoff
        }
        let delivered = p.times_delivered as u64;
        if delivered >= shared.settings.max_deliveries {
            let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
                .arg(keys.stream())
                .arg(&p.id)
                .arg(&p.id)
                .query_async(&mut cmd)
                .await?;
            let fields = entries.ids.first().map(fields_of).unwrap_or_default();
            let entry = Entry {
                part,
                keys: keys.clone(),
                id: p.id.clone(),
                fields,
                attempt: delivered,
            };
            if entry.fields.is_empty() {
                shared.metrics.lost_to_trim.fetch_add(1, Ordering::Relaxed);
                ack(&mut cmd, &entry).await?;
                continue;
            }
            let error = last_error(&mut cmd, keys, &entry).await;
            to_dlq(shared, &mut cmd, &entry, "max-deliveries", &error).await;
            continue;
        }
        claim_and_process(shared, &mut cmd, part, &p.id, idle).await?;
    }
    Ok(())
}

/// The last error recorded for the entry's emission, or why it is taken to have failed.
pub(super) async fn last_error(cmd: &mut ConnectionManager, keys: &Keys, entry: &Entry) -> String {
    let id = Envelope::parse(&entry.fields).map(|e| e.id().hyphenated().to_string());
    let recorded: Option<String> = match id {
        Ok(id) => redis::cmd("HGET")
            .arg(keys.done(&id))
            .arg("!error")
            .query_async(cmd)
            .await
            .ok()
            .flatten(),
        Err(_) => None,
    };
    recorded.unwrap_or_else(|| {
        "no worker finished it: each delivery ended without an ack (a crash, a kill, or a \
         handler longer than the visibility without a lease)"
            .into()
    })
}

/// Claims entry `id` if it has been idle at least `min_idle` ms, and processes it.
pub(super) async fn claim_and_process(
    shared: &Arc<Shared>,
    cmd: &mut ConnectionManager,
    part: usize,
    id: &str,
    min_idle: u64,
) -> redis::RedisResult<()> {
    let keys = &shared.keys[part];
    let permit = tokio::select! {
        p = shared.permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return Ok(()) },
        () = shared.stop.cancelled() => return Ok(()),
    };
    let claimed: redis::streams::StreamClaimReply = redis::cmd("XCLAIM")
        .arg(keys.stream())
        .arg(GROUP)
        .arg(&shared.consumer)
        .arg(min_idle)
        .arg(id)
        .query_async(cmd)
        .await?;
    let Some(s) = claimed.ids.into_iter().next() else {
        // Another worker claimed it first, or it was trimmed (XCLAIM then drops it
        // from the pending list).
        return Ok(());
    };
    let info: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
        .arg(keys.stream())
        .arg(GROUP)
        .arg(id)
        .arg(id)
        .arg(1)
        .query_async(cmd)
        .await?;
    let attempt = info.ids.first().map_or(1, |p| p.times_delivered as u64);
    if min_idle > 0 {
        shared.metrics.reclaimed.fetch_add(1, Ordering::Relaxed);
    }
    let entry = Entry {
        part,
        keys: keys.clone(),
        fields: fields_of(&s),
        id: s.id,
        attempt,
    };
    spawn_process(shared, entry, permit);
    Ok(())
}

/// Renews the leases of every entry running here, every visibility/3: one `XCLAIM …
/// JUSTID` per stream for all of them (it resets their idle time and leaves their
/// delivery counts alone).
pub(super) async fn renew_loop(shared: Arc<Shared>) {
    let every = shared.settings.visibility / 3;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shared.stop.cancelled() => return,
        }
        let mut by_part: HashMap<usize, Vec<String>> = HashMap::new();
        for (part, id) in shared.running.lock().iter() {
            by_part.entry(*part).or_default().push(id.clone());
        }
        let mut cmd = shared.cmd.clone();
        for (part, ids) in by_part {
            let stream = shared.keys[part].stream();
            let r: redis::RedisResult<redis::Value> = redis::cmd("XCLAIM")
                .arg(stream)
                .arg(GROUP)
                .arg(&shared.consumer)
                .arg(0)
                .arg(&ids)
                .arg("JUSTID")
                .query_async(&mut cmd)
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, entries = ids.len(), "ventus lease renewal failed");
            }
        }
    }
}
