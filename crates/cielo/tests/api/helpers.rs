//! Spawning the app and talking to it like a client would.

use cielo::app::{Application, BuildOptions, Role};
use cielo::settings::Secrets;
use cielo::Settings;
use cielo_db::testing::TestDatabase;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: cielo_http::AppState,
    pub registry: std::sync::Arc<cielo_jobs::Registry>,
    db: Option<TestDatabase>,
    settings: Settings,
    secrets: Secrets,
    dir: std::path::PathBuf,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A parsed response.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Reads a response sent with the client directly (custom headers).
    pub async fn from_response(res: Response) -> Self {
        Self::from(res).await
    }

    async fn from(res: Response) -> Self {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Self {
            status,
            headers,
            body,
        }
    }

    /// Asserts a problem+json reply with this status and type code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status, body: {}",
            self.body
        );
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "body: {}",
            self.body
        );
        assert_eq!(
            self.body["type"],
            format!("urn:cielo:problem:{code}"),
            "body: {}",
            self.body
        );
        assert_eq!(self.body["status"], status);
        assert!(self.body["request_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty()));
    }

    /// The JSON pointers named in a validation problem.
    pub fn pointers(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["pointer"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(false, |_| {}).await
}

pub async fn spawn_app_with_demo() -> TestApp {
    spawn_app_with(true, |_| {}).await
}

/// An app that serves HTTP only: tests drain the job queue themselves with
/// [`TestApp::run_pending_jobs`], so nothing runs behind their back.
pub async fn spawn_app_with(seed_demo: bool, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn(seed_demo, Role::Api, tweak).await
}

/// A whole process: API, worker and scheduler, as `cielo serve` runs it.
pub async fn spawn_full_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn(false, Role::All, tweak).await
}

async fn spawn(seed_demo: bool, role: Role, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_with_secrets(seed_demo, role, tweak, Secrets::default()).await
}

/// An app with these secrets (the environment's are never read by tests).
pub async fn spawn_with_secrets(
    seed_demo: bool,
    role: Role,
    tweak: impl FnOnce(&mut Settings),
    secrets: Secrets,
) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        cielo::telemetry::init("pretty", "debug");
    }
    let db = TestDatabase::create().await;
    let dir = std::env::temp_dir().join(format!("cielo-api-{}", uuid::Uuid::new_v4().simple()));
    let mut settings = Settings {
        data_dir: dir.clone(),
        ..Default::default()
    };
    settings.database.url = Some(db.url.expose().to_string());
    settings.database.max_connections = 5;
    settings.http.bind = "127.0.0.1:0".into();
    tweak(&mut settings);
    start(settings, BuildOptions { seed_demo, role }, secrets, db, dir).await
}

async fn start(
    settings: Settings,
    options: BuildOptions,
    secrets: Secrets,
    db: TestDatabase,
    dir: std::path::PathBuf,
) -> TestApp {
    let app = Application::build_with_secrets(settings.clone(), options, secrets.clone())
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    let registry = app.registry();
    let server = tokio::spawn(async move {
        app.run_until_stopped(std::future::pending())
            .await
            .expect("server runs");
    });
    TestApp {
        address,
        client: reqwest::Client::new(),
        state,
        registry,
        db: Some(db),
        settings,
        secrets,
        dir,
        server,
    }
}

impl TestApp {
    /// The database URL (with its password), for running the `cielo` command on it.
    pub fn database_url(&self) -> String {
        self.settings
            .database
            .url
            .clone()
            .expect("tests set the URL")
    }

    /// The data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Stops this process abruptly (nothing in flight finishes) and starts a
    /// new one on the same database and data directory, serving HTTP only.
    pub async fn restart(mut self) -> TestApp {
        self.server.abort();
        let _ = (&mut self.server).await;
        self.state.db.close().await;
        let db = self.db.take().expect("the database");
        let dir = std::mem::take(&mut self.dir);
        let (mut settings, secrets) = (self.settings.clone(), self.secrets.clone());
        settings.http.bind = "127.0.0.1:0".into();
        drop(self);
        start(
            settings,
            BuildOptions {
                seed_demo: false,
                role: Role::Api,
            },
            secrets,
            db,
            dir,
        )
        .await
    }

    /// Runs every runnable job (and dispatches outbox events) now, in this task.
    pub async fn run_pending_jobs(&self) -> usize {
        cielo_jobs::run_pending(&self.state.db, &self.registry)
            .await
            .expect("jobs run")
    }

