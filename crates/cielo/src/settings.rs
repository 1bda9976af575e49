//! Settings: defaults in code, then a TOML file (`--config`), then `CIELO_*`
//! environment variables (environment wins), then flags of the command at
//! hand. Secrets are never read from the file; they come only from the
//! environment (see `docs/configuration.md`, which documents every key).

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// All settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where the SQLite file, local objects and the generated secret live.
    pub data_dir: PathBuf,
    /// Database.
    pub database: DatabaseSettings,
    /// HTTP server.
    pub http: HttpSettings,
    /// Logging.
    pub log: LogSettings,
    /// The shop.
    pub shop: ShopSettings,
    /// Flat shipping rates.
    pub shipping: ShippingSettings,
    /// Tax rates.
    pub tax: TaxSettings,
    /// Object storage.
    pub storage: StorageSettings,
    /// Accounts and sign-in.
    pub accounts: AccountSettings,
    /// Per-client-IP rate limits.
    pub limits: LimitSettings,
    /// Payments.
    pub payments: PaymentSettings,
    /// Order housekeeping.
    pub orders: cielo_orders::OrderSettings,
    /// Print labs and the edit window (`[fulfillment]`, `[fulfillment.local]`).
    pub fulfillment: cielo_fulfillment::FulfillmentSettings,
    /// The background job queue.
    pub jobs: cielo_jobs::JobsSettings,
    /// Periodic jobs (`[[schedule]]` entries); setting any replaces the defaults.
    pub schedule: Vec<cielo_jobs::ScheduleEntry>,
    /// Reconciliation and alert rules (`[ops]`, `[[ops.alerts]]`).
    pub ops: cielo_ops::OpsSettings,
    /// Email and SMS notifications.
    pub notify: cielo_notify::NotifySettings,
    /// Digital downloads: how long buyers can download, how long a link lives.
    pub downloads: cielo_flows::DownloadSettings,
}

/// Job settings, with lanes of their own: print renders one at a time per
/// worker (a 24×36 in poster uses both cores on its own), and calls to the
/// print labs and to email and SMS providers many at once (each waits on the
/// provider, not on this machine).
fn default_jobs() -> cielo_jobs::JobsSettings {
    let mut jobs = cielo_jobs::JobsSettings::default();
    jobs.queues.insert(
        cielo_flows::RENDER_QUEUE.to_string(),
        cielo_jobs::QueueSettings { concurrency: 1 },
    );
    jobs.queues.insert(
        cielo_fulfillment::jobs::LAB_QUEUE.to_string(),
        cielo_jobs::QueueSettings { concurrency: 50 },
    );
    jobs.queues.insert(
        cielo_notify::QUEUE.to_string(),
        cielo_jobs::QueueSettings { concurrency: 20 },
    );
    // Order and bounce events become messages here: database work, apart
    // from the sends so that it never waits behind a slow provider.
    jobs.queues.insert(
        cielo_notify::EVENT_QUEUE.to_string(),
        cielo_jobs::QueueSettings { concurrency: 10 },
    );
    jobs
}

/// The periodic jobs Cielo runs unless `[[schedule]]` says otherwise.
pub fn default_schedule() -> Vec<cielo_jobs::ScheduleEntry> {
    let entry = |name: &str, cron: &str, kind: &str| cielo_jobs::ScheduleEntry {
        name: name.into(),
        cron: cron.into(),
        kind: kind.into(),
        queue: "maintenance".into(),
        payload: serde_json::json!({}),
        max_attempts: 3,
        timezone: None,
    };
    vec![
        entry(
            "expire-unpaid-orders",
            "*/10 * * * *",
            cielo_orders::KIND_EXPIRE_UNPAID,
        ),
        entry(
            "expire-stale-carts",
            "17 * * * *",
            cielo_orders::KIND_EXPIRE_CARTS,
        ),
        entry(
            "payments-catch-up",
            "*/5 * * * *",
            cielo_payments::KIND_CATCH_UP,
        ),
        entry(
            "fulfillment-catch-up",
            "*/10 * * * *",
            cielo_fulfillment::jobs::CATCH_UP,
        ),
        entry(
            "lifecycle-catch-up",
            "*/10 * * * *",
            cielo_flows::KIND_CATCH_UP,
        ),
        entry("ops-reconcile", "41 * * * *", cielo_ops::KIND_RECONCILE),
        entry("ops-alerts", "* * * * *", cielo_ops::KIND_ALERTS),
    ]
}

