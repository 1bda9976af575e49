//! The HTTP/1.1 server loop, with the limits a server facing the Internet
//! needs and `axum::serve` does not set:
//!
//! - a header-read timeout: a client must send a whole request head within
//!   it, and a kept-alive connection that sends no next request within it is
//!   closed (slow-header clients and idle keep-alives cannot pile up);
//! - a cap on open connections: past it, new connections wait in the kernel's
//!   backlog until one closes;
//! - the request timeout (a body that never finishes, a handler that hangs)
//!   is the router's layer, see [`crate::HttpConfig::request_timeout`].
//!
//! On shutdown it stops accepting, lets in-flight requests finish, closes
//! idle connections, and returns when every connection is gone.

use crate::Front;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// Connection limits of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct ServeConfig {
    /// Longest wait for a complete request head, and longest idle time of a
    /// kept-alive connection between requests.
    pub header_read_timeout: Duration,
    /// Most connections open at once (idle keep-alives included).
    pub max_connections: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then drains.
/// Each request carries `ConnectInfo<SocketAddr>` like
/// `into_make_service_with_connect_info` gives.
pub async fn serve(
    listener: TcpListener,
    app: Front,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max = config.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, don't spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut stop = stop_rx.clone();
        let header_read_timeout = config.header_read_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let service =
                hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    app.clone().oneshot(req)
                });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, %peer, "connection closed with an error");
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a permit: having them all means all are closed.
    let _all = permits.acquire_many(max as u32).await;
    Ok(())
}
