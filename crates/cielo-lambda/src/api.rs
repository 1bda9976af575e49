//! The `api` function: the shop's axum router behind `lambda_http`.
//!
//! `lambda_http` turns each event (API Gateway REST or HTTP API, function
//! URL, ALB) into an `http::Request` and the response back into the event's
//! answer, base64-encoding bodies that are not text (PNG previews). Around
//! the router this module:
//!
//! - removes the stage prefix `lambda_http` leaves in the path (REST APIs and
//!   named HTTP API stages), so `/prod/api/store/products` routes as
//!   `/api/store/products`;
//! - gives the router the client address (`ConnectInfo`) from the event;
//! - refuses to send a body above [`MAX_BODY_BYTES`]: Lambda drops responses
//!   over 6 MB (base64 makes a binary body a third larger), so such a
//!   response becomes a `500` problem instead (print files are served from
//!   storage through signed URLs, never through the function);
//! - relays jobs the request committed to SQS before the response returns.

use crate::Services;
use axum::body::Body as AxumBody;
use axum::extract::ConnectInfo;
use http::{header, HeaderValue, Response, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tower::ServiceExt;

/// Largest response body sent: 6 MB of base64 hold 4.5 MB of binary data,
/// leaving room for the headers of the response envelope.
pub const MAX_BODY_BYTES: usize = 4_500_000;

/// The service `lambda_http::run` drives.
pub fn service(
    services: Services,
) -> impl tower::Service<
    lambda_http::Request,
    Response = Response<AxumBody>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    tower::service_fn(move |req: lambda_http::Request| {
        let s = services.clone();
        async move { Ok::<_, Infallible>(handle(&s, req).await) }
    })
}

/// Serves one request.
pub async fn handle(s: &Services, req: lambda_http::Request) -> Response<AxumBody> {
    let peer = client_address(req.request_context_ref());
    let path = routed_path(&req);
    let (mut parts, body) = req.into_parts();
    if let Some(path) = path {
        let pq = match parts.uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let mut uri = http::uri::Parts::from(parts.uri.clone());
        if let Ok(pq) = pq.parse() {
            uri.path_and_query = Some(pq);
            if let Ok(u) = http::Uri::from_parts(uri) {
                parts.uri = u;
            }
        }
    }
    parts.extensions.insert(ConnectInfo(peer));
    let instance = parts.uri.path().to_string();
    let request_id = parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let req = http::Request::from_parts(parts, AxumBody::from(body.to_vec()));
    let response = match s.router.clone().oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    s.relay_if_written().await;
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => Response::from_parts(parts, AxumBody::from(bytes)),
        Err(e) => {
            tracing::error!(path = %instance, error = %e, "response too large for Lambda, or its body failed");
            too_large(&instance, &request_id)
        }
    }
}

fn too_large(instance: &str, request_id: &str) -> Response<AxumBody> {
    let problem = serde_json::json!({
        "type": "urn:cielo:problem:response-too-large",
        "title": "Response too large",
        "status": 500,
        "detail": format!("the response is larger than this deployment can send ({MAX_BODY_BYTES} bytes); large files are fetched from storage through signed URLs"),
        "instance": instance,
        "request_id": request_id,
    });
    let mut r = Response::new(AxumBody::from(problem.to_string()));
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

/// The client address API Gateway saw (`0.0.0.0` when the event has none).
fn client_address(ctx: Option<&RequestContext>) -> SocketAddr {
    let ip = match ctx {
        Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.clone(),
        Some(RequestContext::ApiGatewayV1(c)) => c.identity.source_ip.clone(),
        _ => None,
    };
    let ip = ip
        .and_then(|i| i.parse::<IpAddr>().ok())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    SocketAddr::new(ip, 0)
}

/// The path the router should see, when it differs from the one
/// `lambda_http` built (which always starts with a named stage).
///
/// - REST APIs (payload 1.0): the event's `path` never holds the stage, so
///   the route is that path.
/// - HTTP APIs (payload 2.0): `rawPath` holds the stage only on the default
///   `execute-api` endpoint of a named stage; on a custom domain it does not,
///   and a path that merely starts with the stage's name is left alone.
/// - Function URLs and ALB: no stage.
fn routed_path(req: &lambda_http::Request) -> Option<String> {
    let raw = req.raw_http_path();
    let (stage, wanted) = match req.request_context_ref()? {
        RequestContext::ApiGatewayV1(c) => (c.stage.clone()?, raw.to_string()),
        RequestContext::ApiGatewayV2(c) => {
            let stage = c.stage.clone()?;
            let default_endpoint = c
                .domain_name
                .as_deref()
                .is_none_or(|d| d.contains(".execute-api."));
            let prefix = format!("/{stage}");
            let wanted = match raw.strip_prefix(&prefix) {
                Some(rest) if default_endpoint && (rest.is_empty() || rest.starts_with('/')) => {
                    if rest.is_empty() {
                        "/".to_string()
                    } else {
                        rest.to_string()
                    }
                }
                _ => raw.to_string(),
            };
            (stage, wanted)
        }
        _ => return None,
    };
    if stage == "$default" {
        return None;
    }
    // What lambda_http made of it (see its `apigw_path_with_stage`).
    let built = if std::env::var_os("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_some()
        || raw.starts_with(&format!("/{stage}/"))
    {
        raw.to_string()
    } else {
        format!("/{stage}{raw}")
    };
    if built == wanted {
        return None;
    }
    if wanted == "/" {
        return Some("/".into());
    }
    // `built` is `wanted` behind a prefix of stage names (no characters that
    // need percent-encoding): remove that prefix from the encoded path.
    let extra = built.strip_suffix(wanted.as_str())?;
    req.uri()
        .path()
        .strip_prefix(extra)
        .filter(|p| p.starts_with('/'))
        .map(str::to_string)
}
