//! The application: wires settings into services and serves them.
//!
//! [`Application::build`] binds the listener itself, so tests ask for port 0
//! and read back the port they got.

use crate::settings::{Secrets, Settings};
use cielo_accounts::limiter::{LoginLimiter, LoginLimits};
use cielo_accounts::Accounts;
use cielo_catalog::Catalog;
use cielo_core::Currency;
use cielo_db::{DatabaseUrl, Db, PoolOptions};
use cielo_http::{AppState, HttpConfig};
use cielo_orders::{Orders, Pricing};
use cielo_storage::{S3Settings, Storage};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Job kind: render the print files of a paid order (the lifecycle's).
pub use cielo_flows::KIND_RENDER_ARTWORK;
/// Queue of render jobs, so they can be limited apart from quick jobs.
pub use cielo_flows::RENDER_QUEUE;
/// Job kind: delete abandoned carts (the orders domain's).
pub use cielo_orders::KIND_EXPIRE_CARTS;
/// Job kind: cancel orders left unpaid too long (the orders domain's).
pub use cielo_orders::KIND_EXPIRE_UNPAID;

/// The `[[schedule]]` entries, with the canary's when `ops.canary.enabled`
/// and no entry runs it already.
fn with_canary(settings: &Settings) -> Vec<cielo_jobs::ScheduleEntry> {
    let mut schedule = settings.schedule.clone();
    if settings.ops.canary.enabled && !schedule.iter().any(|e| e.kind == cielo_ops::KIND_CANARY) {
        schedule.push(cielo_jobs::ScheduleEntry {
            name: "ops-canary".into(),
            cron: settings.ops.canary.cron.clone(),
            kind: cielo_ops::KIND_CANARY.into(),
            queue: "maintenance".into(),
            payload: serde_json::json!({}),
            max_attempts: 1,
            timezone: None,
        });
    }
    schedule
}

/// What a process does. `All` is one process doing everything (the default);
/// on PostgreSQL the others let any number of API and worker processes and a
/// pair of schedulers share one database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// API, worker and scheduler.
    #[default]
    All,
    /// HTTP only.
    Api,
    /// Runs jobs only.
    Worker,
    /// Enqueues periodic jobs only.
    Scheduler,
}

impl Role {
    fn serves_http(self) -> bool {
        matches!(self, Role::All | Role::Api)
    }
    fn runs_worker(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }
    fn runs_scheduler(self) -> bool {
        matches!(self, Role::All | Role::Scheduler)
    }
}

/// Choices made by the command, not the configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildOptions {
    /// Seed the demo catalog into an empty database.
    pub seed_demo: bool,
    /// What this process runs.
    pub role: Role,
}

/// A built, not yet running, Cielo.
pub struct Application {
    listener: Option<TcpListener>,
    router: axum::Router,
    serve: cielo_http::serve::ServeConfig,
    state: AppState,
    address: SocketAddr,
    role: Role,
    registry: Arc<cielo_jobs::Registry>,
    jobs: cielo_jobs::JobsSettings,
    schedule: Vec<cielo_jobs::ScheduleEntry>,
    job_metrics: Arc<cielo_jobs::JobMetrics>,
    /// This application's own recorder (HTTP and jobs), drained while it runs.
    app_prometheus: metrics_exporter_prometheus::PrometheusHandle,
    catch_up_on_start: bool,
    reconcile_on_start: bool,
}

/// The job handlers and event subscriptions of this build of Cielo: each
/// domain registers its own. A new domain is one line here.
pub fn registry(
    orders: &Orders,
    payments: &cielo_payments::Payments,
    flows: &cielo_flows::Flows,
    ops: &cielo_ops::Ops,
    notify: &cielo_notify::Notify,
    settings: &Settings,
) -> cielo_jobs::Registry {
    let mut r = cielo_jobs::Registry::new();
    orders.register(&mut r, &settings.orders);
    payments.register(&mut r);
    flows.register(&mut r);
    ops.register(&mut r);
    notify.register(&mut r);
    r
}

/// Connects to the configured database and applies pending migrations.
pub async fn connect_and_migrate(settings: &Settings) -> anyhow::Result<Db> {
    let db = connect(settings, false).await?;
    let applied = db.migrate(&crate::migrations()).await?;
    if !applied.is_empty() {
        tracing::info!(count = applied.len(), "applied migrations");
    }
    Ok(db)
}

/// Connects to the configured database without migrating it. `lazy`: on
/// PostgreSQL no connection is opened before the first query.
pub async fn connect(settings: &Settings, lazy: bool) -> anyhow::Result<Db> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot create data directory {}: {e}",
            settings.data_dir.display()
        )
    })?;
    let url = DatabaseUrl::new(settings.database_url());
    let options = PoolOptions {
        max_connections: settings.database.max_connections,
        lazy,
        ..Default::default()
    };
    Db::connect(&url, &options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open database {url}: {e}"))
}

