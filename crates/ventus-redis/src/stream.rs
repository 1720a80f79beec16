//! Reading a queue's streams: entry fields, and the queue's state on the server.

use redis::aio::ConnectionManager;
use redis::streams::StreamId;
use redis::Value;

use crate::keys::{Keys, GROUP};

/// A queue's state on the server: what waits and what runs.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(emitter: ventus_redis::RedisEmitter) -> redis::RedisResult<()> {
/// let s = emitter.queue_stats().await?;
/// println!("pending {} lag {} lost {} dead {}", s.pending, s.lag, s.lost_to_trim, s.dead_letters);
/// # Ok(()) }
/// ```
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

/// One stream's entries in a read reply: (entry id, fields); a deleted entry has no
/// fields.
pub(crate) type StreamEntries = (String, Vec<(String, Vec<(String, Vec<u8>)>)>);

/// Takes an `XREADGROUP` reply apart without copying its bytes: each stream's key and
/// entries, in order. `Nil` (the block timed out) is no stream.
pub(crate) fn read_reply(reply: Value) -> Vec<StreamEntries> {
    let streams = match reply {
        Value::Array(streams) => streams
            .into_iter()
            .filter_map(|s| match s {
                Value::Array(kv) => pair(kv),
                _ => None,
            })
            .collect(),
        Value::Map(streams) => streams,
        _ => Vec::new(),
    };
    streams
        .into_iter()
        .filter_map(|(key, entries)| {
            let key = text(key)?;
            let Value::Array(entries) = entries else {
                return None;
            };
            let entries = entries
                .into_iter()
                .filter_map(|e| match e {
                    Value::Array(e) => {
                        let (id, fields) = pair(e)?;
                        Some((text(id)?, fields_of_value(fields)))
                    }
                    _ => None,
                })
                .collect();
            Some((key, entries))
        })
        .collect()
}

fn pair(mut v: Vec<Value>) -> Option<(Value, Value)> {
    if v.len() != 2 {
        return None;
    }
    let b = v.pop()?;
    let a = v.pop()?;
    Some((a, b))
}

fn text(v: Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}

fn bytes(v: Value) -> Vec<u8> {
    match v {
        Value::BulkString(b) => b,
        Value::SimpleString(s) => s.into_bytes(),
        Value::Int(n) => n.to_string().into_bytes(),
        _ => Vec::new(),
    }
}

/// An entry's field/value list (a flat array, or a map in RESP3); `Nil` for a deleted
/// entry gives no fields.
fn fields_of_value(v: Value) -> Vec<(String, Vec<u8>)> {
    match v {
        Value::Array(flat) => {
            let mut out = Vec::with_capacity(flat.len() / 2);
            let mut it = flat.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                if let Some(k) = text(k) {
                    out.push((k, bytes(v)));
                }
            }
            out
        }
        Value::Map(pairs) => pairs
            .into_iter()
            .filter_map(|(k, v)| Some((text(k)?, bytes(v))))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn a_read_reply_is_taken_apart_in_order_with_deleted_entries_empty() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("ventus:{q}:s"),
            Value::Array(vec![
                Value::Array(vec![
                    bulk("1-0"),
                    Value::Array(vec![bulk("v"), bulk("1"), bulk("event"), bulk("e")]),
                ]),
                Value::Array(vec![bulk("2-0"), Value::Nil]),
            ]),
        ])]);
        let streams = read_reply(reply);
        assert_eq!(streams.len(), 1);
        let (key, entries) = &streams[0];
        assert_eq!(key, "ventus:{q}:s");
        assert_eq!(entries[0].0, "1-0");
        assert_eq!(
            entries[0].1,
            [
                ("v".to_owned(), b"1".to_vec()),
                ("event".to_owned(), b"e".to_vec())
            ]
        );
        assert_eq!(entries[1], ("2-0".to_owned(), Vec::new()));
        assert!(read_reply(Value::Nil).is_empty(), "a read that timed out");
    }

    #[test]
    fn a_resp3_map_reply_reads_the_same() {
        let reply = Value::Map(vec![(
            bulk("s"),
            Value::Array(vec![Value::Array(vec![
                bulk("3-1"),
                Value::Map(vec![(bulk("id"), bulk("x"))]),
            ])]),
        )]);
        let streams = read_reply(reply);
        assert_eq!(
            streams[0].1[0],
            ("3-1".to_owned(), vec![("id".to_owned(), b"x".to_vec())])
        );
    }
}
