//! Connections: a manager for commands, bounded so a broker that is down gives an
//! error in about two seconds, never a hang.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client};

use crate::error::ConfigError;
use crate::keys::{Keys, GROUP};

pub(crate) fn client(url: &str) -> Result<Client, ConfigError> {
    Client::open(url).map_err(ConfigError::InvalidUrl)
}

/// A reconnecting connection for commands: connect and response timeouts of `timeout`,
/// few reconnect attempts, so a command against a broker that is down fails fast.
pub(crate) async fn manager(
    url: &str,
    timeout: Duration,
) -> Result<ConnectionManager, ConfigError> {
    let client = client(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(200));
    let unreachable = |source| ConfigError::Unreachable {
        url: url.to_owned(),
        source,
    };
    match tokio::time::timeout(
        timeout * 2,
        ConnectionManager::new_with_config(client, config),
    )
    .await
    {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(unreachable(e)),
        Err(_) => Err(unreachable(redis::RedisError::from((
            redis::ErrorKind::Io,
            "connect timed out",
        )))),
    }
}

/// A connection of its own for blocking reads: its response timeout exceeds the
/// block time, which redis-rs's default would cut short.
pub(crate) async fn reader(
    url: &str,
    block: Duration,
    timeout: Duration,
) -> redis::RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(block + timeout));
    client(url)
        .map_err(|e| match e {
            ConfigError::InvalidUrl(e) => e,
            other => {
                redis::RedisError::from((redis::ErrorKind::Client, "bad url", other.to_string()))
            }
        })?
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// Creates the group at id `0` (with the stream), so nothing emitted before the first
/// worker started is skipped; an existing group is left as it is.
pub(crate) async fn ensure_group<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    keys: &Keys,
) -> redis::RedisResult<()> {
    let created: redis::RedisResult<()> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(keys.stream())
        .arg(GROUP)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(conn)
        .await;
    match created {
        Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
        other => other,
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
