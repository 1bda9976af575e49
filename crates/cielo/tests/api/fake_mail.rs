//! Fake Resend, SendGrid and Twilio servers built from their documented APIs
//! (request shapes, auth, answers, Resend's idempotency), with injected
//! faults: refuse the next N requests with a status, or take a request and
//! never answer it. And a minimal SMTP server that stops answering after
//! the message data, for the one SMTP fault the real server cannot play.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

#[derive(Default)]
struct Inner {
    /// Every request, in order.
    received: Vec<Received>,
    /// Messages the provider really took (after idempotency).
    accepted: Vec<String>,
    /// Refuse this many of the next requests with `fail_status`.
    fail_next: usize,
    fail_status: u16,
    /// Take the next request (count it as accepted) and never answer.
    stall_next: usize,
    /// Resend: idempotency key → (body, answer).
    keys: HashMap<String, (Bytes, Value)>,
    seq: usize,
}

/// A fake provider on a random loopback port.
#[derive(Clone)]
pub struct FakeProvider {
    inner: Arc<Mutex<Inner>>,
    pub base: String,
    /// Notified when a request arrives.
    pub arrived: Arc<tokio::sync::Notify>,
}

impl FakeProvider {
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }
    /// Messages the provider would deliver (a replayed idempotent request is not one).
    pub fn accepted(&self) -> usize {
        self.inner.lock().unwrap().accepted.len()
    }
    pub fn fail_next(&self, n: usize, status: u16) {
        let mut i = self.inner.lock().unwrap();
        i.fail_next = n;
        i.fail_status = status;
    }
    pub fn stall_next(&self, n: usize) {
        self.inner.lock().unwrap().stall_next = n;
    }
}

enum Flavour {
    Resend,
    Sendgrid,
    Twilio,
}

struct App {
    fake: FakeProvider,
    flavour: Flavour,
}

async fn handle(
    State(app): State<Arc<App>>,
    path: Option<Path<String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fake = &app.fake;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let action = {
        let mut i = fake.inner.lock().unwrap();
        i.received.push(Received {
            path: path.map(|p| p.0).unwrap_or_default(),
            headers: headers.clone(),
            body: body.clone(),
        });
        let ok_auth = match app.flavour {
            Flavour::Resend => auth == "Bearer re_test_key",
            Flavour::Sendgrid => auth == "Bearer SG.test_key",
            // AC_test:token_test
            Flavour::Twilio => auth == "Basic QUNfdGVzdDp0b2tlbl90ZXN0",
        };
        if !ok_auth {
            Err((StatusCode::UNAUTHORIZED, json!({"message": "bad key"})))
        } else if matches!(app.flavour, Flavour::Resend) && headers.get("user-agent").is_none() {
            Err((StatusCode::FORBIDDEN, json!({"name": "1010"})))
        } else if i.fail_next > 0 {
            i.fail_next -= 1;
            let s = StatusCode::from_u16(i.fail_status).unwrap();
            Err((s, json!({"message": "injected failure"})))
        } else {
            let key = headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let replay = match (&app.flavour, &key) {
                (Flavour::Resend, Some(k)) => i.keys.get(k).cloned(),
                _ => None,
            };
            match replay {
                Some((b, _)) if b != body => Err((
                    StatusCode::CONFLICT,
                    json!({"name": "invalid_idempotent_request"}),
                )),
                Some((_, answer)) => Ok((answer, false)),
                None => {
                    i.seq += 1;
                    let id = format!("fake-{}", i.seq);
                    i.accepted.push(id.clone());
                    let answer = json!({"id": id, "sid": format!("SM{:032}", i.seq)});
                    if let (Flavour::Resend, Some(k)) = (&app.flavour, key) {
                        i.keys.insert(k, (body.clone(), answer.clone()));
                    }
                    let stall = i.stall_next > 0;
                    if stall {
                        i.stall_next -= 1;
                    }
                    Ok((answer, stall))
                }
            }
        }
    };
    fake.arrived.notify_waiters();
    match action {
        Err((s, b)) => (s, axum::Json(b)).into_response(),
        Ok((_, true)) => {
            // Took the message; the answer never comes.
            std::future::pending::<()>().await;
            unreachable!()
        }
        Ok((answer, false)) => match app.flavour {
            Flavour::Resend => axum::Json(json!({"id": answer["id"]})).into_response(),
            Flavour::Sendgrid => (
                StatusCode::ACCEPTED,
                [("x-message-id", answer["id"].as_str().unwrap().to_string())],
            )
                .into_response(),
            Flavour::Twilio => (
                StatusCode::CREATED,
                axum::Json(json!({"sid": answer["sid"], "status": "queued"})),
            )
                .into_response(),
        },
    }
}

async fn serve(flavour: Flavour) -> FakeProvider {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let fake = FakeProvider {
        inner: Arc::default(),
        base,
        arrived: Arc::new(tokio::sync::Notify::new()),
    };
    let router = match flavour {
        Flavour::Resend => Router::new().route("/emails", post(handle)),
        Flavour::Sendgrid => Router::new().route("/v3/mail/send", post(handle)),
        Flavour::Twilio => Router::new().route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            post(
                |s: State<Arc<App>>, Path(sid): Path<String>, h: HeaderMap, b: Bytes| async move {
                    handle(s, Some(Path(sid)), h, b).await
                },
            ),
        ),
    };
    let app = Arc::new(App {
        fake: fake.clone(),
        flavour,
    });
    let router = router.with_state(app);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    fake
}

pub async fn resend() -> FakeProvider {
    serve(Flavour::Resend).await
}
pub async fn sendgrid() -> FakeProvider {
    serve(Flavour::Sendgrid).await
}
pub async fn twilio() -> FakeProvider {
    serve(Flavour::Twilio).await
}

/// An SMTP server that takes the whole message and then says nothing:
/// returns its port and a counter of messages whose data it received.
pub async fn silent_after_data_smtp() -> (u16, Arc<Mutex<usize>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(0usize));
    let counter = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut r = BufReader::new(r);
                let _ = w.write_all(b"220 fake ESMTP\r\n").await;
                let mut line = String::new();
                let mut in_data = false;
                loop {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if in_data {
                        if line == ".\r\n" {
                            *counter.lock().unwrap() += 1;
                            // The message is here; the answer never leaves.
                            std::future::pending::<()>().await;
                        }
                        continue;
                    }
                    let cmd = line.to_ascii_uppercase();
                    let reply: &[u8] = if cmd.starts_with("EHLO") {
                        b"250-fake\r\n250 8BITMIME\r\n"
                    } else if cmd.starts_with("DATA") {
                        in_data = true;
                        b"354 go ahead\r\n"
                    } else if cmd.starts_with("QUIT") {
                        b"221 bye\r\n"
                    } else {
                        b"250 OK\r\n"
                    };
                    let _ = w.write_all(reply).await;
                }
            });
        }
    });
    (port, got)
}
