//! Bounce and complaint webhooks from the email providers.
//!
//! Verify, store, enqueue — like the payment inbox: a webhook whose signature
//! verifies is written to `notify_webhook_event` under the provider's event
//! id, with the job that processes it, in one transaction; the 2xx goes out
//! once that commits. A replay finds the row and stores nothing. The job
//! matches the event to a delivery by the provider's message id recorded
//! when the message was sent, marks the delivery (and the message, when it is
//! about its current send) `delivered`, `bounced` or `complained`, and puts a
//! hard-bounced or complaining address on the suppression list. An event
//! about a message id we never sent is recorded (`unmatched`), not refused.
//!
//! Providers:
//! - **Resend**, through Svix: headers `svix-id`, `svix-timestamp`,
//!   `svix-signature`; see [`verify_svix`].
//! - **SendGrid**'s Signed Event Webhook: ECDSA P-256 over timestamp + body;
//!   see [`verify_sendgrid`].

use crate::model::{DeliveryStatus, MessageStatus, Suppression};
use crate::store;
use base64::Engine;
use cielo_core::Timestamp;
use cielo_jobs::NewJob;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Job kind: process stored webhook events, `{"provider", "event_ids": [...]}`
/// (queue [`crate::EVENT_QUEUE`]).
pub const KIND_WEBHOOK_EVENT: &str = "notify.webhook_event";

/// Default tolerance on a webhook's timestamp, seconds, in both directions
/// (Svix's own libraries use 5 minutes).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Why a webhook's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A signing header is missing or empty.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// The timestamp header is not a Unix time in seconds.
    #[error("the timestamp header is not a Unix time in seconds")]
    BadTimestamp,
    /// The timestamp is further from now than the tolerance, either way.
    #[error("timestamp outside the tolerance ({age} s from now, tolerance {tolerance} s)")]
    OutsideTolerance {
        /// Seconds between the timestamp and now (negative: in the future).
        age: i64,
        /// Tolerance in seconds.
        tolerance: i64,
    },
    /// No signature matches the payload.
    #[error("no signature matches the payload")]
    Mismatch,
}

/// Why a webhook was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No secret or key is configured for this provider's webhooks.
    #[error("webhooks from `{0}` are not set up")]
    NotConfigured(String),
    /// The signature did not verify.
    #[error("invalid signature: {0}")]
    Signature(#[from] SignatureError),
    /// Verified, but not events we can read.
    #[error("{0}")]
    Malformed(String),
    /// Storing failed; the provider should retry.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A webhook that verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct WebhookAck {
    /// Events the request carried.
    pub events: usize,
    /// Of those, events seen before (nothing stored for them).
    pub duplicates: usize,
}

/// The decoded secrets of Svix endpoints (`whsec_<base64>`; several during a
/// rotation). Fails on a secret that is not base64.
pub fn svix_keys(secrets: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    secrets
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let b64 = s.strip_prefix("whsec_").unwrap_or(s);
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| anyhow::anyhow!("a webhook signing secret is not `whsec_<base64>`"))
        })
        .collect()
}

fn check_time(timestamp: &str, now: i64, tolerance: i64) -> Result<i64, SignatureError> {
    let t = timestamp.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::BadTimestamp);
    }
    let t: i64 = t.parse().map_err(|_| SignatureError::BadTimestamp)?;
    let age = now - t;
    if age.abs() > tolerance {
        return Err(SignatureError::OutsideTolerance { age, tolerance });
    }
    Ok(t)
}

