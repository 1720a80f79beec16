//! Queue names and the Redis keys of a queue.

use crate::error::ConfigError;

/// The consumer group every worker of a queue joins.
pub(crate) const GROUP: &str = "ventus";

/// A checked queue name with its partition count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Queue {
    name: String,
    partitions: u16,
}

impl Queue {
    /// Checks `name`: 1 to 64 bytes of ASCII letters, digits, `-`, `_`, `.` and `:`.
    pub(crate) fn new(name: &str, partitions: u16) -> Result<Self, ConfigError> {
        let bad = |reason: &'static str| ConfigError::InvalidQueue {
            queue: name.to_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(bad("the name is empty"));
        }
        if name.len() > 64 {
            return Err(bad("the name is longer than 64 bytes"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        {
            return Err(bad(
                "the name may hold only ASCII letters, digits, `-`, `_`, `.` and `:`",
            ));
        }
        if partitions == 0 {
            return Err(ConfigError::InvalidSetting {
                setting: "partitions",
                value: "0".into(),
                reason: "a queue has at least one partition",
            });
        }
        Ok(Self {
            name: name.to_owned(),
            partitions,
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn partitions(&self) -> u16 {
        self.partitions
    }

    /// The keys of partition `n` (`0` for an unpartitioned queue).
    pub(crate) fn keys(&self, n: u16) -> Keys {
        if self.partitions == 1 {
            Keys::new(&self.name)
        } else {
            Keys::new(&format!("{}:{n}", self.name))
        }
    }

    /// The keys of every partition.
    pub(crate) fn all_keys(&self) -> Vec<Keys> {
        (0..self.partitions).map(|n| self.keys(n)).collect()
    }
}

/// The keys of one stream: everything shares the `{tag}` hash tag, so a queue's keys
/// live in one cluster slot and the Lua moves stay atomic. Made once per stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Keys {
    stream: String,
    dlq: String,
    retry: String,
    lost: String,
    /// `ventus:{tag}:done:`, the prefix of each emission's completion hash.
    done: String,
}

impl Keys {
    fn new(tag: &str) -> Self {
        let key = |suffix: &str| format!("ventus:{{{tag}}}:{suffix}");
        Self {
            stream: key("s"),
            dlq: key("dlq"),
            retry: key("retry"),
            lost: key("lost"),
            done: key("done:"),
        }
    }

    pub(crate) fn stream(&self) -> &str {
        &self.stream
    }

    pub(crate) fn dlq(&self) -> &str {
        &self.dlq
    }

    pub(crate) fn done(&self, id: &str) -> String {
        format!("{}{id}", self.done)
    }

    /// Failed entries waiting for their backoff: a sorted set of entry ids by due time.
    pub(crate) fn retry(&self) -> &str {
        &self.retry
    }

    /// Entries trimmed while pending, as counted by emitters at the trims.
    pub(crate) fn lost(&self) -> &str {
        &self.lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_queue_hash_tag() {
        let q = Queue::new("orders", 1).unwrap();
        let k = q.keys(0);
        assert_eq!(k.stream(), "ventus:{orders}:s");
        assert_eq!(k.dlq(), "ventus:{orders}:dlq");
        assert_eq!(k.done("x"), "ventus:{orders}:done:x");
        let p = Queue::new("orders", 4).unwrap();
        assert_eq!(p.keys(3).stream(), "ventus:{orders:3}:s");
        assert_eq!(p.all_keys().len(), 4);
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in ["", "a b", "a{b}", &"x".repeat(65)] {
            assert!(matches!(
                Queue::new(bad, 1),
                Err(ConfigError::InvalidQueue { .. })
            ));
        }
        assert!(matches!(
            Queue::new("q", 0),
            Err(ConfigError::InvalidSetting { .. })
        ));
    }
}
