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
                    ApiError::body_too_large()
                } else {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "unreadable-body",
                        "the request body could not be read to its end",
                    )
                }
            })?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses a JSON object into `T`, mapping errors as [`Json`] does: malformed
/// JSON is a 400 saying where; a body that is not an object, or of the wrong
/// shape, is a 422 naming the field, worded by [`Rejection`] (never serde's
/// own phrasing).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // First check the syntax, so a malformed body is told apart from a wrong shape.
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        let detail = if bytes.iter().all(u8::is_ascii_whitespace) {
            "the body is empty: send a JSON object".to_string()
        } else if e.to_string().starts_with("number out of range") {
            format!(
                "a number in the body is too large to read (line {}, column {})",
                e.line(),
                e.column()
            )
        } else if e.is_eof() {
            "the body is not valid JSON: it ends before the JSON does".to_string()
        } else {
            format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            )
        };
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            detail,
        ));
    }
    // Every body of this API is an object, and serde would read an array
    // into a struct whose fields all have defaults (`[]` as `{}`).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::validation(vec![FieldError {
            pointer: "#".into(),
            detail: "the body must be a JSON object".into(),
        }]));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let message = inner.split(" at line ").next().unwrap_or(&inner);
        ApiError::validation(vec![Rejection::Body.field_error(&path, message)])
    })
}

/// Where a value that did not fit came from: the words differ a little
/// ("the body", "a field" or "a parameter"), the mapping is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejection {
    /// A JSON body.
    Body,
    /// A query string.
    Query,
}

impl Rejection {
    /// Builds a field error from serde's path and message, in words for a
    /// person: the field at fault as a JSON pointer (a missing or unknown
    /// field is reported at that field, not at its parent; `#` for the
    /// whole body) and what it must be.
    fn field_error(self, path: &str, message: &str) -> FieldError {
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
        for prefix in ["missing field `", "unknown field `", "duplicate field `"] {
            if let Some(rest) = message.strip_prefix(prefix) {
                if let Some(name) = rest.split('`').next() {
                    // serde_path_to_error already ends the path at an unknown field.
                    if pointer.last().map(String::as_str) != Some(name) {
                        pointer.push(name.to_string());
                    }
                }
            }
        }
        let detail = self.detail(message, pointer.is_empty());
        if pointer.is_empty() {
            FieldError {
                pointer: "#".into(),
                detail,
            }
        } else {
            FieldError::new(&pointer.join("/"), detail)
        }
    }

    /// What is wrong, in words for a person, from serde's `message`.
    /// `whole` is true when the value is the whole body.
    fn detail(self, message: &str, whole: bool) -> String {
        if message.starts_with("missing field") {
            return "is required".into();
        }
        if message.starts_with("unknown field") {
            return match self {
                Rejection::Body => "is not a field of this request".into(),
                Rejection::Query => "is not a parameter of this request".into(),
            };
        }
        if message.starts_with("duplicate field") {
            return "is given twice".into();
        }
        if let Some(rest) = message.strip_prefix("unknown variant `") {
            let allowed = rest.split_once(", expected ").map_or("", |(_, e)| e);
            let values: Vec<&str> = allowed.split('`').skip(1).step_by(2).collect();
            return if values.is_empty() {
                "is not an accepted value".into()
            } else {
                format!("must be one of: {}", values.join(", "))
            };
        }
        if message.starts_with("data did not match any variant") {
            return "is not in a form this field accepts".into();
        }
        if message.starts_with("expected ") {
            // The JSON reader's own words for a value of a kind the field
            // never takes (a number for a named choice).
            return "is not an accepted value".into();
        }
        if message == "trailing characters" {
            // An array with more items than the struct read from it.
            return "has more items than it takes".into();
        }
        if message.starts_with("number out of range") {
            return "is too large".into();
        }
        if let Some(rest) = message.strip_prefix("invalid length ") {
            // serde reads a struct from an array too: `[]` for an object.
            let expected = rest.split_once(", expected ").map_or("", |(_, e)| e);
            return match (Kind::of(expected), whole) {
                (Some(Kind::Object), true) => "the body must be a JSON object".into(),
                (Some(Kind::Object), false) => "must be a JSON object".into(),
                _ => "has the wrong number of items".into(),
            };
        }
        for prefix in ["invalid type: ", "invalid value: "] {
            if let Some(rest) = message.strip_prefix(prefix) {
                let (got, expected) = rest.rsplit_once(", expected ").unwrap_or((rest, ""));
                return Self::wrong_value(got, expected, whole);
            }
        }
        // What `FromStr` says of a query parameter that is not a number or
        // a boolean.
        match message {
            "invalid digit found in string" | "cannot parse integer from empty string" => {
                return "must be a whole number".into()
            }
            "number too large to fit in target type" => return "is too large".into(),
            "number too small to fit in target type" => return "is too small".into(),
            "invalid float literal" => return "must be a number".into(),
            "provided string was not `true` or `false`" => return "must be true or false".into(),
            _ => {}
        }
        // Anything else is a message of Cielo's own types (an id, a
        // currency, a time), already written for a person.
        message.to_string()
    }