/// `[database]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` or `postgres://…`; default `sqlite://<data_dir>/cielo.db`.
    pub url: Option<String>,
    /// Pool size.
    pub max_connections: u32,
}

/// `[http]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Address to listen on.
    pub bind: String,
    /// Public base URL; default `http://<bind>`.
    pub public_url: Option<String>,
    /// Largest JSON body, bytes.
    pub body_limit_bytes: usize,
    /// Largest upload through a local signed URL, bytes.
    pub upload_limit_bytes: usize,
    /// CORS origins (`*` for any); empty = same-origin only.
    pub cors_origins: Vec<String>,
    /// Take the client IP from `X-Forwarded-For` (only behind your own proxy).
    pub trust_forwarded_for: bool,
    /// How long store listings may be served from memory, milliseconds (0 = off).
    pub catalog_cache_ttl_ms: u64,
    /// Longest wait for a request's headers, and longest idle time of a
    /// kept-alive connection, seconds.
    pub header_read_timeout_secs: u64,
    /// Longest a request may take, body and handler together, seconds (0 = off).
    pub request_timeout_secs: u64,
    /// Most connections open at once, idle ones included.
    pub max_connections: usize,
}

/// `[limits]`: per-client-IP rate limits (0 turns one off).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Carts created per minute.
    pub cart_creations_per_minute: u32,
    /// Checkouts per minute.
    pub checkouts_per_minute: u32,
    /// Place searches per minute.
    pub place_searches_per_minute: u32,
    /// Star-map previews per minute.
    pub previews_per_minute: u32,
    /// Webhook deliveries per minute.
    pub webhooks_per_minute: u32,
    /// Registrations per hour.
    pub registrations_per_hour: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        let d = cielo_http::limits::RateLimitConfig::default();
        Self {
            cart_creations_per_minute: d.cart_creations_per_minute,
            checkouts_per_minute: d.checkouts_per_minute,
            place_searches_per_minute: d.place_searches_per_minute,
            previews_per_minute: d.previews_per_minute,
            webhooks_per_minute: d.webhooks_per_minute,
            registrations_per_hour: d.registrations_per_hour,
        }
    }
}

impl LimitSettings {
    /// The edge's form of these limits.
    pub fn to_config(&self) -> cielo_http::limits::RateLimitConfig {
        cielo_http::limits::RateLimitConfig {
            cart_creations_per_minute: self.cart_creations_per_minute,
            checkouts_per_minute: self.checkouts_per_minute,
            place_searches_per_minute: self.place_searches_per_minute,
            previews_per_minute: self.previews_per_minute,
            webhooks_per_minute: self.webhooks_per_minute,
            registrations_per_hour: self.registrations_per_hour,
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `auto` (readable on a terminal, JSON otherwise), `json` or `pretty`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `info,cielo_orders=debug`.
    pub level: String,
    /// OpenTelemetry traces (builds with the `otel` feature): `auto` (when
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
    /// is set), `on` or `off`.
    pub traces: String,
}

/// `[shop]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShopSettings {
    /// Shop name, shown on pages.
    pub name: String,
    /// Currency of new carts (ISO 4217).
    pub currency: String,
    /// Seed the demo catalog into an empty database on `serve`.
    pub demo: bool,
}

/// `[shipping]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShippingSettings {
    /// Flat rate for countries not listed, minor units of the shop currency.
    pub default_rate: i64,
    /// Rates by ISO country code or `CC-REGION`, minor units.
    pub rates: BTreeMap<String, i64>,
    /// `flat` (the rates above) or `lab` (the print labs' quotes at checkout,
    /// the flat rate when a lab has none).
    pub source: String,
    /// Countries the shop ships to (ISO 3166-1 alpha-2); checkouts and
    /// address changes to any other are refused.
    pub countries: Vec<String>,
}

/// `[tax]`
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TaxSettings {
    /// Rate for countries not listed, basis points (825 = 8.25 %).
    pub default_rate_bp: u32,
    /// Rates by ISO country code, basis points.
    pub rates: BTreeMap<String, u32>,
}

