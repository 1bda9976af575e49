//! One HTTP call to a lab, with its failures sorted into what the caller
//! must do: retry (after the lab's `Retry-After` when it gave one), treat
//! the request as refused, or fix the configuration.

use crate::lab::LabError;
use std::time::Duration;

/// A reply that is not a success, not a rate limit and not a server error.
#[derive(Debug)]
pub(crate) struct Rejection {
    pub status: u16,
    pub body: serde_json::Value,
}

/// Sends `req` and returns the JSON body of a 2xx reply.
///
/// * no answer (timeout, connection refused or reset), 5xx: `Retry` — the
///   caller does not know whether the lab acted;
/// * 429: `Retry` after the `Retry-After` seconds (default 60 s, Printful's
///   lockout);
/// * 401/403: `Misconfigured`;
/// * 404: `NotFound`;
/// * other 4xx: `Err(Ok(Rejection))` for the caller to read the lab's reason.
pub(crate) async fn send(
    req: reqwest::RequestBuilder,
    what: &str,
) -> Result<serde_json::Value, Result<Rejection, LabError>> {
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            // reqwest errors can carry the URL; ours have no secrets in them
            // (tokens travel in headers), but keep the message short anyway.
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "failed"
            };
            return Err(Err(LabError::Retry {
                message: format!("{what}: request {kind}"),
                after: None,
            }));
        }
    };
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(retry_after_secs);
    let bytes = match resp.bytes().await {
        Ok(b) => b,
        Err(_) => {
            return Err(Err(LabError::Retry {
                message: format!("{what}: reply cut short (HTTP {status})"),
                after: None,
            }))
        }
    };
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    match status {
        200..=299 => Ok(body),
        429 => Err(Err(LabError::Retry {
            message: format!("{what}: rate limited (HTTP 429)"),
            after: Some(Duration::from_secs(retry_after.unwrap_or(60))),
        })),
        401 | 403 => Err(Err(LabError::Misconfigured(format!(
            "{what}: HTTP {status}: check the API token"
        )))),
        404 => Err(Err(LabError::NotFound)),
        400..=499 => Err(Ok(Rejection { status, body })),
        _ => Err(Err(LabError::Retry {
            message: format!("{what}: HTTP {status}"),
            after: retry_after.map(Duration::from_secs),
        })),
    }
}

/// `Retry-After` as seconds, or as an HTTP date (seconds from now).
fn retry_after_secs(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs);
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let secs = at.as_second() - jiff::Timestamp::now().as_second();
    Some(secs.max(0) as u64)
}

/// Reads a string field, accepting numbers too (Printful ids are integers).
pub(crate) fn str_field(v: &serde_json::Value, key: &str) -> Option<String> {
    match v.get(key)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_as_seconds_or_as_a_date() {
        assert_eq!(retry_after_secs("120"), Some(120));
        assert_eq!(retry_after_secs(" 7 "), Some(7));
        assert_eq!(retry_after_secs("Sun, 06 Nov 1994 08:49:37 GMT"), Some(0));
        let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(90);
        let header = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&soon)
            .unwrap();
        let secs = retry_after_secs(&header).unwrap();
        assert!((88..=90).contains(&secs), "{header}: {secs}");
        assert_eq!(retry_after_secs("soon"), None);
    }
}
