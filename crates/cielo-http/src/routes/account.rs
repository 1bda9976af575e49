//! Sign-up, sign-in, profile, password and address book.

use super::{json, ok};
use crate::extract::{path_id, CustomerAuth, Json};
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::{IntoResponse, Response};
use cielo_accounts::{Address, AddressInput, Customer, ProfilePatch, Registration};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me, update_me))
        .routes(routes!(change_password))
        .routes(routes!(list_addresses, add_address))
        .routes(routes!(get_address, replace_address, delete_address))
}

/// A signed-in session.
#[derive(Serialize, ToSchema)]
pub(crate) struct SessionResponse {
    /// The account.
    customer: Customer,
    /// Bearer token: send as `Authorization: Bearer <token>`.
    token: String,
}

/// Create a customer account (and sign in). Limited per client IP
/// (`limits.registrations_per_hour`). An email that already has an account
/// gets a 409: the shop tells a returning buyer to sign in instead, and the
/// per-IP limit keeps that from becoming a fast way to list accounts (see
/// docs/configuration.md, "Registration and account enumeration").
#[utoipa::path(post, path = "/api/store/auth/register", tag = "account", request_body = Registration,
    responses((status = 201, body = SessionResponse), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn register(
    State(s): State<AppState>,
    Json(input): Json<Registration>,
) -> Result<Response, ApiError> {
    let (customer, token) = s.accounts.register(input).await?;
    Ok(json(
        StatusCode::CREATED,
        &SessionResponse {
            customer,
            token: token.expose().to_string(),
        },
    ))
}

/// Credentials.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginInput {
    /// Email.
    email: String,
    /// Password.
    password: String,
}

fn client_ip(s: &AppState, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    let mut ext = http::Extensions::new();
    ext.insert(ConnectInfo(peer));
    crate::client_ip(&s.config, headers, &ext).unwrap_or(peer.ip())
}

/// Counts a password guess against the sign-in budgets of `ip` and `account`.
fn limit_guess(s: &AppState, ip: IpAddr, account: &str) -> Result<(), ApiError> {
    s.login_limiter
        .attempt(ip, account, std::time::Instant::now())
        .map_err(|wait| {
            tracing::warn!(%ip, "password guess rate limit reached");
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-login-attempts",
                "too many sign-in attempts; wait and try again",
            );
            e.retry_after = Some(wait.as_secs().max(1));
            e
        })
}

/// Sign in. Limited per client IP and per account.
#[utoipa::path(post, path = "/api/store/auth/login", tag = "account", request_body = LoginInput,
    responses((status = 200, body = SessionResponse), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn login(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(input): Json<LoginInput>,
) -> Result<Response, ApiError> {
    let ip = client_ip(&s, &headers, peer);
    limit_guess(&s, ip, &input.email)?;
    let (customer, token) = s.accounts.login(&input.email, &input.password).await?;
    s.login_limiter.succeeded(&input.email);
    Ok(ok(&SessionResponse {
        customer,
        token: token.expose().to_string(),
    }))
}

/// Sign out: ends this session.
#[utoipa::path(post, path = "/api/store/auth/logout", tag = "account",
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn logout(
    State(s): State<AppState>,
    CustomerAuth(p): CustomerAuth,
) -> Result<Response, ApiError> {
    s.accounts.logout(&p).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/store/me", tag = "account",
    responses((status = 200, body = Customer), (status = 401, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn me(
    State(s): State<AppState>,
    CustomerAuth(p): CustomerAuth,
) -> Result<Response, ApiError> {
    Ok(ok(&s.accounts.me(&p).await?))
}

/// Update the profile.
#[utoipa::path(patch, path = "/api/store/me", tag = "account", request_body = ProfilePatch,
    responses((status = 200, body = Customer), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn update_me(
    State(s): State<AppState>,
    CustomerAuth(p): CustomerAuth,
    Json(patch): Json<ProfilePatch>,
) -> Result<Response, ApiError> {
    Ok(ok(&s.accounts.update_profile(&p, patch).await?))
}

/// A password change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordChange {
    /// The current password.
    current_password: String,
    /// The new password.
    new_password: String,
}

/// Change the password; every other session ends. The current password is
/// a guess like a sign-in's, counted against the same budgets (a stolen
/// session cannot guess it without limit).
#[utoipa::path(post, path = "/api/store/me/password", tag = "account", request_body = PasswordChange,
    responses((status = 204), (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn change_password(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    CustomerAuth(p): CustomerAuth,
    Json(c): Json<PasswordChange>,
) -> Result<Response, ApiError> {
    let me = s.accounts.me(&p).await?;
    limit_guess(&s, client_ip(&s, &headers, peer), &me.email)?;
    s.accounts
        .change_password(&p, &c.current_password, &c.new_password)
        .await?;
    s.login_limiter.succeeded(&me.email);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// An address book.
#[derive(Serialize, ToSchema)]
pub(crate) struct AddressList {
    /// Addresses, oldest first.
    addresses: Vec<Address>,
}

/// The address book.
#[utoipa::path(get, path = "/api/store/me/addresses", tag = "account", responses((status = 200, body = AddressList)), security(("bearer" = [])))]
pub(crate) async fn list_addresses(
    State(s): State<AppState>,
    CustomerAuth(p): CustomerAuth,
) -> Result<Response, ApiError> {
    Ok(ok(&AddressList {
        addresses: s.accounts.addresses(&p).await?,
    }))
}

/// Add an address.
#[utoipa::path(post, path = "/api/store/me/addresses", tag = "account", request_body = AddressInput,
    responses((status = 201, body = Address), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn add_address(
    State(s): State<AppState>,
    CustomerAuth(p): CustomerAuth,
    Json(a): Json<AddressInput>,
) -> Result<Response, ApiError> {
    Ok(json(
        StatusCode::CREATED,
        &s.accounts.add_address(&p, a).await?,
    ))
}

/// One address.
#[utoipa::path(get, path = "/api/store/me/addresses/{id}", tag = "account", params(("id" = String, Path)),
    responses((status = 200, body = Address), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn get_address(
    State(s): State<AppState>,
    CustomerAuth(p): CustomerAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&s
        .accounts
        .address(&p, path_id(&id, "address-not-found")?)
        .await?))
}

/// Replace an address.
#[utoipa::path(put, path = "/api/store/me/addresses/{id}", tag = "account", params(("id" = String, Path)), request_body = AddressInput,
    responses((status = 200, body = Address), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn replace_address(
    State(s): State<AppState>,
    CustomerAuth(p): CustomerAuth,
    Path(id): Path<String>,
    Json(a): Json<AddressInput>,
) -> Result<Response, ApiError> {
    Ok(ok(&s
        .accounts
        .replace_address(&p, path_id(&id, "address-not-found")?, a)
        .await?))
}

/// Delete an address.
#[utoipa::path(delete, path = "/api/store/me/addresses/{id}", tag = "account", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn delete_address(
    State(s): State<AppState>,
    CustomerAuth(p): CustomerAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    s.accounts
        .delete_address(&p, path_id(&id, "address-not-found")?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
