//! The shop's own API, called in-process: pages go through the same handlers,
//! validation and authorisation as any other client, without a network hop.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http::{Method, Request, StatusCode};
use serde_json::Value;
use std::net::SocketAddr;
use tower::ServiceExt;

/// A handle on the API router. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    router: Router,
}

/// Who is asking: the visitor's session token and address.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// Session token from the session cookie.
    pub token: Option<String>,
    /// The visitor's address (the API's sign-in limits count by it).
    pub peer: Option<SocketAddr>,
    /// `X-Forwarded-For` as received, for a shop behind its own proxy.
    pub forwarded_for: Option<String>,
}

/// An API answer: status and JSON body (`Null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Parsed body.
    pub body: Value,
}

impl Answer {
    /// 2xx.
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// The problem document's field errors as `{field path: detail}`, the
    /// pointer's `#/` dropped (`shipping_address/city`).
    pub fn field_errors(&self) -> serde_json::Map<String, Value> {
        let mut out = serde_json::Map::new();
        if let Some(list) = self.body.get("errors").and_then(Value::as_array) {
            for e in list {
                let pointer = e.get("pointer").and_then(Value::as_str).unwrap_or("");
                let detail = e.get("detail").and_then(Value::as_str).unwrap_or("invalid");
                out.entry(pointer.trim_start_matches("#/").to_string())
                    .or_insert_with(|| Value::String(detail.to_string()));
            }
        }
        out
    }

    /// The problem's `detail` (or its title) for a message to people.
    pub fn detail(&self) -> String {
        self.body
            .get("detail")
            .or_else(|| self.body.get("title"))
            .and_then(Value::as_str)
            .unwrap_or("something went wrong")
            .to_string()
    }
}

impl Api {
    /// Over `router` (the API with its state applied).
    pub fn new(router: Router) -> Self {
        Self { router }
    }

    /// `GET path` as `caller`.
    pub async fn get(&self, caller: &Caller, path: &str) -> Answer {
        self.call(caller, Method::GET, path, None, &[]).await
    }

    /// `GET path` as `caller`, the body as sent (files, not JSON): status,
    /// content type and bytes.
    pub async fn get_raw(&self, caller: &Caller, path: &str) -> (StatusCode, String, bytes::Bytes) {
        let res = self.send(caller, Method::GET, path, None, &[]).await;
        let status = res.status();
        let ct = res
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_string();
        let bytes = axum::body::to_bytes(res.into_body(), 64 * 1024 * 1024)
            .await
            .unwrap_or_default();
        (status, ct, bytes)
    }

    /// `PUT path` with raw bytes (an upload to a signed storage URL of this
    /// shop): the status, and the problem's detail when it failed.
    pub async fn put_bytes(
        &self,
        caller: &Caller,
        path: &str,
        content_type: &str,
        bytes: bytes::Bytes,
    ) -> Answer {
        let mut req = Request::builder()
            .method(Method::PUT)
            .uri(path)
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Body::from(bytes))
            .expect("a valid request");
        let peer = caller
            .peer
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        req.extensions_mut().insert(ConnectInfo(peer));
        let res = match self.router.clone().oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1024 * 1024)
            .await
            .unwrap_or_default();
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// `method path` with an optional JSON body and extra headers.
    pub async fn call(
        &self,
        caller: &Caller,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let res = self.send(caller, method, path, body, headers).await;
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 64 * 1024 * 1024)
            .await
            .unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_server_error() {
            tracing::warn!(%status, path, "the API failed a page's request");
        }
        Answer { status, body }
    }

    async fn send(
        &self,
        caller: &Caller,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> axum::response::Response {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = &caller.token {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(f) = &caller.forwarded_for {
            req = req.header("x-forwarded-for", f);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = match body {
            Some(b) => {
                req = req.header(http::header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(b).expect("JSON values serialise"))
            }
            None => Body::empty(),
        };
        let mut req = req.body(body).expect("a valid request");
        let peer = caller
            .peer
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        req.extensions_mut().insert(ConnectInfo(peer));
        match self.router.clone().oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        }
    }
}
