//! What every provider answers, and the HTTP helpers that sort an HTTP
//! provider's failures into definite and unknown ones.

use std::time::Duration;

/// The provider took the message.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The provider's id of it (Resend id, SendGrid `X-Message-Id`, SES
    /// `MessageId`, Twilio `sid`, the SMTP server's answer, the outbox file).
    pub provider_message_id: String,
}

/// Why a message was not (known to be) taken.
#[derive(Debug, Clone)]
pub enum SendError {
    /// The provider did not take it: nothing was sent.
    Definite {
        /// What happened.
        reason: String,
        /// False when trying again cannot help (a 400/422, a 5xx SMTP reply).
        retryable: bool,
        /// The provider's `Retry-After`, if it gave one.
        retry_after: Option<Duration>,
    },
    /// It may have been taken: the request went out and no answer came back.
    Unknown(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Definite { reason, .. } => f.write_str(reason),
            SendError::Unknown(reason) => write!(f, "outcome unknown: {reason}"),
        }
    }
}

/// A transport error: a connection that never opened is definite; anything
/// after the request may have left (a timeout, a reset) is unknown.
pub(crate) fn http_error(e: reqwest::Error) -> SendError {
    // reqwest marks failures to open the connection (refused, DNS, TLS
    // handshake) `is_connect`: the request never left.
    if e.is_connect() || e.is_builder() {
        SendError::Definite {
            reason: format!("{e}"),
            retryable: !e.is_builder(),
            retry_after: None,
        }
    } else {
        SendError::Unknown(format!("{e}"))
    }
}

/// A non-2xx answer: the provider refused the message, so nothing was sent.
/// 400, 404, 413 and 422 are the request's own fault and are not retried;
/// anything else (401/403 until the key is fixed, 409, 429, 5xx) is.
pub(crate) async fn status_error(res: reqwest::Response) -> SendError {
    let status = res.status();
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = res.text().await.unwrap_or_default();
    let body: String = body.chars().take(300).collect();
    SendError::Definite {
        reason: format!("HTTP {status}: {body}"),
        retryable: !matches!(status.as_u16(), 400 | 404 | 413 | 422),
        retry_after,
    }
}

/// The answer to a send call that names the provider's message id in the
/// JSON field `field` (Resend `id`, SES `MessageId`, Twilio `sid`). A non-2xx
/// is [`status_error`]; a 2xx we cannot read is `Unknown`, since the provider
/// may have taken the message.
pub(crate) async fn accepted_by_id(
    res: reqwest::Response,
    field: &str,
) -> Result<Accepted, SendError> {
    if !res.status().is_success() {
        return Err(status_error(res).await);
    }
    let answer: serde_json::Value = res
        .json()
        .await
        .map_err(|e| SendError::Unknown(format!("unreadable answer: {e}")))?;
    match answer.get(field).and_then(|v| v.as_str()) {
        Some(id) => Ok(Accepted {
            provider_message_id: id.to_string(),
        }),
        None => Err(SendError::Unknown(format!(
            "unreadable answer: no `{field}`"
        ))),
    }
}

/// An SMS ready to hand over.
#[derive(Debug, Clone)]
pub struct OutgoingSms {
    /// E.164 recipient.
    pub to: String,
    /// Sender number or Messaging Service id.
    pub from: String,
    /// Text.
    pub body: String,
    /// The send intent's key (outbox file name).
    pub idempotency_key: String,
}

/// Sends SMS.
#[async_trait::async_trait]
pub trait SmsProvider: Send + Sync {
    /// `outbox` or `twilio`.
    fn name(&self) -> &'static str;
    /// See [`crate::email::EmailProvider::idempotent`].
    fn idempotent(&self) -> bool;
    /// Hands one SMS over.
    async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, SendError>;
}

/// Writes each SMS as `<dir>/<key>.sms.txt`.
pub struct OutboxSms {
    dir: std::path::PathBuf,
}

impl OutboxSms {
    /// Writes into `dir`.
    pub fn new(dir: std::path::PathBuf) -> Self {
        Self { dir }
    }
}

#[async_trait::async_trait]
impl SmsProvider for OutboxSms {
    fn name(&self) -> &'static str {
        "outbox"
    }
    fn idempotent(&self) -> bool {
        true
    }
    async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, SendError> {
        let name = format!("{}.sms.txt", sms.idempotency_key);
        let text = format!("From: {}\nTo: {}\n\n{}\n", sms.from, sms.to, sms.body);
        crate::email::write_atomically(&self.dir, &name, text.as_bytes())
            .await
            .map_err(|e| SendError::Definite {
                reason: format!("writing the outbox: {e}"),
                retryable: true,
                retry_after: None,
            })?;
        Ok(Accepted {
            provider_message_id: name,
        })
    }
}

/// Twilio's Messages API: form-encoded, HTTP Basic with the account SID and
/// auth token. No idempotency key: an unknown outcome is not retried.
pub struct TwilioSms {
    client: reqwest::Client,
    base: String,
    account_sid: String,
    auth_token: String,
}

impl TwilioSms {
    /// `base` is `https://api.twilio.com` in production.
    pub fn new(
        client: reqwest::Client,
        base: &str,
        account_sid: String,
        auth_token: String,
    ) -> Self {
        Self {
            client,
            base: base.trim_end_matches('/').into(),
            account_sid,
            auth_token,
        }
    }
}

#[async_trait::async_trait]
impl SmsProvider for TwilioSms {
    fn name(&self) -> &'static str {
        "twilio"
    }
    fn idempotent(&self) -> bool {
        false
    }
    async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, SendError> {
        let from_field = if sms.from.starts_with("MG") {
            "MessagingServiceSid"
        } else {
            "From"
        };
        let form = [
            ("To", sms.to.as_str()),
            (from_field, sms.from.as_str()),
            ("Body", sms.body.as_str()),
        ];
        let res = self
            .client
            .post(format!(
                "{}/2010-04-01/Accounts/{}/Messages.json",
                self.base, self.account_sid
            ))
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&form)
            .send()
            .await
            .map_err(http_error)?;
        accepted_by_id(res, "sid").await
    }
}
