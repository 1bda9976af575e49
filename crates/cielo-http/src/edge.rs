//! What every API request shares, written as two plain tower services rather
//! than a stack of generic middleware: each generic layer cost a boxed future,
//! a clone of the rest of the stack and its own bookkeeping per request, and
//! together they used as much CPU as the request itself (bench/api.sh).
//!
//! - [`Edge`], around the whole router: the request id (kept from the
//!   client's `x-request-id` or made, and echoed on the answer), the request's
//!   tracing span, the request timeout, problem bodies for error answers
//!   ([`crate::problem::finish`]), and the HTTP metrics under the matched
//!   route. A store read whose answer is in the response cache is answered
//!   here, before routing (see [`crate::cache`]).
//! - [`Front`], in front of the whole app (pages included) when the binary
//!   serves HTTP itself: a store read whose answer is cached is answered
//!   there, before any routing; everything else goes on unchanged.
//! - [`RouteLayer`], around each route: the per-IP rate limit of the route
//!   ([`crate::limits`]), and the route's template handed to the edge on the
//!   answer, for the metrics.

use crate::AppState;
use axum::extract::{MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture as RouterFuture;
use axum::Router;
use futures::future::{BoxFuture, Either};
use http::{HeaderName, HeaderValue, Method, StatusCode};
use pin_project_lite::pin_project;
use std::convert::Infallible;
use std::future::Future;
use std::future::Ready;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;
use tower::{Layer, Service, ServiceExt};
use tracing::Instrument;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The matched route of an answer: put on the answer by [`RouteLayer`], read
/// by [`Edge`] for the metrics.
#[derive(Clone)]
struct AnsweredRoute(MatchedPath);

/// A new request id: a random UUID (v4) from the thread's generator, which
/// costs no system call (`Uuid::new_v4` asks the OS each time).
fn new_request_id() -> HeaderValue {
    let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let mut buf = uuid::Uuid::encode_buffer();
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut buf))
        .expect("a UUID is a valid header value")
}

/// The cached answer to a `GET` of `uri`, with its request id (the client's,
/// or a new one), counted in the metrics; `None` on a miss.
fn cached_answer(
    state: &AppState,
    method: &Method,
    uri: &http::Uri,
    given_id: Option<&HeaderValue>,
    start: Instant,
) -> Option<Response> {
    if method != Method::GET {
        return None;
    }
    let (metrics, mut res) = state.cache.answer(uri, state.catalog.generation())?;
    res.headers_mut().insert(
        X_REQUEST_ID,
        given_id.cloned().unwrap_or_else(new_request_id),
    );
    metrics.record(start.elapsed().as_secs_f64());
    Some(res)
}

/// See the module documentation: the shop's whole app (`app`, the pages
/// with the API behind them) with the response cache in front.
#[derive(Clone)]
pub struct Front {
    app: Router,
    state: AppState,
}

impl Front {
    /// `app` behind the response cache of `state`.
    pub fn new(app: Router, state: AppState) -> Self {
        Self { app, state }
    }
}

impl<B> Service<http::Request<B>> for Front
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, RouterFuture<Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let start = Instant::now();
        match cached_answer(
            &self.state,
            req.method(),
            req.uri(),
            req.headers().get(X_REQUEST_ID),
            start,
        ) {
            Some(res) => Either::Left(std::future::ready(Ok(res))),
            None => Either::Right(self.app.call(req)),
        }
    }
}

/// The whole API behind [`Edge`], as a router the pages can fall back to.
pub(crate) fn wrap(app: Router, state: AppState) -> Router {
    Router::new().fallback_service(Edge { inner: app, state })
}

/// See the module documentation.
#[derive(Clone)]
pub(crate) struct Edge {
    inner: Router,
    state: AppState,
}