/// `[storage]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// `local` or `s3`.
    pub backend: String,
    /// Directory for `local`; default `<data_dir>/objects`.
    pub local_dir: Option<PathBuf>,
    /// Bucket for `s3`.
    pub s3_bucket: Option<String>,
    /// Region for `s3`.
    pub s3_region: String,
    /// Endpoint of an S3-compatible service; unset for AWS.
    pub s3_endpoint: Option<String>,
    /// Public base URL for images (a CDN in front of the bucket).
    pub public_base_url: Option<String>,
}

/// `[accounts]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountSettings {
    /// How long a session lasts, hours.
    pub session_ttl_hours: i64,
    /// Sign-in attempts per client IP per window.
    pub login_attempts_per_ip: u32,
    /// Sign-in attempts per account per window.
    pub login_attempts_per_account: u32,
    /// The rate-limit window, seconds.
    pub login_window_secs: u64,
}

/// `[payments]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentSettings {
    /// `test` (built in) or `stripe`.
    pub provider: String,
    /// How long a payment page stays open, minutes.
    pub session_ttl_minutes: i64,
    /// Stripe's API base URL.
    pub stripe_api_base: String,
    /// Oldest accepted webhook signature, seconds (0 turns the check off).
    pub webhook_tolerance_secs: i64,
    /// How far back of its cursor the catch-up lists events again, seconds.
    pub catch_up_overlap_secs: i64,
    /// How far back the first catch-up looks, seconds.
    pub catch_up_initial_secs: i64,
    /// Orders waiting for payment longer than this are asked about directly, minutes.
    pub recover_after_minutes: i64,
    /// How the test provider delivers webhooks: `immediate`, `late:SECONDS`, `twice`, `never`.
    pub test_delivery: String,
    /// Run the catch-up once when the process starts.
    pub catch_up_on_start: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            database: DatabaseSettings::default(),
            http: HttpSettings::default(),
            log: LogSettings::default(),
            shop: ShopSettings::default(),
            shipping: ShippingSettings::default(),
            tax: TaxSettings::default(),
            storage: StorageSettings::default(),
            accounts: AccountSettings::default(),
            limits: LimitSettings::default(),
            payments: PaymentSettings::default(),
            orders: Default::default(),
            fulfillment: Default::default(),
            jobs: default_jobs(),
            schedule: default_schedule(),
            ops: Default::default(),
            notify: cielo_notify::NotifySettings::default(),
            downloads: cielo_flows::DownloadSettings::default(),
        }
    }
}
impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 16,
        }
    }
}
impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            public_url: None,
            body_limit_bytes: 1024 * 1024,
            upload_limit_bytes: 20 * 1024 * 1024,
            cors_origins: Vec::new(),
            trust_forwarded_for: false,
            catalog_cache_ttl_ms: 1000,
            header_read_timeout_secs: 10,
            request_timeout_secs: 60,
            max_connections: 1024,
        }
    }
}
impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: "auto".into(),
            level: "info".into(),
            traces: "auto".into(),
        }
    }
}
impl Default for ShopSettings {
    fn default() -> Self {
        Self {
            name: "Cielo".into(),
            currency: "USD".into(),
            demo: true,
        }
    }
}
impl Default for ShippingSettings {
    fn default() -> Self {
        Self {
            default_rate: 1500,
            rates: [("US".to_string(), 500)].into(),
            source: "flat".into(),
            countries: cielo_orders::default_ships_to(),
        }
    }
}
impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            backend: "local".into(),
            local_dir: None,
            s3_bucket: None,
            s3_region: "us-east-1".into(),
            s3_endpoint: None,
            public_base_url: None,
        }
    }
}
impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            session_ttl_hours: 24 * 30,
            login_attempts_per_ip: 20,
            login_attempts_per_account: 5,
            login_window_secs: 300,
        }
    }
}
impl Default for PaymentSettings {
    fn default() -> Self {
        Self {
            provider: "test".into(),
            session_ttl_minutes: 60,
            stripe_api_base: "https://api.stripe.com".into(),
            webhook_tolerance_secs: 300,
            catch_up_overlap_secs: 300,
            catch_up_initial_secs: 3 * 86_400,
            recover_after_minutes: 15,
            test_delivery: "immediate".into(),
            catch_up_on_start: true,
        }
    }
}