/// The key that signs local storage URLs: `CIELO_SECRET_KEY`, or one generated
/// once and kept in the data directory (fine for one machine; set the variable
/// when several processes share the storage).
fn signing_key(settings: &Settings, secrets: &Secrets) -> anyhow::Result<Vec<u8>> {
    if let Some(k) = &secrets.secret_key {
        return Ok(k.as_bytes().to_vec());
    }
    let path = settings.data_dir.join("secret.key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        if existing.trim().len() >= 32 {
            return Ok(existing.trim().as_bytes().to_vec());
        }
    }
    let key = hex::encode(rand::random::<[u8; 32]>());
    std::fs::write(&path, &key)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(key.into_bytes())
}

impl Application {
    /// Builds everything and binds the listener.
    pub async fn build(settings: Settings, options: BuildOptions) -> anyhow::Result<Self> {
        Self::build_with_secrets(settings, options, Secrets::from_env()).await
    }

    /// Builds with secrets given here instead of read from the environment (tests).
    pub async fn build_with_secrets(
        settings: Settings,
        options: BuildOptions,
        secrets: Secrets,
    ) -> anyhow::Result<Self> {
        Self::build_inner(settings, options, secrets, false).await
    }

    /// Builds for a serverless function (the `lambda` feature): no
    /// migrations (they are a separate `cielo migrate` step of the deploy),
    /// database connections opened on first use, no listener (the function's
    /// runtime delivers the requests), no demo catalog.
    pub async fn build_serverless(settings: Settings) -> anyhow::Result<Self> {
        let options = BuildOptions {
            seed_demo: false,
            role: Role::Api,
        };
        Self::build_inner(settings, options, Secrets::from_env(), true).await
    }