impl Service<Request> for Edge {
    type Response = Response;
    type Error = Infallible;
    /// A cache hit is answered at once; anything else is one boxed future.
    type Future = Either<
        Ready<Result<Response, Infallible>>,
        BoxFuture<'static, Result<Response, Infallible>>,
    >;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let start = Instant::now();
        let given = req.headers().get(X_REQUEST_ID).cloned();
        // Served without a [`Front`] (a serverless function), hits end here.
        if let Some(res) =
            cached_answer(&self.state, req.method(), req.uri(), given.as_ref(), start)
        {
            return Either::Left(std::future::ready(Ok(res)));
        }
        let method = crate::metrics::method_name(req.method());
        let id = match given {
            Some(v) => v,
            None => {
                let v = new_request_id();
                req.headers_mut().insert(X_REQUEST_ID, v.clone());
                v
            }
        };
        let state = self.state.clone();
        let span = tracing::info_span!(
            "http.request",
            method = %req.method(),
            path = %req.uri().path(),
            route = tracing::field::Empty,
            status = tracing::field::Empty,
            request_id = %id.to_str().unwrap_or("")
        );
        // A caller's W3C trace context (our own test provider's webhooks, a
        // traced client) makes this request part of its trace.
        if let Some(parent) = req.headers().get(TRACEPARENT) {
            if let Ok(parent) = parent.to_str() {
                cielo_core::telemetry::set_trace_parent(&span, parent);
            }
        }
        // Shares the request's buffer: no copy unless the answer is an error.
        let uri = req.uri().clone();
        let timeout = state.config.request_timeout;
        let answer = self.inner.clone().oneshot(req);
        Either::Right(Box::pin(
            async move {
                let res = if timeout.is_zero() {
                    answer.await
                } else {
                    // A body that never finishes, or a handler that hangs.
                    tokio::time::timeout(timeout, answer)
                        .await
                        .unwrap_or_else(|_| Ok(StatusCode::REQUEST_TIMEOUT.into_response()))
                };
                let res = match res {
                    Ok(res) => res,
                    Err(never) => match never {},
                };
                let mut res = crate::problem::finish(res, uri.path(), &id).await;
                res.headers_mut().insert(X_REQUEST_ID, id);
                let status = res.status().as_u16();
                if status >= 500 {
                    // For the server-errors alert, off the answer's path.
                    if let Some(ops) = state.ops.clone() {
                        tokio::spawn(async move {
                            if let Err(e) = ops.count_server_error().await {
                                tracing::warn!(error = %e, "could not count a server error");
                            }
                        });
                    }
                }
                let elapsed = start.elapsed();
                let route = res.extensions().get::<AnsweredRoute>();
                let route = route.map_or("other", |r| r.0.as_str());
                state
                    .metrics
                    .record(route, method, status, elapsed.as_secs_f64());
                let span = tracing::Span::current();
                if !span.is_disabled() {
                    span.record("route", route);
                    span.record("status", status);
                }
                tracing::debug!(status, latency_us = elapsed.as_micros() as u64, "answered");
                Ok(res)
            }
            .instrument(span),
        ))
    }
}

/// See the module documentation.
#[derive(Clone)]
pub(crate) struct RouteLayer {
    pub(crate) state: AppState,
}

impl<S> Layer<S> for RouteLayer {
    type Service = RouteService<S>;
    fn layer(&self, inner: S) -> RouteService<S> {
        RouteService {
            inner,
            state: self.state.clone(),
        }
    }
}

/// [`RouteLayer`] around one route.
#[derive(Clone)]
pub(crate) struct RouteService<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for RouteService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = RouteFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let matched = req.extensions().get::<MatchedPath>().cloned();
        if let Some(m) = &matched {
            if let Some(mut refused) = crate::limits::refuse(&self.state, &req, m.as_str()) {
                refused.extensions_mut().insert(AnsweredRoute(m.clone()));
                return RouteFuture::Refused {
                    answer: Some(refused),
                };
            }
        }
        RouteFuture::Inner {
            answer: self.inner.call(req),
            matched,
        }
    }
}

pin_project! {
    /// The answer of a [`RouteService`].
    #[project = RouteFutureProj]
    pub(crate) enum RouteFuture<F> {
        Refused { answer: Option<Response> },
        Inner { #[pin] answer: F, matched: Option<MatchedPath> },
    }
}

impl<F> Future for RouteFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            RouteFutureProj::Refused { answer } => {
                Poll::Ready(Ok(answer.take().expect("polled after completion")))
            }
            RouteFutureProj::Inner { answer, matched } => {
                let mut res = ready!(answer.poll(cx))?;
                if let Some(m) = matched.take() {
                    res.extensions_mut().insert(AnsweredRoute(m));
                }
                Poll::Ready(Ok(res))
            }
        }
    }
}