/// Sections whose keys an environment variable `CIELO_<SECTION>_<KEY>` sets.
const SECTIONS: &[&str] = &[
    "database",
    "http",
    "log",
    "shop",
    "shipping",
    "tax",
    "storage",
    "accounts",
    "limits",
    "payments",
    "orders",
    "jobs",
    "fulfillment",
    "ops",
    "notify",
];

/// Environment variables that are not settings keys: secrets and test hooks.
pub const SECRET_VARS: &[&str] = &[
    "CIELO_SECRET_KEY",
    "CIELO_TEST_DATABASE_URL",
    "CIELO_STRIPE_SECRET_KEY",
    "CIELO_STRIPE_WEBHOOK_SECRETS",
    "CIELO_TEST_WEBHOOK_SECRET",
    "CIELO_PRINTFUL_API_TOKEN",
    "CIELO_PRINTFUL_STORE_ID",
    "CIELO_PRODIGI_API_KEY",
    "CIELO_PRINTFUL_WEBHOOK_TOKEN",
    "CIELO_PRODIGI_WEBHOOK_TOKEN",
    "CIELO_OPS_ALERT_WEBHOOK_URL",
    "CIELO_SMTP_PASSWORD",
    "CIELO_RESEND_API_KEY",
    "CIELO_SENDGRID_API_KEY",
    "CIELO_TWILIO_ACCOUNT_SID",
    "CIELO_TWILIO_AUTH_TOKEN",
    "CIELO_RESEND_WEBHOOK_SECRET",
    // Which function a Lambda deployment of the binary is (api, worker, scheduler).
    "CIELO_LAMBDA_ROLE",
];

/// Maps `DATABASE_URL` to `database.url`, `LOG` to `log.level`, `DATA_DIR` to `data_dir`.
fn env_key(raw: &str) -> String {
    let key = raw.to_ascii_lowercase();
    if key == "log" {
        return "log.level".into();
    }
    // The local lab's delays sit one level down: `fulfillment.local.*`.
    if let Some(rest) = key.strip_prefix("ops_reconcile_") {
        return format!("ops.reconcile.{rest}");
    }
    if let Some(rest) = key.strip_prefix("fulfillment_local_") {
        return format!("fulfillment.local.{rest}");
    }
    // So do the SQS transport's: `JOBS_SQS_QUEUE_URL` is `jobs.sqs.queue_url`.
    if let Some(rest) = key.strip_prefix("jobs_sqs_") {
        return format!("jobs.sqs.{rest}");
    }
    for s in SECTIONS {
        if let Some(rest) = key.strip_prefix(s).and_then(|r| r.strip_prefix('_')) {
            return format!("{s}.{rest}");
        }
    }
    key
}

