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
use cielo_payments::TestProvider;
use cielo_storage::{S3Settings, Storage};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Choices made by the command, not the configuration.
#[derive(Debug, Clone, Copy)]
pub struct BuildOptions {
    /// Seed the demo catalog into an empty database.
    pub seed_demo: bool,
}

/// A built, not yet running, Cielo.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    state: AppState,
    address: SocketAddr,
}

/// Connects to the configured database and applies pending migrations.
pub async fn connect_and_migrate(settings: &Settings) -> anyhow::Result<Db> {
    std::fs::create_dir_all(&settings.data_dir)
        .map_err(|e| anyhow::anyhow!("cannot create data directory {}: {e}", settings.data_dir.display()))?;
    let url = DatabaseUrl::new(settings.database_url());
    let options = PoolOptions { max_connections: settings.database.max_connections, ..Default::default() };
    let db = Db::connect(&url, &options).await.map_err(|e| anyhow::anyhow!("cannot open database {url}: {e}"))?;
    let applied = db.migrate(&crate::migrations()).await?;
    if !applied.is_empty() {
        tracing::info!(count = applied.len(), "applied migrations");
    }
    Ok(db)
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
        let secrets = Secrets::from_env();
        let db = connect_and_migrate(&settings).await?;
        let listener = TcpListener::bind(&settings.http.bind)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.http.bind))?;
        let address = listener.local_addr()?;
        let public_url = settings.public_url(&address);

        let storage = match settings.storage.backend.as_str() {
            "s3" => Storage::s3(&S3Settings {
                bucket: settings.storage.s3_bucket.clone().expect("validated"),
                region: settings.storage.s3_region.clone(),
                endpoint: settings.storage.s3_endpoint.clone(),
                public_base_url: settings.storage.public_base_url.clone(),
            })?,
            _ => {
                let dir = settings.storage.local_dir.clone().unwrap_or_else(|| settings.data_dir.join("objects"));
                Storage::local(&dir, &public_url, signing_key(&settings, &secrets)?)?
            }
        };
        let currency = Currency::parse(&settings.shop.currency)?;
        let catalog = Catalog::new(db.clone());
        let accounts = Accounts::new(db.clone(), settings.accounts.session_ttl_hours * 3600);
        let payments = Arc::new(TestProvider::new(&public_url, settings.payments.session_ttl_minutes * 60));
        let pricing = Pricing {
            currency,
            default_shipping: settings.shipping.default_rate,
            shipping_by_country: settings.shipping.rates.clone(),
            default_tax_bp: settings.tax.default_rate_bp,
            tax_by_country: settings.tax.rates.clone(),
        };
        let orders = Orders::new(db.clone(), catalog.clone(), payments, pricing, &public_url).with_line_options_validator(
            cielo_starmap_product::PRODUCT_TYPE,
            Arc::new(cielo_starmap_product::StarmapLineValidator),
        );

        if options.seed_demo && settings.shop.demo && catalog.count_products().await? == 0 && catalog.list_categories().await?.is_empty() {
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
        };
        let state = AppState::new(db, catalog, accounts, orders, storage, limiter, http, crate::migrations());
        let (router, _openapi) = cielo_http::router(state.clone());
        tracing::info!(address = %address, public_url = %public_url, database = %state.db.url(), "cielo is ready");
        Ok(Self { listener, router, state, address })
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

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let db = self.state.db.clone();
        axum::serve(self.listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await?;
        db.close().await;
        tracing::info!("stopped");
        Ok(())
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
