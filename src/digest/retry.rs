//! When to ask a registry again: after 429 (too many requests) and 5xx answers, at most
//! [`MAX_RETRIES`] times, waiting what `Retry-After` says (capped) or an exponential backoff.
//! Pure; `http` does the waiting.

use std::time::Duration;

/// Retries after the first attempt.
pub const MAX_RETRIES: u32 = 3;
/// The longest wait between two attempts, whatever `Retry-After` says.
pub const MAX_WAIT: Duration = Duration::from_secs(10);
/// The first backoff; doubled for each further retry.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Whether an answer with this status is worth another attempt.
pub fn retryable(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// How long to wait before retry number `retry` (0 for the first), given `Retry-After`.
pub fn wait(retry: u32, retry_after: Option<&str>) -> Duration {
    let asked = retry_after
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    asked
        .unwrap_or_else(|| FIRST_BACKOFF.saturating_mul(1 << retry.min(8)))
        .min(MAX_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honours_retry_after_within_bounds() {
        assert!(retryable(429) && retryable(503) && !retryable(404) && !retryable(401));
        assert_eq!(wait(0, Some("1")), Duration::from_secs(1));
        assert_eq!(wait(0, Some("3600")), MAX_WAIT);
        assert_eq!(wait(0, None), Duration::from_millis(500));
        assert_eq!(wait(2, None), Duration::from_secs(2));
        // An HTTP date is not parsed: the backoff applies.
        assert_eq!(
            wait(1, Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            Duration::from_secs(1)
        );
    }
}
