//! Extractors whose rejections are problem+json naming the field at fault.

use crate::problem::ApiError;
use crate::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use cielo_core::FieldError;
use http::request::Parts;
use http::{header, StatusCode};
use serde::de::DeserializeOwned;

/// A JSON body. Malformed JSON is a 400; a body of the wrong shape is a 422
/// whose `errors` point at the field (`#/lines/0/quantity`).
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| {
                m.type_() == "application"
                    && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "send the body as application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body-too-large",
                        "the request body is larger than this server accepts",
                    )
                } else {
                    ApiError::new(StatusCode::BAD_REQUEST, "unreadable-body", e.body_text())
                }
            })?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses JSON into `T`, mapping errors as [`Json`] does.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // First check the syntax, so a malformed body is told apart from a wrong shape.
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            format!("the body is not valid JSON: {e}"),
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let message = inner
            .split(" at line ")
            .next()
            .unwrap_or(&inner)
            .to_string();
        ApiError::validation(vec![field_error(&path, &message)])
    })
}

/// Builds a field error from serde's path and message: a missing or unknown
/// field is reported at that field, not at its parent.
fn field_error(path: &str, message: &str) -> FieldError {
    let mut pointer: Vec<String> = if path == "." || path.is_empty() {
        Vec::new()
    } else {
        path.replace('[', ".")
            .replace(']', "")
            .split('.')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some(name) = rest.split('`').next() {
                // serde_path_to_error already ends the path at an unknown field.
                if pointer.last().map(String::as_str) != Some(name) {
                    pointer.push(name.to_string());
                }
            }
        }
    }
    let detail = if message.starts_with("missing field") {
        "is required".to_string()
    } else if message.starts_with("unknown field") {
        "is not a field of this request".to_string()
    } else {
        message.to_string()
    };
    FieldError::new(&pointer.join("/"), detail)
}

/// Query parameters; a bad one is a 400 naming it.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or("")).map(Query)
    }
}

/// Parses a query string into `T`, mapping errors as [`Query`] does (for
/// handlers that parse only when they need to, after a cache miss).
pub fn parse_query<T: DeserializeOwned>(q: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(q));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let mut err = ApiError::validation(vec![field_error(&path, &message)]);
        err.status = StatusCode::BAD_REQUEST;
        err.code = "invalid-query";
        err
    })
}

fn form_urlencoded_parse(q: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(q.as_bytes())
}

/// Reads the bearer token, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The caller, if signed in. A token that is present but not valid is a 401,
/// so clients learn their session ended instead of silently becoming guests.
pub struct MaybeCustomer(pub Option<cielo_accounts::Principal>);

impl FromRequestParts<AppState> for MaybeCustomer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match bearer(parts) {
            None => Ok(Self(None)),
            Some(t) => {
                let token = cielo_accounts::SessionToken::from_client(t);
                Ok(Self(Some(state.accounts.authenticate(&token).await?)))
            }
        }
    }
}

/// A signed-in customer (or admin); 401 otherwise.
pub struct CustomerAuth(pub cielo_accounts::Principal);

impl FromRequestParts<AppState> for CustomerAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match MaybeCustomer::from_request_parts(parts, state).await?.0 {
            Some(p) => Ok(Self(p)),
            None => Err(ApiError::unauthorized(
                "sign in first: send `Authorization: Bearer <token>`",
            )),
        }
    }
}

/// A signed-in admin; 401 without a session, 403 for a customer.
pub struct AdminAuth(pub cielo_accounts::Principal);

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let CustomerAuth(p) = CustomerAuth::from_request_parts(parts, state).await?;
        if p.role != cielo_accounts::Role::Admin {
            return Err(ApiError::forbidden("this needs an admin account"));
        }
        Ok(Self(p))
    }
}

/// Parses a typed id from a path segment; an id of the wrong shape is simply
/// not found.
pub fn path_id<T: std::str::FromStr>(raw: &str, code: &'static str) -> Result<T, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::not_found(code, "no such resource"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Line {
        quantity: i64,
    }
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        lines: Vec<Line>,
    }

    #[test]
    fn wrong_shapes_point_at_the_field() {
        let cases = [
            (r#"{"email": 3, "lines": []}"#, "#/email"),
            (
                r#"{"email": "a", "lines": [{"quantity": "x"}]}"#,
                "#/lines/0/quantity",
            ),
            (r#"{"lines": []}"#, "#/email"),
            (r#"{"email": "a", "lines": [], "extra": 1}"#, "#/extra"),
        ];
        for (body, pointer) in cases {
            let err = parse_json::<Body>(body.as_bytes()).unwrap_err();
            assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(err.errors[0].pointer, pointer, "{body}");
        }
    }

    #[test]
    fn malformed_json_is_a_400() {
        let err = parse_json::<Body>(b"{\"email\": ").unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.code, "malformed-json");
    }
}