/// Secret values, read from the environment only.
#[derive(Clone, Default)]
pub struct Secrets {
    /// Signs local upload/download URLs (`CIELO_SECRET_KEY`).
    pub secret_key: Option<String>,
    /// Stripe secret key (`CIELO_STRIPE_SECRET_KEY`).
    pub stripe_secret_key: Option<String>,
    /// Stripe webhook signing secrets, several during rotation (`CIELO_STRIPE_WEBHOOK_SECRETS`, comma-separated).
    pub stripe_webhook_secrets: Vec<String>,
    /// The test provider's webhook secret (`CIELO_TEST_WEBHOOK_SECRET`).
    pub test_webhook_secret: Option<String>,
    /// The print labs' API keys and webhook URL tokens (`CIELO_PRINTFUL_*`, `CIELO_PRODIGI_*`).
    pub labs: cielo_fulfillment::LabSecrets,
    /// Where alerts are posted as JSON (Slack-compatible), `CIELO_OPS_ALERT_WEBHOOK_URL`.
    pub ops_alert_webhook_url: Option<String>,
    /// Notification providers' secrets (`CIELO_SMTP_PASSWORD`, API keys, AWS).
    pub notify: cielo_notify::NotifySecrets,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .field(
                "stripe_secret_key",
                &self.stripe_secret_key.as_ref().map(|_| "***"),
            )
            .field("stripe_webhook_secrets", &self.stripe_webhook_secrets.len())
            .field("labs", &self.labs)
            .field(
                "ops_alert_webhook_url",
                &self.ops_alert_webhook_url.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

impl Secrets {
    /// Reads secrets from the environment.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|s| !s.is_empty());
        Self {
            secret_key: var("CIELO_SECRET_KEY"),
            stripe_secret_key: var("CIELO_STRIPE_SECRET_KEY"),
            stripe_webhook_secrets: var("CIELO_STRIPE_WEBHOOK_SECRETS")
                .map(|s| {
                    s.split(',')
                        .map(|p| p.trim().to_string())
                        .filter(|p| !p.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            test_webhook_secret: var("CIELO_TEST_WEBHOOK_SECRET"),
            labs: cielo_fulfillment::LabSecrets::from_env(),
            ops_alert_webhook_url: var("CIELO_OPS_ALERT_WEBHOOK_URL"),
            notify: cielo_notify::NotifySecrets::from_env(),
        }
    }
}

impl Settings {
    /// Loads defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            if !path.exists() {
                anyhow::bail!("config file {} does not exist", path.display());
            }
            fig = fig.merge(Toml::file_exact(path));
        }
        // Only variables that name a setting reach the settings; the others
        // (secrets, test hooks, typos) are warned about by the binary, never fatal.
        let known = known_keys();
        fig = fig.merge(
            Env::prefixed("CIELO_")
                .filter(move |k| is_known(&known, &env_key(k.as_str())))
                .map(|k| env_key(k.as_str()).into()),
        );
        let settings: Settings = fig
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Environment variables that start with `CIELO_` but name no setting
    /// (secrets and test hooks are known and not listed).
    pub fn unknown_env_vars() -> Vec<String> {
        let known = known_keys();
        std::env::vars()
            .map(|(k, _)| k)
            .filter(|k| {
                k.starts_with("CIELO_")
                    && !SECRET_VARS.contains(&k.as_str())
                    && !k.starts_with("CIELO_TEST_")
            })
            .filter(|k| !is_known(&known, &env_key(k.trim_start_matches("CIELO_"))))
            .collect()
    }

    fn validate(&self) -> anyhow::Result<()> {
        cielo_core::Currency::parse(&self.shop.currency)
            .map_err(|e| anyhow::anyhow!("shop.currency: {e}"))?;
        if !["local", "s3"].contains(&self.storage.backend.as_str()) {
            anyhow::bail!("storage.backend must be `local` or `s3`");
        }
        if self.storage.backend == "s3" && self.storage.s3_bucket.is_none() {
            anyhow::bail!(
                "storage.backend = \"s3\" needs storage.s3_bucket (CIELO_STORAGE_S3_BUCKET)"
            );
        }
        if !["test", "stripe"].contains(&self.payments.provider.as_str()) {
            anyhow::bail!("payments.provider must be `test` or `stripe`");
        }
        if cielo_payments::Delivery::parse(&self.payments.test_delivery).is_none() {
            anyhow::bail!("payments.test_delivery must be immediate, late:SECONDS, twice or never");
        }
        if !["auto", "json", "pretty"].contains(&self.log.format.as_str()) {
            anyhow::bail!("log.format must be auto, json or pretty");
        }
        if !["auto", "on", "off"].contains(&self.log.traces.as_str()) {
            anyhow::bail!("log.traces must be auto, on or off");
        }
        if self.jobs.concurrency == 0 {
            anyhow::bail!("jobs.concurrency must be at least 1");
        }
        if self.jobs.transport == cielo_jobs::Transport::Sqs && self.jobs.sqs.queue_url.is_none() {
            anyhow::bail!(
                "jobs.transport = \"sqs\" needs jobs.sqs.queue_url (CIELO_JOBS_SQS_QUEUE_URL)"
            );
        }
        for e in &self.schedule {
            if e.name.trim().is_empty() || e.kind.trim().is_empty() {
                anyhow::bail!("every [[schedule]] entry needs a name and a kind");
            }
        }
        if !["flat", "lab"].contains(&self.shipping.source.as_str()) {
            anyhow::bail!("shipping.source must be `flat` or `lab`");
        }
        if self.shipping.countries.is_empty() {
            anyhow::bail!("shipping.countries must list at least one country");
        }
        for code in &self.shipping.countries {
            if cielo_core::text::parse_country(code).is_err() {
                anyhow::bail!(
                    "shipping.countries: `{code}` is not an ISO 3166-1 alpha-2 country code (US, ES, …)"
                );
            }
        }
        self.notify.validate()?;
        self.downloads.validate()?;
        if self.database.max_connections == 0 {
            anyhow::bail!("database.max_connections must be at least 1");
        }
        Ok(())
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("cielo.db").display()))
    }