    /// Enqueues a job as any domain would, in its own transaction.
    pub async fn enqueue(&self, job: cielo_jobs::NewJob) -> String {
        let mut tx = self.state.db.begin_write().await.unwrap();
        let outcome = cielo_jobs::enqueue(&mut tx, job).await.expect("enqueued");
        tx.commit().await.unwrap();
        outcome.id().to_string()
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut rb = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        Reply::from(rb.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, None, None).await
    }

    pub async fn get_as(&self, path: &str, token: &str) -> Reply {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.request(Method::POST, path, None, Some(body)).await
    }

    pub async fn post_as(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }

    /// Sends raw bytes with a content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: &str) -> Reply {
        let res = self
            .client
            .post(format!("{}{}", self.address, path))
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .await
            .expect("request sent");
        Reply::from(res).await
    }

    /// Registers a customer and returns their bearer token.
    pub async fn register(&self, email: &str) -> String {
        let r = self
            .post(
                "/api/store/auth/register",
                &json!({"email": email, "password": "correct horse battery", "name": "Test"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["token"].as_str().unwrap().to_string()
    }

    /// Creates an admin through the service (as the CLI does) and signs in.
    pub async fn admin_token(&self) -> String {
        self.state
            .accounts
            .create_admin("admin@shop.test", "shop keeper 2026!")
            .await
            .expect("admin created");
        let r = self
            .post(
                "/api/store/auth/login",
                &json!({"email": "admin@shop.test", "password": "shop keeper 2026!"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["token"].as_str().unwrap().to_string()
    }

    /// Creates a published product with one variant per (sku, price) and returns it.
    pub async fn create_product(
        &self,
        admin: &str,
        title: &str,
        variants: &[(&str, i64)],
    ) -> Value {
        let variants: Vec<Value> = variants
            .iter()
            .map(|(sku, price)| json!({"sku": sku, "price": {"amount": price, "currency": "USD"}}))
            .collect();
        let r = self
            .post_as(
                "/api/admin/products",
                admin,
                &json!({"title": title, "status": "published", "variants": variants}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body
    }

    /// Checks out one unit of a new 10.00 product (made by `admin`) with
    /// `body`; returns the order id, the order not yet paid.
    pub async fn checkout_new_product(&self, admin: &str, body: &Value) -> String {
        let sku = format!("P-{}", uuid::Uuid::new_v4().simple());
        let v = self
            .create_product(admin, &format!("Poster {sku}"), &[(&sku, 1000)])
            .await["variants"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let cart = self.new_cart(None).await;
        self.add_line(&cart, None, &v, 1).await;
        let r = self.checkout(&cart, None, None, body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["order_id"].as_str().unwrap().to_string()
    }

    /// A page as a browser gets it with `cookie` (none when empty), redirects
    /// not followed: (status, body).
    pub async fn page(&self, path: &str, cookie: &str) -> (u16, String) {
        let mut rb = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(format!("{}{path}", self.address));
        if !cookie.is_empty() {
            rb = rb.header("cookie", cookie);
        }
        let r = rb.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Presses "Pay" on the test provider's checkout page for `order`, as a
    /// buyer would (the admin token reads the order's payment session).
    pub async fn pay_on_test_page(&self, admin: &str, order: &str) {
        let session = self
            .get_as(&format!("/api/admin/orders/{order}"), admin)
            .await
            .body["payment"]["session_id"]
            .as_str()
            .unwrap()
            .to_string();
        self.press_pay(&session).await;
    }

    /// Presses "Pay" on the test provider's page of payment `session`; the
    /// page answers with a redirect back to the shop.
    pub async fn press_pay(&self, session: &str) {
        let r = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(format!("{}/checkout/test/{session}", self.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("action=pay")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
    }

    pub async fn new_cart(&self, token: Option<&str>) -> String {
        let r = self
            .request(Method::POST, "/api/store/carts", token, None)
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    pub async fn add_line(
        &self,
        cart: &str,
        token: Option<&str>,
        variant: &str,
        quantity: i64,
    ) -> Reply {
        self.request(
            Method::POST,
            &format!("/api/store/carts/{cart}/lines"),
            token,
            Some(&json!({"variant_id": variant, "quantity": quantity})),
        )
        .await
    }

    pub async fn checkout(
        &self,
        cart: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: &Value,
    ) -> Reply {
        let mut rb = self
            .client
            .post(format!("{}/api/store/carts/{cart}/checkout", self.address))
            .json(body);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(k) = key {
            rb = rb.header("idempotency-key", k);
        }
        Reply::from(rb.send().await.expect("request sent")).await
    }
}

pub fn address() -> Value {
    json!({"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH", "country": "GB"})
}

pub fn checkout_body(email: &str) -> Value {
    json!({"email": email, "shipping_address": address()})
}
