//! How long to wait before trying a failed call again: exponential backoff with jitter from
//! 0.5 s, or what the provider asked for with `retry-after` / `retry-after-ms`, each wait
//! capped at 60 s (clients.md).

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// Retries and waits of one model's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries after the first (the model's `max_retries`, default 2).
    pub max_retries: u32,
    /// The first backoff wait; each next one doubles (default 0.5 s). Tests shorten it.
    pub base: Duration,
    /// The longest single wait, whatever the provider asks (default 60 s).
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: 2,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before try number `retry` + 1 (`retry` counts from 0): the provider's
    /// `retry-after` when it gave one, else `base × 2^retry` less up to a quarter of jitter,
    /// so that many clients failing together do not come back together.
    pub fn wait(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let wait = match retry_after {
            Some(asked) => asked,
            None => {
                let backoff = self.base.saturating_mul(1u32 << retry.min(20));
                let jitter = 1.0 - 0.25 * fastrand::f64();
                backoff.mul_f64(jitter)
            }
        };
        wait.min(self.cap)
    }
}

/// The wait a response asks for: `retry-after-ms` (milliseconds), else `retry-after` in
/// seconds or as an HTTP date. A date in the past, or a value that is neither, is no wait.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
    {
        return Some(Duration::from_secs_f64((ms / 1000.0).min(86_400.0)));
    }
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    parse_retry_after(value, SystemTime::now())
}

/// Parses a `retry-after` value (seconds, possibly fractional, or an HTTP date) as of `now`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(secs) = value.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(86_400.0)));
        }
        return None;
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_with_at_most_a_quarter_of_jitter() {
        let policy = RetryPolicy::default();
        for retry in 0..4 {
            let full = Duration::from_millis(500) * (1 << retry);
            let wait = policy.wait(retry, None);
            assert!(
                wait <= full && wait >= full.mul_f64(0.75),
                "{retry}: {wait:?}"
            );
        }
    }

    #[test]
    fn every_wait_is_capped_at_sixty_seconds() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.wait(12, None), Duration::from_secs(60));
        assert_eq!(
            policy.wait(0, Some(Duration::from_secs(3600))),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn retry_after_ms_wins_over_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "9".parse().unwrap());
        headers.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
    }
}