    /// `got` (serde's "floating point `1e20`", "sequence", "string \"x\"")
    /// where `expected` (serde's "i64", "struct NewLine", "a string") was
    /// wanted, in words.
    fn wrong_value(got: &str, expected: &str, whole: bool) -> String {
        let Some(kind) = Kind::of(expected) else {
            return if whole {
                "the body is not in the form this request takes".into()
            } else {
                "has the wrong type".into()
            };
        };
        if let Kind::Integer { min, max } = kind {
            // A number of the right kind but out of range, or written with
            // a fraction or an exponent: say which.
            let number = got
                .split('`')
                .nth(1)
                .and_then(|n| n.parse::<f64>().ok())
                .filter(|_| got.starts_with("integer") || got.starts_with("floating point"));
            if let Some(n) = number {
                return if n > max {
                    if max >= 9.2e18 {
                        "is too large".into()
                    } else {
                        format!("is too large: at most {max}")
                    }
                } else if n < min {
                    if min == 0.0 {
                        "must not be negative".into()
                    } else {
                        "is too small".into()
                    }
                } else if n.fract() != 0.0 {
                    "must be a whole number".into()
                } else {
                    "must be written as a whole number, without a decimal point or exponent".into()
                };
            }
        }
        if whole {
            format!("the body must be {}", kind.words())
        } else {
            format!("must be {}", kind.words())
        }
    }
}

/// The kinds of value a person is told a field must be.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A whole number within `min..=max`.
    Integer { min: f64, max: f64 },
    /// Any number.
    Number,
    /// A string.
    Text,
    /// `true` or `false`.
    Boolean,
    /// A JSON object.
    Object,
    /// A JSON array.
    List,
}

impl Kind {
    /// The kind serde's `expected` text names, if it is one of these.
    fn of(expected: &str) -> Option<Kind> {
        let int = |min: f64, max: f64| Some(Kind::Integer { min, max });
        match expected {
            "i8" => int(i8::MIN as f64, i8::MAX as f64),
            "i16" => int(i16::MIN as f64, i16::MAX as f64),
            "i32" => int(i32::MIN as f64, i32::MAX as f64),
            "i64" | "isize" => int(i64::MIN as f64, i64::MAX as f64),
            "u8" => int(0.0, u8::MAX as f64),
            "u16" => int(0.0, u16::MAX as f64),
            "u32" => int(0.0, u32::MAX as f64),
            "u64" | "usize" => int(0.0, u64::MAX as f64),
            "f32" | "f64" => Some(Kind::Number),
            "a string" | "a borrowed string" | "string" | "a character" | "char" => {
                Some(Kind::Text)
            }
            "a boolean" | "bool" => Some(Kind::Boolean),
            "a sequence" | "a tuple" | "tuple" | "tuple struct" => Some(Kind::List),
            e if e.starts_with("a tuple of size") || e.starts_with("tuple struct") => {
                Some(Kind::List)
            }
            "a map" | "map" | "struct variant" => Some(Kind::Object),
            e if e.starts_with("struct ")
                || e.starts_with("internally tagged enum")
                || e.starts_with("adjacently tagged enum") =>
            {
                Some(Kind::Object)
            }
            _ => None,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Kind::Integer { .. } => "a whole number",
            Kind::Number => "a number",
            Kind::Text => "text (a JSON string)",
            Kind::Boolean => "true or false",
            Kind::Object => "a JSON object",
            Kind::List => "a list (a JSON array)",
        }
    }
}

