//! Cookies, the visitor's context, and CSRF protection.
//!
//! Cookies (all `Path=/`, `HttpOnly`, `SameSite=Lax`, `Secure` behind HTTPS):
//! - `cielo_session`: the API session token after sign-in;
//! - `cielo_cart`: the open cart's id;
//! - `cielo_lang`: `en` or `es`, as the visitor chose;
//! - `cielo_csrf`: a random token every form echoes in its `_csrf` field
//!   (double submit: another site can neither read the cookie nor set it,
//!   and `SameSite=Lax` keeps it off cross-site posts in the first place);
//! - `cielo_o_<order id>`: a guest's access token for an order they placed.

use crate::api::Caller;
use crate::i18n::Lang;
use crate::Web;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, Method, StatusCode};
use rand::RngCore;
use std::collections::HashMap;
use std::net::SocketAddr;

/// Session cookie name.
pub const SESSION: &str = "cielo_session";
/// Cart cookie name.
pub const CART: &str = "cielo_cart";
/// Language cookie name.
pub const LANG: &str = "cielo_lang";
/// CSRF cookie name.
pub const CSRF: &str = "cielo_csrf";
/// Prefix of the cookies holding a guest's order access tokens.
pub const ORDER_PREFIX: &str = "cielo_o_";
/// Largest form a page accepts.
const FORM_LIMIT: usize = 256 * 1024;
/// Largest file form (`multipart/form-data`) an admin page accepts: a
/// product image.
const UPLOAD_LIMIT: usize = 12 * 1024 * 1024;

/// A file posted in a `multipart/form-data` form.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The form field's name.
    pub field: String,
    /// The file's name on the visitor's machine.
    pub filename: String,
    /// The type the browser gave it (`image/png`...).
    pub content_type: String,
    /// The bytes.
    pub bytes: bytes::Bytes,
}

/// The visitor as a page sees them.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// For calls to the API.
    pub caller: Caller,
    /// Language of the page.
    pub lang: Lang,
    /// Open cart, if any.
    pub cart: Option<String>,
    /// The CSRF token forms must carry.
    pub csrf: String,
    /// Every cookie received.
    pub cookies: HashMap<String, String>,
    /// A posted form's fields, in order (checked for CSRF already).
    pub form: Vec<(String, String)>,
    /// Files of a posted `multipart/form-data` form (admin pages only).
    pub files: Vec<Upload>,
    /// The request's path and query, for links back.
    pub here: String,
}

impl Ctx {
    /// The last value of a form field (checkboxes post a hidden default first).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A form field, trimmed, `None` when empty.
    pub fn text(&self, name: &str) -> Option<String> {
        self.field(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// Every value of a repeated form field (checkboxes), in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.form
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The posted file of field `name`, when one was chosen.
    pub fn file(&self, name: &str) -> Option<&Upload> {
        self.files
            .iter()
            .find(|f| f.field == name && !f.bytes.is_empty())
    }

    /// A guest's access token for `order`, from the cookie set at checkout.
    pub fn order_token(&self, order: &str) -> Option<&str> {
        self.cookies
            .get(&format!("{ORDER_PREFIX}{order}"))
            .map(String::as_str)
    }
}

/// Parses a `Cookie` header.
pub fn parse_cookies(headers: &http::HeaderMap) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for v in headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for part in v.split(';') {
            if let Some((k, val)) = part.trim().split_once('=') {
                out.insert(k.trim().to_string(), val.trim().to_string());
            }
        }
    }
    out
}

/// A `Set-Cookie` value. `max_age` in seconds; `Some(0)` deletes.
pub fn cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

