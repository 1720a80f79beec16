//! Reading a queue's streams: entry fields, and the queue's state on the server.

use redis::aio::ConnectionManager;
use redis::streams::StreamId;
use redis::Value;

use crate::keys::{Keys, GROUP};

/// A queue's state on the server: what waits and what runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStats {
    /// Entries delivered and not yet acknowledged, over all partitions.
    pub pending: u64,
    /// Entries not yet delivered to the group, over all partitions.
    pub lag: u64,
    /// Entries deleted by the cap before they were finished, as counted at the trims.
    pub lost_to_trim: u64,
    /// Dead letters.
    pub dead_letters: u64,
}

/// Reads the pending, lag, lost and dead-letter counts of `keys`.
pub(crate) async fn queue_stats(
    conn: &mut ConnectionManager,
    keys: impl IntoIterator<Item = &Keys>,
) -> redis::RedisResult<QueueStats> {
    let mut stats = QueueStats::default();
    for k in keys {
        let groups: redis::streams::StreamInfoGroupsReply = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(k.stream())
            .query_async(conn)
            .await?;
        for g in groups.groups.iter().filter(|g| g.name == GROUP) {
            stats.pending += g.pending as u64;
            stats.lag += g.lag.unwrap_or(0) as u64;
        }
        let lost: Option<u64> = redis::cmd("GET").arg(k.lost()).query_async(conn).await?;
        stats.lost_to_trim += lost.unwrap_or(0);
        let dlq: u64 = redis::cmd("XLEN").arg(k.dlq()).query_async(conn).await?;
        stats.dead_letters += dlq;
    }
    Ok(stats)
}

pub(crate) fn fields_of(s: &StreamId) -> Vec<(String, Vec<u8>)> {
    s.map
        .iter()
        .map(|(k, v)| {
            let bytes = match v {
                Value::BulkString(b) => b.clone(),
                Value::SimpleString(s) => s.clone().into_bytes(),
                Value::Int(n) => n.to_string().into_bytes(),
                _ => Vec::new(),
            };
            (k.clone(), bytes)
        })
        .collect()
}