/// Query parameters; a bad one is a 422 naming it (`#/limit`), worded as
/// [`Json`]'s fields are.
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
        ApiError::invalid_query(vec![Rejection::Query.field_error(&path, &message)])
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

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Typed {
        #[serde(default)]
        count: Option<i64>,
        #[serde(default)]
        small: Option<u32>,
        #[serde(default)]
        ratio: Option<f64>,
        #[serde(default)]
        on: Option<bool>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        tags: Option<Vec<String>>,
        #[serde(default)]
        line: Option<Line>,
        #[serde(default)]
        colour: Option<Colour>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "snake_case")]
    #[allow(dead_code)]
    enum Colour {
        Red,
        Dark,
    }

    /// serde's phrasing that must never reach a person.
    fn assert_human(detail: &str) {
        for leak in [
            "invalid type",
            "invalid value",
            "unknown variant",
            "expected",
            "struct ",
            "sequence",
            "floating point",
            "i64",
            "u32",
            "`",
        ] {
            assert!(!detail.contains(leak), "{detail:?} leaks {leak:?}");
        }
    }

    #[test]
    fn wrong_values_in_a_body_are_said_in_words_at_their_field() {
        let cases = [
            (r#"{"count": 1e20}"#, "#/count", "is too large"),
            (
                r#"{"count": 100000000000000000000}"#,
                "#/count",
                "is too large",
            ),
            (r#"{"count": -1e20}"#, "#/count", "is too small"),
            (r#"{"count": 2.5}"#, "#/count", "must be a whole number"),
            (
                r#"{"count": 1e2}"#,
                "#/count",
                "must be written as a whole number, without a decimal point or exponent",
            ),
            (r#"{"count": "3"}"#, "#/count", "must be a whole number"),
            (r#"{"count": [3]}"#, "#/count", "must be a whole number"),
            (r#"{"small": -1}"#, "#/small", "must not be negative"),
            (
                r#"{"small": 5000000000}"#,
                "#/small",
                "is too large: at most 4294967295",
            ),
            (r#"{"ratio": "x"}"#, "#/ratio", "must be a number"),
            (r#"{"on": "yes"}"#, "#/on", "must be true or false"),
            (r#"{"name": 3}"#, "#/name", "must be text (a JSON string)"),
            (
                r#"{"tags": "a"}"#,
                "#/tags",
                "must be a list (a JSON array)",
            ),
            (r#"{"line": []}"#, "#/line", "must be a JSON object"),
            (
                r#"{"line": {"quantity": 1e20}}"#,
                "#/line/quantity",
                "is too large",
            ),
            (
                r#"{"colour": "blue"}"#,
                "#/colour",
                "must be one of: red, dark",
            ),
            (r#"{"colour": 3}"#, "#/colour", "is not an accepted value"),
            (r#"{"name": "a", "name": "b"}"#, "#/name", "is given twice"),
            ("[]", "#", "the body must be a JSON object"),
            ("[1, 2]", "#", "the body must be a JSON object"),
            (
                r#"{"line": [1, 2]}"#,
                "#/line",
                "has more items than it takes",
            ),
            ("3", "#", "the body must be a JSON object"),
            (r#""x""#, "#", "the body must be a JSON object"),
        ];
        for (body, pointer, detail) in cases {
            let err = parse_json::<Typed>(body.as_bytes()).unwrap_err();
            assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(err.errors[0].pointer, pointer, "{body}");
            assert_eq!(err.errors[0].detail, detail, "{body}");
            assert_human(&err.detail);
        }
        let err = parse_json::<Typed>(b"[]").unwrap_err();
        assert_eq!(err.detail, "the body must be a JSON object");
    }

    #[test]
    fn wrong_query_parameters_are_a_422_in_the_same_words() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Params {
            limit: Option<i64>,
            small: Option<u32>,
            on: Option<bool>,
            colour: Option<Colour>,
        }
        let cases = [
            ("limit=abc", "#/limit", "must be a whole number"),
            ("limit=", "#/limit", "must be a whole number"),
            ("limit=100000000000000000000", "#/limit", "is too large"),
            ("small=-1", "#/small", "must be a whole number"),
            ("on=yes", "#/on", "must be true or false"),
            ("colour=blue", "#/colour", "must be one of: red, dark"),
            ("other=1", "#/other", "is not a parameter of this request"),
        ];
        for (q, pointer, detail) in cases {
            let err = parse_query::<Params>(q).unwrap_err();
            assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
            assert_eq!(err.code, "invalid-query", "{q}");
            assert_eq!(err.errors[0].pointer, pointer, "{q}");
            assert_eq!(err.errors[0].detail, detail, "{q}");
            assert_human(&err.detail);
        }
    }

    #[test]
    fn malformed_json_says_where_without_the_parser_words() {
        let err = parse_json::<Body>(b"{\"email\": }").unwrap_err();
        assert_eq!(err.detail, "the body is not valid JSON (line 1, column 11)");
        let err = parse_json::<Body>(b"{\"email\": ").unwrap_err();
        assert_eq!(
            err.detail,
            "the body is not valid JSON: it ends before the JSON does"
        );
        let err = parse_json::<Body>(b"  ").unwrap_err();
        assert_eq!(err.detail, "the body is empty: send a JSON object");
        let err = parse_json::<Typed>(b"{\"count\": 1e400}").unwrap_err();
        assert_eq!(err.errors[0].pointer, "#/count", "{err:?}");
        assert_eq!(err.detail, "count: is too large");
    }

    #[test]
    fn malformed_json_is_a_400() {
        let err = parse_json::<Body>(b"{\"email\": ").unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.code, "malformed-json");
    }
}