/// Verifies a Svix-signed webhook (Resend), as Svix's and Standard Webhooks'
/// libraries do: the signed content is `svix-id + "." + svix-timestamp + "."
/// + raw body`, the MAC is HMAC-SHA256 with the key decoded from the secret,
/// base64-encoded; `svix-signature` is a space-separated list of
/// `v1,<base64>` of which any one may match (compared in constant time; other
/// versions are ignored), and the timestamp (Unix seconds) must be within
/// `tolerance` seconds of `now` in **both** directions.
pub fn verify_svix(
    keys: &[Vec<u8>],
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
    tolerance: i64,
) -> Result<(), SignatureError> {
    if id.is_empty() {
        return Err(SignatureError::MissingHeader("svix-id"));
    }
    if timestamp.is_empty() {
        return Err(SignatureError::MissingHeader("svix-timestamp"));
    }
    if signatures.is_empty() {
        return Err(SignatureError::MissingHeader("svix-signature"));
    }
    let t = check_time(timestamp, now, tolerance)?;
    let given: Vec<Vec<u8>> = signatures
        .split(' ')
        .filter_map(|s| s.split_once(','))
        .filter(|(v, _)| *v == "v1")
        .filter_map(|(_, sig)| base64::engine::general_purpose::STANDARD.decode(sig).ok())
        .collect();
    for key in keys {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        let expected = mac.finalize().into_bytes();
        if given
            .iter()
            .any(|g| bool::from(g.as_slice().ct_eq(expected.as_slice())))
        {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// SendGrid's header carrying the base64 DER ECDSA signature.
pub const SENDGRID_SIGNATURE: &str = "x-twilio-email-event-webhook-signature";
/// SendGrid's header carrying the signed timestamp (Unix seconds).
pub const SENDGRID_TIMESTAMP: &str = "x-twilio-email-event-webhook-timestamp";

/// Decodes SendGrid's verification key: base64 DER SubjectPublicKeyInfo of
/// a P-256 key, as the dashboard and the API show it (no PEM armour).
pub fn sendgrid_key(b64: &str) -> anyhow::Result<p256::ecdsa::VerifyingKey> {
    use p256::pkcs8::DecodePublicKey;
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| anyhow::anyhow!("the SendGrid webhook key is not base64"))?;
    p256::ecdsa::VerifyingKey::from_public_key_der(&der).map_err(|_| {
        anyhow::anyhow!("the SendGrid webhook key is not a P-256 public key (base64 DER)")
    })
}

/// Verifies SendGrid's Signed Event Webhook: the signature (base64 of an
/// ASN.1 DER ECDSA P-256/SHA-256 signature) is over the timestamp header's
/// bytes followed by the raw body, no separator. SendGrid documents no
/// tolerance; the timestamp must be within `tolerance` seconds of `now`
/// either way, as for Svix.
pub fn verify_sendgrid(
    key: &p256::ecdsa::VerifyingKey,
    signature: &str,
    timestamp: &str,
    body: &[u8],
    now: i64,
    tolerance: i64,
) -> Result<(), SignatureError> {
    use p256::ecdsa::signature::Verifier;
    if signature.is_empty() {
        return Err(SignatureError::MissingHeader(SENDGRID_SIGNATURE));
    }
    if timestamp.is_empty() {
        return Err(SignatureError::MissingHeader(SENDGRID_TIMESTAMP));
    }
    check_time(timestamp, now, tolerance)?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .map_err(|_| SignatureError::Mismatch)?;
    let sig = p256::ecdsa::Signature::from_der(&der).map_err(|_| SignatureError::Mismatch)?;
    let mut signed = Vec::with_capacity(timestamp.len() + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.extend_from_slice(body);
    key.verify(&signed, &sig)
        .map_err(|_| SignatureError::Mismatch)
}

/// SendGrid's batch of events. The event id is `sg_event_id`; the message
/// is the part of `sg_message_id` before its first `.`, which is the
/// `X-Message-Id` SendGrid answered the send with.
pub(crate) fn parse_sendgrid(body: &[u8]) -> Result<Vec<ProviderEvent>, String> {
    let events: Vec<serde_json::Value> =
        serde_json::from_slice(body).map_err(|e| format!("not a SendGrid event array: {e}"))?;
    events
        .into_iter()
        .map(|e| {
            let payload = e.to_string();
            let text = |k: &str| e.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let event_type = text("event").ok_or("an event has no `event`")?;
            // Every event carries `sg_event_id`; should one not, its content
            // names it, so a replay still finds it.
            let event_id = text("sg_event_id")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| {
                    let digest = <Sha256 as sha2::Digest>::digest(payload.as_bytes());
                    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                    format!("sha256:{hex}")
                });
            let provider_message_id = text("sg_message_id")
                .map(|m| m.split('.').next().unwrap_or_default().to_string())
                .filter(|s| !s.is_empty());
            Ok(ProviderEvent {
                event_id,
                event_type,
                provider_message_id,
                payload,
            })
        })
        .collect()
}

/// What an event says about a message we sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// It reached the recipient's server.
    Delivered,
    /// Refused for good: the address is suppressed.
    Bounced,
    /// Reported as spam: the address is suppressed.
    Complained,
    /// Kept for the record only (delayed, opened, …). An event that would
    /// move a delivery backwards (`delivered` after a bounce) is recorded
    /// too.
    Record,
}

/// One provider event, as stored.
#[derive(Debug, Clone)]
pub(crate) struct ProviderEvent {
    pub event_id: String,
    pub event_type: String,
    pub provider_message_id: Option<String>,
    pub payload: String,
}

/// Resend's event (the Svix message id is the event id).
pub(crate) fn parse_resend(svix_id: &str, body: &[u8]) -> Result<Vec<ProviderEvent>, String> {
    #[derive(serde::Deserialize)]
    struct Data {
        #[serde(default)]
        email_id: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Event {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        data: Option<Data>,
    }
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_string())?;
    let e: Event = serde_json::from_str(text).map_err(|e| format!("not a Resend event: {e}"))?;
    Ok(vec![ProviderEvent {
        event_id: svix_id.to_string(),
        event_type: e.kind,
        provider_message_id: e.data.and_then(|d| d.email_id).filter(|s| !s.is_empty()),
        payload: text.to_string(),
    }])
}

/// What a stored event of `provider` does.
pub(crate) fn effect(provider: &str, event_type: &str) -> Effect {
    match (provider, event_type) {
        ("resend", "email.delivered") | ("sendgrid", "delivered") => Effect::Delivered,
        // Resend reports permanent bounces only; SendGrid's `bounce` is a
        // hard bounce (temporary trouble is `deferred`), and `dropped` means
        // SendGrid will not send to the address at all (it bounced or
        // complained before, or is invalid).
        ("resend", "email.bounced") | ("sendgrid", "bounce") | ("sendgrid", "dropped") => {
            Effect::Bounced
        }
        ("resend", "email.complained") | ("sendgrid", "spamreport") => Effect::Complained,
        _ => Effect::Record,
    }
}

impl crate::Notify {
    /// Verifies a provider's webhook on its raw bytes and stores its events,
    /// with the job that processes them, before answering. Nothing is stored
    /// unless the signature verifies; a refused signature is counted (see
    /// [`crate::Notify::webhook_signature_failures`]).
    ///
    /// Errors: [`WebhookError::NotConfigured`] for a provider without a
    /// secret or key; [`WebhookError::Signature`]; [`WebhookError::Malformed`]
    /// for a verified body that is not the provider's events;
    /// [`WebhookError::Internal`] when storing failed (the provider retries).
    pub async fn receive_webhook(
        &self,
        provider: &str,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<WebhookAck, WebhookError> {
        let inner = &self.inner;
        let now = Timestamp::now().as_unix_seconds();
        let header = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let tolerance = inner.settings.webhook_tolerance_secs;
        let verified = match provider {
            "sendgrid" if inner.sendgrid_webhook_key.is_some() => verify_sendgrid(
                inner.sendgrid_webhook_key.as_ref().expect("checked"),
                &header(SENDGRID_SIGNATURE),
                &header(SENDGRID_TIMESTAMP),
                body,
                now,
                tolerance,
            ),
            "resend" if !inner.resend_webhook_keys.is_empty() => verify_svix(
                &inner.resend_webhook_keys,
                &header("svix-id"),
                &header("svix-timestamp"),
                &header("svix-signature"),
                body,
                now,
                tolerance,
            ),
            _ => return Err(WebhookError::NotConfigured(provider.to_string())),
        };
        if let Err(e) = verified {
            if let Err(count_error) = store::count_rejection(inner.db.pool(), provider, now).await {
                tracing::warn!(error = %count_error, "could not count a refused webhook");
            }
            tracing::warn!(provider, error = %e, "webhook refused");
            return Err(e.into());
        }
        let events = match provider {
            "resend" => parse_resend(&header("svix-id"), body),
            "sendgrid" => parse_sendgrid(body),
            _ => unreachable!("only configured providers verify"),
        }
        .map_err(WebhookError::Malformed)?;
        let stamp = Timestamp::now();
        let mut tx = inner.db.begin_write().await.map_err(anyhow::Error::from)?;
        let mut fresh = Vec::new();
        for e in &events {
            if store::insert_webhook_event(&mut tx, provider, e, stamp)
                .await
                .map_err(anyhow::Error::from)?
            {
                fresh.push(e.event_id.clone());
            }
        }
        if !fresh.is_empty() {
            let job = NewJob::new(
                KIND_WEBHOOK_EVENT,
                serde_json::json!({"provider": provider, "event_ids": fresh}),
            )
            .queue(crate::EVENT_QUEUE)
            .max_attempts(20);
            cielo_jobs::enqueue(&mut tx, job)
                .await
                .map_err(anyhow::Error::from)?;
        }
        tx.commit().await.map_err(anyhow::Error::from)?;
        Ok(WebhookAck {
            events: events.len(),
            duplicates: events.len() - fresh.len(),
        })
    }

    /// Applies one stored webhook event (the processing job's body): matches
    /// it to a delivery by the provider's message id, marks the delivery and
    /// the message, suppresses the address of a hard bounce or complaint,
    /// and records the outcome (`applied`, `recorded`, `unmatched`). An event
    /// processed before does nothing.
    pub(crate) async fn process_webhook_event(
        &self,
        provider: &str,
        event_id: &str,
    ) -> anyhow::Result<()> {
        let mut tx = self.inner.db.begin_write().await?;
        let Some((event_type, pmid)) =
            store::pending_webhook_event(&mut tx, provider, event_id).await?
        else {
            return Ok(());
        };
        let now = Timestamp::now();
        let matched = match &pmid {
            Some(p) => store::delivery_by_provider_id(&mut tx, provider, p).await?,
            None => None,
        };
        let (message_id, outcome) = match (matched, pmid) {
            (Some((delivery, message, recipient)), Some(pmid)) => {
                let marks = match effect(provider, &event_type) {
                    Effect::Record => None,
                    Effect::Delivered => Some((
                        DeliveryStatus::Delivered,
                        MessageStatus::Delivered,
                        &[DeliveryStatus::Sent][..],
                        &[MessageStatus::Sent][..],
                        None,
                    )),
                    Effect::Bounced => Some((
                        DeliveryStatus::Bounced,
                        MessageStatus::Bounced,
                        &[DeliveryStatus::Sent, DeliveryStatus::Delivered][..],
                        &[MessageStatus::Sent, MessageStatus::Delivered][..],
                        Some("bounced"),
                    )),
                    Effect::Complained => Some((
                        DeliveryStatus::Complained,
                        MessageStatus::Complained,
                        &[DeliveryStatus::Sent, DeliveryStatus::Delivered][..],
                        &[MessageStatus::Sent, MessageStatus::Delivered][..],
                        Some("complained"),
                    )),
                };
                match marks {
                    None => (Some(message), "recorded"),
                    Some((to_d, to_m, from_d, from_m, suppress)) => {
                        // Monotonic: a late `delivered` never undoes a bounce.
                        let changed =
                            store::mark_delivery(&mut tx, &delivery, from_d, to_d).await?;
                        store::mark_message(&mut tx, &message, &pmid, from_m, to_m, now).await?;
                        if let Some(reason) = suppress {
                            store::suppress(
                                &mut tx,
                                &Suppression {
                                    address: recipient.trim().to_ascii_lowercase(),
                                    reason: reason.to_string(),
                                    provider: provider.to_string(),
                                    event_id: event_id.to_string(),
                                    message_id: Some(message.clone()),
                                    created_at: now,
                                },
                            )
                            .await?;
                        }
                        (Some(message), if changed { "applied" } else { "recorded" })
                    }
                }
            }
            _ => (None, "unmatched"),
        };
        store::finish_webhook_event(
            &mut tx,
            provider,
            event_id,
            message_id.as_deref(),
            outcome,
            now,
        )
        .await?;
        tx.commit().await?;
        metrics::counter!("cielo_notify_webhook_events_total", "provider" => provider.to_string(), "outcome" => outcome)
            .increment(1);
        tracing::info!(
            provider,
            event_id,
            event_type,
            outcome,
            "webhook event processed"
        );
        Ok(())
    }

    /// The suppressed addresses, newest first (at most `limit`, 1–500).
    pub async fn suppressions(&self, limit: i64) -> crate::Result<Vec<Suppression>> {
        if !(1..=500).contains(&limit) {
            return Err(crate::Error::Invalid {
                field: "limit",
                detail: "must be between 1 and 500".into(),
            });
        }
        Ok(store::suppressions(self.inner.db.pool(), limit).await?)
    }

    /// Takes an address off the suppression list (an owner who fixed it);
    /// later mail to it is sent again. Errors with not found when it was not
    /// on the list.
    pub async fn remove_suppression(&self, address: &str) -> crate::Result<()> {
        let address = address.trim().to_ascii_lowercase();
        if store::unsuppress(self.inner.db.pool(), &address).await? {
            Ok(())
        } else {
            Err(crate::Error::SuppressionNotFound(address))
        }
    }

    /// Bounce and complaint webhooks refused for their signature in the last
    /// `minutes` minutes (every provider, every process), the current minute
    /// included.
    pub async fn webhook_signature_failures(&self, minutes: i64) -> anyhow::Result<i64> {
        let now = Timestamp::now().as_unix_seconds().div_euclid(60);
        Ok(store::rejections_since(self.inner.db.pool(), now - minutes.max(1)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (the scheme Svix
    /// signs Resend's webhooks with).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn keys() -> Vec<Vec<u8>> {
        svix_keys(SECRET).unwrap()
    }

    #[test]
    fn the_standard_webhooks_example_verifies() {
        let ts = TS.to_string();
        assert_eq!(verify_svix(&keys(), ID, &ts, SIG, BODY, TS, 300), Ok(()));
        // Any one of several signatures, other versions ignored.
        let many = format!("v2,abc v1,AAAA {SIG}");
        assert_eq!(
            verify_svix(&keys(), ID, &ts, &many, BODY, TS + 10, 300),
            Ok(())
        );
    }

    #[test]
    fn a_changed_body_id_or_secret_does_not_verify() {
        let ts = TS.to_string();
        let other = br#"{"test": 2432232315}"#;
        assert_eq!(
            verify_svix(&keys(), ID, &ts, SIG, other, TS, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_svix(&keys(), "msg_other", &ts, SIG, BODY, TS, 300),
            Err(SignatureError::Mismatch)
        );
        let wrong = svix_keys("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert_eq!(
            verify_svix(&wrong, ID, &ts, SIG, BODY, TS, 300),
            Err(SignatureError::Mismatch)
        );
        // The version tag counts.
        let v2 = SIG.replacen("v1,", "v2,", 1);
        assert_eq!(
            verify_svix(&keys(), ID, &ts, &v2, BODY, TS, 300),
            Err(SignatureError::Mismatch)
        );
        // A rotation: the old and the new secret both pass.
        let both = svix_keys(&format!("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,{SECRET}")).unwrap();
        assert_eq!(verify_svix(&both, ID, &ts, SIG, BODY, TS, 300), Ok(()));
    }

    #[test]
    fn the_timestamp_must_be_within_the_tolerance_both_ways() {
        let ts = TS.to_string();
        assert_eq!(
            verify_svix(&keys(), ID, &ts, SIG, BODY, TS + 301, 300),
            Err(SignatureError::OutsideTolerance {
                age: 301,
                tolerance: 300
            })
        );
        assert_eq!(
            verify_svix(&keys(), ID, &ts, SIG, BODY, TS - 301, 300),
            Err(SignatureError::OutsideTolerance {
                age: -301,
                tolerance: 300
            })
        );
        assert_eq!(
            verify_svix(&keys(), ID, &ts, SIG, BODY, TS - 300, 300),
            Ok(())
        );
        assert_eq!(
            verify_svix(&keys(), ID, "16142653x0", SIG, BODY, TS, 300),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify_svix(&keys(), ID, "", SIG, BODY, TS, 300),
            Err(SignatureError::MissingHeader("svix-timestamp"))
        );
    }

    #[test]
    fn a_secret_that_is_not_base64_is_refused() {
        assert!(svix_keys("whsec_not base64!").is_err());
    }

    /// DER SubjectPublicKeyInfo of a P-256 key: the fixed header of
    /// id-ecPublicKey/prime256v1, then the uncompressed point.
    fn spki_b64(key: &p256::ecdsa::VerifyingKey) -> String {
        let mut der = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        der.extend_from_slice(key.to_encoded_point(false).as_bytes());
        base64::engine::general_purpose::STANDARD.encode(der)
    }

    #[test]
    fn a_sendgrid_signature_over_timestamp_and_body_verifies_and_nothing_else_does() {
        use p256::ecdsa::signature::Signer;
        let signer = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let key = sendgrid_key(&spki_b64(signer.verifying_key())).unwrap();
        let body = br#"[{"email":"a@example.com","event":"bounce","sg_event_id":"e1","sg_message_id":"abc.filter1"}]"#;
        let ts = "1700000000";
        let sig: p256::ecdsa::Signature = signer.sign(&[ts.as_bytes(), &body[..]].concat());
        let b64 = base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes());
        assert_eq!(
            verify_sendgrid(&key, &b64, ts, body, 1_700_000_100, 300),
            Ok(())
        );
        let mut tampered = body.to_vec();
        tampered[12] = b'b';
        assert_eq!(
            verify_sendgrid(&key, &b64, ts, &tampered, 1_700_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is part of what is signed.
        assert_eq!(
            verify_sendgrid(&key, &b64, "1700000001", body, 1_700_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            verify_sendgrid(&key, &b64, ts, body, 1_700_000_301, 300),
            Err(SignatureError::OutsideTolerance { .. })
        ));
        assert_eq!(
            verify_sendgrid(&key, "", ts, body, 1_700_000_000, 300),
            Err(SignatureError::MissingHeader(SENDGRID_SIGNATURE))
        );
        let events = parse_sendgrid(body).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_id, "e1");
        assert_eq!(events[0].event_type, "bounce");
        assert_eq!(events[0].provider_message_id.as_deref(), Some("abc"));
        assert!(sendgrid_key("not a key").is_err());
    }
}