    async fn build_inner(
        settings: Settings,
        options: BuildOptions,
        secrets: Secrets,
        serverless: bool,
    ) -> anyhow::Result<Self> {
        let db = if serverless {
            connect(&settings, true).await?
        } else {
            connect_and_migrate(&settings).await?
        };
        if db.backend() == cielo_db::Backend::Sqlite && options.role != Role::All {
            tracing::warn!(role = ?options.role, "on SQLite the job queue is correct within one process only; split roles on PostgreSQL");
        }
        let (listener, address) = if options.role.serves_http() && !serverless {
            let l = TcpListener::bind(&settings.http.bind)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.http.bind))?;
            let a = l.local_addr()?;
            (Some(l), a)
        } else {
            (
                None,
                settings
                    .http
                    .bind
                    .parse()
                    .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0))),
            )
        };
        let public_url = settings.public_url(&address);

        let storage = match settings.storage.backend.as_str() {
            "s3" => Storage::s3(&S3Settings {
                bucket: settings.storage.s3_bucket.clone().expect("validated"),
                region: settings.storage.s3_region.clone(),
                endpoint: settings.storage.s3_endpoint.clone(),
                public_base_url: settings.storage.public_base_url.clone(),
            })?,
            _ => {
                let dir = settings
                    .storage
                    .local_dir
                    .clone()
                    .unwrap_or_else(|| settings.data_dir.join("objects"));
                Storage::local(&dir, &public_url, signing_key(&settings, &secrets)?)?
            }
        };
        let currency = Currency::parse(&settings.shop.currency)?;
        let catalog =
            Catalog::new(db.clone()).with_downloadable_types([cielo_starmap_product::PRODUCT_TYPE]);
        let accounts = Accounts::new(db.clone(), settings.accounts.session_ttl_hours * 3600)
            .with_ships_to(ships_to(&settings));
        let (provider, test_provider, webhooks) =
            crate::payments::build(&db, &settings, &secrets, &public_url)?;
        let pricing = Pricing {
            currency,
            default_shipping: settings.shipping.default_rate,
            shipping_by_country: settings.shipping.rates.clone(),
            default_tax_bp: settings.tax.default_rate_bp,
            tax_by_country: settings.tax.rates.clone(),
            ships_to: ships_to(&settings),
        };
        let fulfillment = cielo_fulfillment::Fulfillment::new(
            db.clone(),
            settings.fulfillment.clone(),
            secrets.labs.clone(),
            &public_url,
        )?;
        let mut orders = Orders::new(
            db.clone(),
            catalog.clone(),
            provider.clone(),
            pricing,
            &public_url,
        )
        .with_line_options_validator(
            cielo_starmap_product::PRODUCT_TYPE,
            Arc::new(cielo_starmap_product::StarmapLineValidator),
        );
        if settings.shipping.source == "lab" {
            orders = orders
                .with_shipping_quoter(Arc::new(cielo_flows::LabShipping::new(fulfillment.clone())));
        }
        let payments =
            crate::payments::service(&db, &settings, &orders, provider, test_provider, webhooks);
        let payments = Arc::new(payments);
        let flows = cielo_flows::Flows::new(
            db.clone(),
            orders.clone(),
            storage.clone(),
            fulfillment.clone(),
        )
        .with_downloads(settings.downloads.clone());
        let ops = cielo_ops::Ops::new(
            db.clone(),
            settings.ops.clone(),
            orders.clone(),
            payments.clone(),
            fulfillment,
            secrets.ops_alert_webhook_url.clone(),
        );

        // Titles stored before search folded accents are folded once here.
        let refolded = catalog.refresh_search_titles().await?;
        if refolded > 0 {
            tracing::info!(products = refolded, "refreshed product search titles");
        }
        if options.seed_demo
            && settings.shop.demo
            && catalog.count_products().await? == 0
            && catalog.list_categories().await?.is_empty()
        {
            let n = crate::demo::seed(&catalog, &storage, currency).await?;
            tracing::info!(products = n, "seeded the demo catalog");
        }

        let limiter = LoginLimiter::new(LoginLimits {
            per_ip: settings.accounts.login_attempts_per_ip,
            per_account: settings.accounts.login_attempts_per_account,
            window: Duration::from_secs(settings.accounts.login_window_secs),
        });
        let http = HttpConfig {
            public_url: public_url.clone(),
            body_limit_bytes: settings.http.body_limit_bytes,
            upload_limit_bytes: settings.http.upload_limit_bytes,
            cors_origins: settings.http.cors_origins.clone(),
            trust_forwarded_for: settings.http.trust_forwarded_for,
            catalog_cache_ttl: Duration::from_millis(settings.http.catalog_cache_ttl_ms),
            shop_name: settings.shop.name.clone(),
            request_timeout: Duration::from_secs(settings.http.request_timeout_secs),
        };
        let notify = cielo_notify::Notify::new(
            db.clone(),
            orders.clone(),
            &settings.notify,
            &secrets.notify,
            &settings.data_dir,
            cielo_notify::data::Shop {
                name: settings.shop.name.clone(),
                url: public_url.clone(),
            },
        )?
        .with_accounts(accounts.clone());
        // Alerts by email and SMS reach the owner through the notifications domain.
        let ops = ops.with_notify(notify.clone()).with_public_url(&public_url);
        let registry = Arc::new(registry(
            &orders, &payments, &flows, &ops, &notify, &settings,
        ));
        let (metrics_sink, app_prometheus) = crate::telemetry::app_metrics();
        let job_metrics = Arc::new(cielo_jobs::JobMetrics::with_sink(metrics_sink.clone()));
        let mut state = AppState::new(
            db,
            catalog,
            accounts,
            orders,
            storage,
            limiter,
            http,
            crate::migrations(),
        );
        state.job_metrics = job_metrics.clone();
        state.metrics = Arc::new(cielo_http::metrics::Metrics::new(
            metrics_sink,
            vec![app_prometheus.clone(), crate::telemetry::prometheus()],
        ));
        state.payments = Some(payments);
        state.ops = Some(Arc::new(ops));
        state.flows = Some(Arc::new(flows));
        state.notify = Some(Arc::new(notify));
        state.rate_limits = Arc::new(cielo_http::limits::RateLimits::new(
            settings.limits.to_config(),
        ));
        let (api, _openapi) = cielo_http::router(state.clone());
        for warning in cielo_http::deployment_warnings(&state) {
            tracing::warn!(warning = %warning, "UNSAFE FOR A PUBLIC SHOP");
            eprintln!("WARNING: {warning}");
        }
        // The pages answer their own paths and pass everything else to the API.
        let router = cielo_web::router(
            api,
            cielo_web::WebConfig {
                shop_name: settings.shop.name.clone(),
                public_url: public_url.clone(),
                pricing: state.orders.pricing().clone(),
            },
        );
        tracing::info!(address = %address, role = ?options.role, public_url = %public_url, database = %state.db.url(), "cielo is ready");
        Ok(Self {
            listener,
            router,
            serve: cielo_http::serve::ServeConfig {
                header_read_timeout: Duration::from_secs(
                    settings.http.header_read_timeout_secs.max(1),
                ),
                max_connections: settings.http.max_connections.max(1),
            },
            state,
            address,
            role: options.role,
            registry,
            jobs: settings.jobs.clone(),
            schedule: with_canary(&settings),
            job_metrics,
            app_prometheus,
            catch_up_on_start: settings.payments.catch_up_on_start,
            reconcile_on_start: settings.ops.reconcile.on_start,
        })
    }

    /// The HTTP router (what a serverless function serves).
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// The job settings and `[[schedule]]` entries in force.
    pub fn jobs_settings(&self) -> (&cielo_jobs::JobsSettings, &[cielo_jobs::ScheduleEntry]) {
        (&self.jobs, &self.schedule)
    }

    /// The job handlers, for tests that drain the queue themselves.
    pub fn registry(&self) -> Arc<cielo_jobs::Registry> {
        self.registry.clone()
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The address actually bound.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The services, for tests and commands.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Runs this process's role until `shutdown` completes; then in-flight
    /// requests finish, running jobs finish or are released, and it returns.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let db = self.state.db.clone();
        let stop = tokio_util::sync::CancellationToken::new();
        let mut tasks = tokio::task::JoinSet::new();
        if self.catch_up_on_start && (self.role.runs_worker() || self.role.runs_scheduler()) {
            // Recovery at start-up: whatever was missed while nothing ran is
            // looked for once now, not only at the next scheduled tick.
            let mut tx = db.begin_write().await?;
            for kind in [
                cielo_payments::KIND_CATCH_UP,
                cielo_fulfillment::jobs::CATCH_UP,
                cielo_flows::KIND_CATCH_UP,
            ] {
                let job = cielo_jobs::NewJob::new(kind, serde_json::json!({"reason": "start-up"}))
                    .queue("maintenance")
                    .max_attempts(3)
                    .unique_key(kind);
                cielo_jobs::enqueue(&mut tx, job).await?;
            }
            tx.commit().await?;
        }
        if self.reconcile_on_start && (self.role.runs_worker() || self.role.runs_scheduler()) {
            // The shop checks itself at every start: a missed payment or a
            // lab order placed with a stolen key is found now, not in an hour.
            let mut tx = db.begin_write().await?;
            let job = cielo_jobs::NewJob::new(
                cielo_ops::KIND_RECONCILE,
                serde_json::json!({"reason": "start-up"}),
            )
            .queue("maintenance")
            .max_attempts(3)
            .unique_key(cielo_ops::KIND_RECONCILE);
            cielo_jobs::enqueue(&mut tx, job).await?;
            tx.commit().await?;
        }
        if self.role.runs_scheduler() {
            if let Some(flows) = self.state.flows.clone() {
                // Off the start-up path: Printful being slow or down must not
                // keep the shop from starting (the catch-up polls meanwhile).
                tokio::spawn(async move {
                    if let Err(e) = flows.fulfillment().register_webhooks().await {
                        tracing::warn!(error = %e, "could not register the Printful webhook URL; polling only until the next start");
                    }
                });
            }
        }
        if self.role.runs_worker() {
            let worker =
                cielo_jobs::Worker::new(db.clone(), self.registry.clone(), self.jobs.clone())
                    .with_metrics(self.job_metrics.clone());
            let stop = stop.clone();
            tasks.spawn(async move { worker.run(stop).await.map_err(anyhow::Error::from) });
        }
        if self.role.runs_scheduler() && !self.schedule.is_empty() {
            let scheduler = cielo_jobs::Scheduler::new(db.clone(), &self.schedule, &self.jobs)?;
            let stop = stop.clone();
            tasks.spawn(async move { scheduler.run(stop).await.map_err(anyhow::Error::from) });
        }
        {
            // Histogram samples wait in memory until drained into buckets.
            let stop = stop.clone();
            let prometheus = self.app_prometheus.clone();
            tasks.spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(Duration::from_secs(5)) => prometheus.run_upkeep(),
                    }
                }
            });
        }
        if let Some(listener) = self.listener {
            let stop = stop.clone();
            let app = cielo_http::Front::new(self.router, self.state.clone());
            let serve = self.serve;
            tasks.spawn(async move {
                cielo_http::serve::serve(listener, app, serve, stop.cancelled_owned())
                    .await
                    .map_err(anyhow::Error::from)
            });
        }
        let trigger = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            trigger.cancel();
        });
        let mut result = Ok(());
        while let Some(done) = tasks.join_next().await {
            // One part failing stops the others: a half-running process hides problems.
            let outcome = done.map_err(anyhow::Error::from).and_then(|r| r);
            if let Err(e) = outcome {
                // The error itself is returned (and reported once by the caller).
                tracing::warn!("a part of cielo failed; stopping the others");
                stop.cancel();
                result = Err(e);
            }
        }
        db.close().await;
        tracing::info!("stopped");
        result
    }
}

/// Completes on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// The countries the shop ships to, upper case (`shipping.countries`, checked
/// at load).
fn ships_to(settings: &Settings) -> Vec<String> {
    settings
        .shipping
        .countries
        .iter()
        .map(|c| c.trim().to_ascii_uppercase())
        .collect()
}
