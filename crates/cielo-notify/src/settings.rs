//! The `[notify]` settings section and the secrets of the providers.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[notify]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// Email provider: `outbox` (files under `<data_dir>/outbox/`), `smtp`,
    /// `resend`, `sendgrid` or `ses`.
    pub email: String,
    /// SMS provider: `outbox` or `twilio`.
    pub sms: String,
    /// Sender of every email, `Name <address>`; its domain must be verified
    /// with the provider.
    pub from: String,
    /// Reply-To of every email, if any.
    pub reply_to: Option<String>,
    /// The shop owner's address for new orders and alerts; none = no owner email.
    pub owner_email: Option<String>,
    /// The shop owner's phone (E.164) for SMS alerts; none = no owner SMS.
    pub owner_phone: Option<String>,
    /// Sender of SMS: an E.164 number or a Twilio Messaging Service id (`MG…`).
    pub sms_from: Option<String>,
    /// Language of the owner's messages, and of orders that stored none.
    pub default_language: String,
    /// `smtp://[user@]host[:port][?tls=required]` or `smtps://[user@]host[:port]`.
    pub smtp_url: String,
    /// A PEM certificate to trust besides the public roots (a relay's own CA).
    pub smtp_ca_file: Option<PathBuf>,
    /// SMTP limit per step, seconds.
    pub smtp_timeout_secs: u64,
    /// Most SMTP sessions open at once per process (each kept open between
    /// messages for the next one).
    pub smtp_max_sessions: usize,
    /// Resend API base URL.
    pub resend_api_base: String,
    /// SendGrid API base URL.
    pub sendgrid_api_base: String,
    /// SES API base URL; default `https://email.<ses_region>.amazonaws.com`.
    pub ses_api_base: Option<String>,
    /// SES region.
    pub ses_region: String,
    /// SES configuration set (for bounce and complaint events), if any.
    pub ses_configuration_set: Option<String>,
    /// Twilio API base URL.
    pub twilio_api_base: String,
    /// Limit of each HTTP provider call, seconds.
    pub http_timeout_secs: u64,
    /// A directory whose templates replace the embedded ones of the same name.
    pub templates_dir: Option<PathBuf>,
    /// Where `outbox` writes; default `<data_dir>/outbox`.
    pub outbox_dir: Option<PathBuf>,
    /// Attempts to send a message before it is marked failed.
    pub max_attempts: u32,
    /// How far a bounce/complaint webhook's timestamp may be from now, either
    /// way, seconds.
    pub webhook_tolerance_secs: i64,
    /// SendGrid's Event Webhook verification key: base64 DER
    /// (SubjectPublicKeyInfo, as the dashboard shows it). Unset: SendGrid's
    /// webhooks are not accepted.
    pub sendgrid_webhook_public_key: Option<String>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            email: "outbox".into(),
            sms: "outbox".into(),
            from: "Cielo <shop@localhost>".into(),
            reply_to: None,
            owner_email: None,
            owner_phone: None,
            sms_from: None,
            default_language: "en".into(),
            smtp_url: "smtp://127.0.0.1:25".into(),
            smtp_ca_file: None,
            smtp_timeout_secs: 30,
            smtp_max_sessions: 20,
            resend_api_base: "https://api.resend.com".into(),
            sendgrid_api_base: "https://api.sendgrid.com".into(),
            ses_api_base: None,
            ses_region: "us-east-1".into(),
            ses_configuration_set: None,
            twilio_api_base: "https://api.twilio.com".into(),
            http_timeout_secs: 15,
            templates_dir: None,
            outbox_dir: None,
            max_attempts: 8,
            webhook_tolerance_secs: crate::webhooks::DEFAULT_TOLERANCE_SECS,
            sendgrid_webhook_public_key: None,
        }
    }
}