    /// The public base URL in force.
    pub fn public_url(&self, bound: &std::net::SocketAddr) -> String {
        self.http
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_string()
    }
}

/// True when `key` is a setting or lies inside a map setting (`shipping.rates.US`).
fn is_known(known: &[String], key: &str) -> bool {
    known
        .iter()
        .any(|k| k == key || key.starts_with(&format!("{k}.")))
}

/// Every settings key, dotted (`http.bind`), from the defaults' shape.
pub fn known_keys() -> Vec<String> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
        if let serde_json::Value::Object(m) = v {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if v.is_object() && !matches!(k.as_str(), "rates" | "queues") {
                    walk(&key, v, out);
                } else {
                    out.push(key);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(
        "",
        &serde_json::to_value(Settings::default()).expect("settings serialise"),
        &mut out,
    );
    out
}

#[cfg(test)]
// figment's `Jail` closures must return its (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_map_to_keys() {
        assert_eq!(env_key("DATABASE_URL"), "database.url");
        assert_eq!(env_key("HTTP_BODY_LIMIT_BYTES"), "http.body_limit_bytes");
        assert_eq!(env_key("DATA_DIR"), "data_dir");
        assert_eq!(env_key("LOG"), "log.level");
        assert_eq!(env_key("JOBS_SQS_QUEUE_URL"), "jobs.sqs.queue_url");
        assert_eq!(env_key("JOBS_TRANSPORT"), "jobs.transport");
    }

    #[test]
    fn every_key_is_documented() {
        let doc = include_str!("../../../docs/configuration.md");
        for key in known_keys() {
            assert!(
                doc.contains(&format!("`{key}`")),
                "docs/configuration.md does not document `{key}`"
            );
        }
    }

    #[test]
    fn a_file_then_the_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "shop.toml",
                "[shop]\nname = \"Stars\"\ncurrency = \"EUR\"\n[http]\nbind = \"0.0.0.0:9000\"\n",
            )?;
            jail.set_env("CIELO_HTTP_BIND", "127.0.0.1:9999");
            let s = Settings::load(Some(Path::new("shop.toml"))).expect("loads");
            assert_eq!(s.shop.name, "Stars");
            assert_eq!(s.shop.currency, "EUR");
            assert_eq!(
                s.http.bind, "127.0.0.1:9999",
                "environment wins over the file"
            );
            Ok(())
        });
    }

    #[test]
    fn unknown_environment_variables_are_ignored_not_fatal() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CIELO_TEST_S3_ENDPOINT", "http://127.0.0.1:1");
            jail.set_env("CIELO_HTTP_BNID", "typo");
            jail.set_env("CIELO_SHOP_NAME", "Stars");
            let s = Settings::load(None).expect("loads");
            assert_eq!(s.shop.name, "Stars");
            assert_eq!(
                Settings::unknown_env_vars(),
                vec!["CIELO_HTTP_BNID".to_string()]
            );
            Ok(())
        });
    }

    #[test]
    fn shipping_countries_must_be_iso_codes() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("shop.toml", "[shipping]\ncountries = [\"ES\", \"UK\"]\n")?;
            let err = Settings::load(Some(Path::new("shop.toml")))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("shipping.countries") && err.contains("UK"),
                "{err}"
            );
            jail.set_env("CIELO_SHIPPING_COUNTRIES", "[\"es\", \"IS\"]");
            let s = Settings::load(None).expect("loads");
            assert_eq!(s.shipping.countries, vec!["es", "IS"]);
            assert_eq!(Settings::default().shipping.countries.len(), 19);
            Ok(())
        });
    }

    #[test]
    fn secrets_in_the_file_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("shop.toml", "secret_key = \"oops\"\n")?;
            let err = Settings::load(Some(Path::new("shop.toml")))
                .unwrap_err()
                .to_string();
            assert!(err.contains("secret_key"), "{err}");
            Ok(())
        });
    }
}
