//! Waiting for a condition on the server, bounded.

use std::future::Future;
use std::time::{Duration, Instant};

/// Re-checks `check` until it returns `Some`, up to `timeout`; panics with `what` and
/// the last value seen otherwise. The pause between checks only spaces the queries
/// out: the outcome is decided by what the server reports, not by the time waited.
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    loop {
        let last = match check().await {
            Ok(v) => return v,
            Err(seen) => seen,
        };
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}; last seen: {last}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