impl NotifySettings {
    /// Checks the choices (not the secrets: see [`crate::Notify::new`]).
    pub fn validate(&self) -> anyhow::Result<()> {
        if !["outbox", "smtp", "resend", "sendgrid", "ses"].contains(&self.email.as_str()) {
            anyhow::bail!("notify.email must be outbox, smtp, resend, sendgrid or ses");
        }
        if !["outbox", "twilio"].contains(&self.sms.as_str()) {
            anyhow::bail!("notify.sms must be outbox or twilio");
        }
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            anyhow::bail!("notify.from must be an address or `Name <address>`");
        }
        if let Some(r) = &self.reply_to {
            if r.parse::<lettre::message::Mailbox>().is_err() {
                anyhow::bail!("notify.reply_to must be an address or `Name <address>`");
            }
        }
        if let Some(p) = &self.owner_phone {
            if !crate::phone::is_e164(p) {
                anyhow::bail!("notify.owner_phone must be an E.164 number such as +34600123456");
            }
        }
        if crate::format::supported(&self.default_language).is_none() {
            anyhow::bail!(
                "notify.default_language must be one of {:?}",
                crate::format::LANGUAGES
            );
        }
        if self.email == "smtp" {
            crate::email::SmtpConfig::parse(&self.smtp_url)?;
        }
        if self.sms == "twilio" && self.sms_from.is_none() {
            anyhow::bail!("notify.sms = \"twilio\" needs notify.sms_from");
        }
        if self.smtp_max_sessions == 0 {
            anyhow::bail!("notify.smtp_max_sessions must be at least 1");
        }
        if self.max_attempts == 0 {
            anyhow::bail!("notify.max_attempts must be at least 1");
        }
        if self.webhook_tolerance_secs < 1 {
            anyhow::bail!("notify.webhook_tolerance_secs must be at least 1");
        }
        Ok(())
    }
}

/// Provider secrets, from the environment only.
#[derive(Clone, Default)]
pub struct NotifySecrets {
    /// `CIELO_SMTP_PASSWORD`.
    pub smtp_password: Option<String>,
    /// `CIELO_RESEND_API_KEY`.
    pub resend_api_key: Option<String>,
    /// `CIELO_SENDGRID_API_KEY`.
    pub sendgrid_api_key: Option<String>,
    /// `CIELO_TWILIO_ACCOUNT_SID`.
    pub twilio_account_sid: Option<String>,
    /// `CIELO_TWILIO_AUTH_TOKEN`.
    pub twilio_auth_token: Option<String>,
    /// `CIELO_RESEND_WEBHOOK_SECRET`: the Svix signing secret(s) of the
    /// Resend webhook endpoint, `whsec_…` (comma-separated during a rotation).
    pub resend_webhook_secret: Option<String>,
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`.
    pub aws: Option<crate::email::AwsCredentials>,
}

impl std::fmt::Debug for NotifySecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |o: &Option<String>| if o.is_some() { "set" } else { "unset" };
        f.debug_struct("NotifySecrets")
            .field("smtp_password", &set(&self.smtp_password))
            .field("resend_api_key", &set(&self.resend_api_key))
            .field("sendgrid_api_key", &set(&self.sendgrid_api_key))
            .field("twilio_auth_token", &set(&self.twilio_auth_token))
            .field("resend_webhook_secret", &set(&self.resend_webhook_secret))
            .finish_non_exhaustive()
    }
}

/// The environment variables [`NotifySecrets::from_env`] reads.
pub const SECRET_VARS: &[&str] = &[
    "CIELO_SMTP_PASSWORD",
    "CIELO_RESEND_API_KEY",
    "CIELO_SENDGRID_API_KEY",
    "CIELO_TWILIO_ACCOUNT_SID",
    "CIELO_TWILIO_AUTH_TOKEN",
    "CIELO_RESEND_WEBHOOK_SECRET",
];

impl NotifySecrets {
    /// Reads the secrets from the environment.
    pub fn from_env() -> Self {
        let var = |n: &str| std::env::var(n).ok().filter(|s| !s.is_empty());
        let aws = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(k), Some(s)) => Some(crate::email::AwsCredentials {
                access_key_id: k,
                secret_access_key: s,
                session_token: var("AWS_SESSION_TOKEN"),
            }),
            _ => None,
        };
        Self {
            smtp_password: var("CIELO_SMTP_PASSWORD"),
            resend_api_key: var("CIELO_RESEND_API_KEY"),
            sendgrid_api_key: var("CIELO_SENDGRID_API_KEY"),
            twilio_account_sid: var("CIELO_TWILIO_ACCOUNT_SID"),
            twilio_auth_token: var("CIELO_TWILIO_AUTH_TOKEN"),
            resend_webhook_secret: var("CIELO_RESEND_WEBHOOK_SECRET"),
            aws,
        }
    }
}
