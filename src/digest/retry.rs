//! When to ask a registry again: after 429 (too many requests) and 5xx answers, at most
//! [`MAX_RETRIES`] times, waiting what `Retry-After` says (capped) or an exponential backoff.
//! `Retry-After` (RFC 9110 §10.2.3) is delay-seconds or an HTTP-date, in any of the three forms
//! a recipient must accept (§5.6.7: IMF-fixdate, RFC 850, asctime), read by `httpdate`. Pure:
//! the clock is an argument of [`wait_at`]; `http` does the waiting.

use std::time::{Duration, SystemTime};

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

/// How long to wait before retry number `retry` (0 for the first), given `Retry-After`, now.
pub fn wait(retry: u32, retry_after: Option<&str>) -> Duration {
    wait_at(retry, retry_after, SystemTime::now())
}

/// [`wait`] at the time `now`: what `Retry-After` asks for, else the backoff, at most
/// [`MAX_WAIT`]. A date already past asks for no wait; a value that is neither seconds nor a
/// date is ignored.
pub fn wait_at(retry: u32, retry_after: Option<&str>, now: SystemTime) -> Duration {
    retry_after
        .and_then(|value| asked(value.trim(), now))
        .unwrap_or_else(|| FIRST_BACKOFF.saturating_mul(1 << retry.min(8)))
        .min(MAX_WAIT)
}

/// `Retry-After = HTTP-date / delay-seconds`, as a wait from `now`.
fn asked(value: &str, now: SystemTime) -> Option<Duration> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More seconds than a u64 holds is still "longer than MAX_WAIT".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    /// Sun, 06 Nov 1994 08:49:37 GMT, the example date of RFC 9110.
    fn rfc_example() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(784_111_777)
    }

    #[test]
    fn honours_retry_after_seconds_within_bounds() {
        assert!(retryable(429) && retryable(503) && !retryable(404) && !retryable(401));
        assert_eq!(wait(0, Some("1")), Duration::from_secs(1));
        assert_eq!(wait(0, Some(" 0 ")), Duration::ZERO);
        assert_eq!(wait(0, Some("3600")), MAX_WAIT);
        assert_eq!(wait(0, Some("99999999999999999999999")), MAX_WAIT);
        assert_eq!(wait(0, None), Duration::from_millis(500));
        assert_eq!(wait(2, None), Duration::from_secs(2));
        assert_eq!(wait(30, None), MAX_WAIT);
    }

    #[test]
    fn waits_until_an_http_date_in_each_of_its_three_forms() {
        let before = |seconds| rfc_example() - Duration::from_secs(seconds);
        for date in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                wait_at(0, Some(date), before(3)),
                Duration::from_secs(3),
                "{date}"
            );
            assert_eq!(
                wait_at(0, Some(date), before(3) + Duration::from_millis(250)),
                Duration::from_millis(2750),
                "{date}"
            );
            // Far ahead: capped.
            assert_eq!(wait_at(0, Some(date), before(86_400)), MAX_WAIT, "{date}");
            // Now, or already past: no wait.
            assert_eq!(
                wait_at(2, Some(date), rfc_example()),
                Duration::ZERO,
                "{date}"
            );
            assert_eq!(
                wait_at(2, Some(date), rfc_example() + Duration::from_secs(60)),
                Duration::ZERO,
                "{date}"
            );
        }
    }

    #[test]
    fn an_unreadable_value_falls_back_to_the_backoff() {
        let now = rfc_example() - Duration::from_secs(3);
        for value in [
            "",
            "soon",
            "-1",
            "+5",
            "1.5",
            // The weekday does not match the date.
            "Mon, 06 Nov 1994 08:49:37 GMT",
            // Not GMT, lowercase month, no such day.
            "Sun, 06 Nov 1994 08:49:37 CET",
            "Sun, 06 nov 1994 08:49:37 GMT",
            "Thu, 31 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
        ] {
            assert_eq!(
                wait_at(1, Some(value), now),
                Duration::from_secs(1),
                "{value:?}"
            );
        }
    }
}