fn random_token() -> String {
    let mut b = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn safe_cookie_value(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 200
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Builds the visitor's [`Ctx`], and refuses any form post whose `_csrf`
/// field does not match its cookie (403, before the handler runs).
pub(crate) async fn guard(State(web): State<Web>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let cookies = parse_cookies(&parts.headers);
    let (csrf, new_csrf) = match cookies.get(CSRF).filter(|v| safe_cookie_value(v)) {
        Some(v) => (v.clone(), false),
        None => (random_token(), true),
    };
    let mut form = Vec::new();
    let mut files = Vec::new();
    if parts.method == Method::POST {
        // Files are taken only by admin pages (product images).
        let boundary = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|ct| multer::parse_boundary(ct).ok())
            .filter(|_| parts.uri.path().starts_with("/admin/"));
        let limit = if boundary.is_some() {
            UPLOAD_LIMIT
        } else {
            FORM_LIMIT
        };
        let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
            return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
        };
        match boundary {
            Some(b) => match read_multipart(bytes, b).await {
                Ok((f, up)) => (form, files) = (f, up),
                Err(e) => {
                    return (StatusCode::BAD_REQUEST, format!("unreadable form: {e}"))
                        .into_response()
                }
            },
            None => form = form_urlencoded::parse(&bytes).into_owned().collect(),
        }
        let sent = form
            .iter()
            .rev()
            .find(|(k, _)| k == "_csrf")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        if new_csrf || !ct_eq(sent.as_bytes(), csrf.as_bytes()) {
            return (
                StatusCode::FORBIDDEN,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "This form has expired or did not come from this shop. Go back, reload the page and try again.",
            )
                .into_response();
        }
    }
    let ctx = visitor(&parts, cookies, csrf.clone(), form, files);
    parts.extensions.insert(ctx);
    let req = Request::from_parts(parts, axum::body::Body::empty());
    let mut res = next.run(req).await;
    if new_csrf {
        if let Ok(v) = cookie(CSRF, &csrf, None, web.secure_cookies).parse() {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// The visitor of a request without a form (a page that is not found):
/// the [`Ctx`] and, when the visitor had no CSRF cookie yet, the new one.
pub(crate) fn visitor_of(parts: &http::request::Parts) -> (Ctx, Option<String>) {
    let cookies = parse_cookies(&parts.headers);
    let (csrf, new_csrf) = match cookies.get(CSRF).filter(|v| safe_cookie_value(v)) {
        Some(v) => (v.clone(), false),
        None => (random_token(), true),
    };
    let ctx = visitor(parts, cookies, csrf.clone(), Vec::new(), Vec::new());
    (ctx, new_csrf.then_some(csrf))
}

fn visitor(
    parts: &http::request::Parts,
    cookies: std::collections::HashMap<String, String>,
    csrf: String,
    form: Vec<(String, String)>,
    files: Vec<Upload>,
) -> Ctx {
    let lang = cookies
        .get(LANG)
        .and_then(|l| Lang::parse(l))
        .unwrap_or_else(|| Lang::from_accept(parts.headers.get(header::ACCEPT_LANGUAGE)));
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    Ctx {
        caller: Caller {
            token: cookies
                .get(SESSION)
                .filter(|v| safe_cookie_value(v))
                .cloned(),
            peer,
            forwarded_for: parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        },
        lang,
        cart: cookies.get(CART).filter(|v| safe_cookie_value(v)).cloned(),
        csrf,
        here: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into()),
        cookies,
        form,
        files,
    }
}

/// The fields and files of a `multipart/form-data` body.
async fn read_multipart(
    body: bytes::Bytes,
    boundary: String,
) -> Result<(Vec<(String, String)>, Vec<Upload>), multer::Error> {
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut mp = multer::Multipart::new(stream, boundary);
    let (mut form, mut files) = (Vec::new(), Vec::new());
    while let Some(field) = mp.next_field().await? {
        let name = field.name().unwrap_or("").to_string();
        match field.file_name().map(str::to_string) {
            Some(filename) => {
                let content_type = field
                    .content_type()
                    .map(|m| m.essence_str().to_string())
                    .unwrap_or_default();
                let bytes = field.bytes().await?;
                files.push(Upload {
                    field: name,
                    filename,
                    content_type,
                    bytes,
                });
            }
            None => {
                let text = field.text().await?;
                form.push((name, text));
            }
        }
    }
    Ok((form, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_http_only_and_lax_and_secure_only_behind_https() {
        let c = cookie(SESSION, "abc", None, false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax"));
        assert!(!c.contains("Secure"));
        assert!(cookie(SESSION, "abc", Some(0), true).ends_with("Max-Age=0; Secure"));
    }

    #[test]
    fn cookie_header_is_parsed_and_odd_values_are_not_trusted() {
        let mut h = http::HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; cielo_cart=cart_01; x".parse().unwrap(),
        );
        let c = parse_cookies(&h);
        assert_eq!(c.get("cielo_cart").map(String::as_str), Some("cart_01"));
        assert!(safe_cookie_value("cart_01"));
        assert!(!safe_cookie_value("a;b"));
        assert!(!safe_cookie_value(""));
    }

    #[test]
    fn csrf_comparison_needs_the_exact_token() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
