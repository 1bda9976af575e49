//! Accounts: customers and admins, argon2id passwords, revocable session
//! tokens, and address books. A customer only ever reaches their own data:
//! every read and write here is keyed by the authenticated customer's id.
#![warn(missing_docs)]

pub mod limiter;
pub mod password;
mod store;

use cielo_core::{
    typed_id, ErrorKind, FieldError, HasErrorKind, PostalAddress, Timestamp, Validation,
};
use cielo_db::{Db, MigrationSet};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

typed_id!(CustomerId, "cus", "A customer or admin account.");
typed_id!(SessionId, "sess", "A login session.");
typed_id!(
    AddressId,
    "addr",
    "An address in a customer's address book."
);

/// The accounts migrations.
pub const MIGRATIONS: MigrationSet = MigrationSet {
    domain: "accounts",
    migrations: &[
        cielo_db::migration!(20261121000200, "accounts"),
        cielo_db::migration!(20261129120000, "customer_phone"),
    ],
};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A shopper.
    Customer,
    /// A shop operator: may use `/api/admin`.
    Admin,
}

impl Role {
    fn as_str(&self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Admin => "admin",
        }
    }
    fn parse(s: &str) -> Self {
        if s == "admin" {
            Role::Admin
        } else {
            Role::Customer
        }
    }
}

/// An account as the API shows it (never the hash).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Customer {
    /// Id.
    pub id: CustomerId,
    /// Email, lower-cased.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Mobile number in E.164 (`+34600123456`), if given.
    pub phone: Option<String>,
    /// Role.
    pub role: Role,
    /// Registration time.
    pub created_at: Timestamp,
}

/// A bearer token for a session. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    fn generate() -> Self {
        use base64::Engine as _;
        let bytes: [u8; 32] = rand::random();
        Self(format!(
            "cst_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        ))
    }
    /// Wraps a token received from a client.
    pub fn from_client(s: &str) -> Self {
        Self(s.to_string())
    }
    /// The token, to hand to the client once.
    pub fn expose(&self) -> &str {
        &self.0
    }
    fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(***)")
    }
}

/// Who is calling: the result of authenticating a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// The account.
    pub customer_id: CustomerId,
    /// Its role.
    pub role: Role,
    /// The session the token belongs to.
    pub session_id: SessionId,
}

/// A registration.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// Email address.
    pub email: String,
    /// Password: at least 10 characters, not easy to guess.
    pub password: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
}

/// Changes to a profile.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// New display name.
    pub name: Option<String>,
    /// New mobile number, in international form (`+34 600 123 456` is stored
    /// as `+34600123456`); `null` or `""` removes it. Anything but an E.164
    /// number is refused with a 422 naming `phone`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
}

/// Tells a field set to `null` (`Some(None)`) from one left out (`None`).
fn double_option<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// An entry in an address book.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Address {
    /// Id.
    pub id: AddressId,
    /// The address.
    #[serde(flatten)]
    pub address: PostalAddress,
    /// Whether it is the default shipping address.
    pub is_default: bool,
    /// When it was added.
    pub created_at: Timestamp,
}

/// An address to add or replace.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AddressInput {
    /// The address.
    #[serde(flatten)]
    pub address: PostalAddress,
    /// Make it the default.
    #[serde(default)]
    pub is_default: bool,
}

/// Account errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input broke a rule.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// The email is registered already.
    #[error("an account with this email exists")]
    EmailTaken,
    /// Wrong email or password (never says which).
    #[error("wrong email or password")]
    BadCredentials,
    /// Missing, expired or revoked token.
    #[error("not signed in, or the session has ended")]
    Unauthenticated,
    /// No such address in this customer's book.
    #[error("address not found")]
    AddressNotFound,
    /// No such account.
    #[error("account not found")]
    CustomerNotFound,
    /// Unexpected failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<cielo_db::sqlx::Error> for Error {
    fn from(e: cielo_db::sqlx::Error) -> Self {
        Error::Internal(anyhow::Error::new(e).context("accounts query"))
    }
}
impl From<cielo_db::Error> for Error {
    fn from(e: cielo_db::Error) -> Self {
        Error::Internal(anyhow::Error::new(e).context("accounts database"))
    }
}

impl HasErrorKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(_) => ErrorKind::Invalid,
            Error::EmailTaken => ErrorKind::Conflict,
            Error::BadCredentials | Error::Unauthenticated => ErrorKind::Unauthorized,
            Error::AddressNotFound | Error::CustomerNotFound => ErrorKind::NotFound,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "validation-failed",
            Error::EmailTaken => "email-taken",
            Error::BadCredentials => "bad-credentials",
            Error::Unauthenticated => "unauthenticated",
            Error::AddressNotFound => "address-not-found",
            Error::CustomerNotFound => "customer-not-found",
            Error::Internal(_) => "internal",
        }
    }
    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            Error::Invalid(e) => e.clone(),
            Error::EmailTaken => vec![FieldError::new(
                "email",
                "an account with this email exists",
            )],
            _ => Vec::new(),
        }
    }
}

/// Result of account operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Parses and normalises an email address (lower case, trimmed).
pub fn parse_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    let Some((local, domain)) = email.split_once('@') else {
        return Err("is not an email address".into());
    };
    let ok = !local.is_empty()
        && local.len() <= 64
        && email.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    if ok {
        Ok(email)
    } else {
        Err("is not an email address".into())
    }
}

/// The accounts service.
#[derive(Clone)]
pub struct Accounts {
    db: Db,
    session_ttl_secs: i64,
    /// The countries the shop ships to; saved addresses elsewhere are refused.
    /// `None`: any country.
    ships_to: Option<std::sync::Arc<Vec<String>>>,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(|e| Error::Internal(e.into()))
}

impl Accounts {
    /// Accounts over `db`; sessions last `session_ttl_secs`.
    pub fn new(db: Db, session_ttl_secs: i64) -> Self {
        Self {
            db,
            session_ttl_secs,
            ships_to: None,
        }
    }

    /// Refuses saved addresses outside `countries` (ISO 3166-1 alpha-2 codes,
    /// the shop's `shipping.countries`): an address the shop cannot ship to
    /// is no use at checkout.
    pub fn with_ships_to(mut self, countries: Vec<String>) -> Self {
        self.ships_to = Some(std::sync::Arc::new(countries));
        self
    }

    fn check_ships_to(&self, v: &mut Validation, country: &str) {
        if let Some(list) = &self.ships_to {
            cielo_core::address::check_ships_to(v, "country", country, list);
        }
    }

    /// Registers a customer and signs them in.
    #[tracing::instrument(skip_all)]
    pub async fn register(&self, input: Registration) -> Result<(Customer, SessionToken)> {
        let mut v = Validation::new();
        let email = v.check("email", parse_email(&input.email));
        if let Some(e) = &email {
            v.check("password", password::check_strength(&input.password, e));
        }
        v.text("name", &input.name, 0, 200);
        v.finish().map_err(Error::Invalid)?;
        let email = email.expect("validated");
        let pw = input.password.clone();
        let hash = blocking(move || password::hash(&pw)).await??;
        let customer = self
            .insert_account(&email, input.name.trim(), &hash, Role::Customer)
            .await?;
        let token = self.start_session(customer.id).await?;
        Ok((customer, token))
    }

    /// Creates an admin account (from the CLI), or promotes and re-keys an
    /// existing account with that email.
    pub async fn create_admin(&self, email: &str, password: &str) -> Result<Customer> {
        let mut v = Validation::new();
        let email = v.check("email", parse_email(email));
        if let Some(e) = &email {
            v.check("password", password::check_strength(password, e));
        }
        v.finish().map_err(Error::Invalid)?;
        let email = email.expect("validated");
        let pw = password.to_string();
        let hash = blocking(move || password::hash(&pw)).await??;
        match self.insert_account(&email, "", &hash, Role::Admin).await {
            Err(Error::EmailTaken) => {
                let mut tx = self.db.begin_write().await?;
                store::promote_admin(&mut tx, &email, &hash, Timestamp::now()).await?;
                tx.commit().await?;
                store::customer_by_email(self.db.pool(), &email)
                    .await?
                    .map(|(c, _)| c)
                    .ok_or(Error::CustomerNotFound)
            }
            other => other,
        }
    }

    async fn insert_account(
        &self,
        email: &str,
        name: &str,
        hash: &str,
        role: Role,
    ) -> Result<Customer> {
        let customer = Customer {
            id: CustomerId::new(),
            email: email.to_string(),
            name: name.to_string(),
            phone: None,
            role,
            created_at: Timestamp::now(),
        };
        let mut tx = self.db.begin_write().await?;
        store::insert_customer(&mut tx, &customer, hash).await?;
        tx.commit().await?;
        Ok(customer)
    }

    /// Checks email and password and starts a session. The caller applies
    /// rate limits first (see [`limiter`]).
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, email: &str, password: &str) -> Result<(Customer, SessionToken)> {
        let email = parse_email(email).map_err(|_| Error::BadCredentials)?;
        let found = store::customer_by_email(self.db.pool(), &email).await?;
        let hash = found
            .as_ref()
            .map(|(_, h)| h.clone())
            .unwrap_or_else(|| password::decoy_hash().to_string());
        let pw = password.to_string();
        let ok = blocking(move || password::verify(&pw, &hash)).await?;
        match found {
            Some((customer, _)) if ok => {
                let token = self.start_session(customer.id).await?;
                Ok((customer, token))
            }
            _ => Err(Error::BadCredentials),
        }
    }

    async fn start_session(&self, customer: CustomerId) -> Result<SessionToken> {
        let token = SessionToken::generate();
        let now = Timestamp::now();
        let mut tx = self.db.begin_write().await?;
        store::insert_session(
            &mut tx,
            SessionId::new(),
            customer,
            &token.digest(),
            now,
            now.plus_seconds(self.session_ttl_secs),
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// Resolves a bearer token to its account, if the session is live.
    pub async fn authenticate(&self, token: &SessionToken) -> Result<Principal> {
        store::session_principal(self.db.pool(), &token.digest(), Timestamp::now())
            .await?
            .ok_or(Error::Unauthenticated)
    }

    /// Ends the session the token belongs to.
    pub async fn logout(&self, principal: &Principal) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        store::delete_session(&mut tx, principal.session_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The caller's own account.
    pub async fn me(&self, principal: &Principal) -> Result<Customer> {
        store::customer_by_id(self.db.pool(), principal.customer_id)
            .await?
            .ok_or(Error::CustomerNotFound)
    }

    /// Updates the caller's profile.
    pub async fn update_profile(
        &self,
        principal: &Principal,
        patch: ProfilePatch,
    ) -> Result<Customer> {
        let mut v = Validation::new();
        if let Some(name) = &patch.name {
            v.text("name", name, 0, 200);
        }
        // Checked like the phone given at checkout.
        let phone = match &patch.phone {
            None => None,
            Some(p) => match p.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
                None => Some(None),
                Some(p) => match cielo_core::phone::normalise(p) {
                    Some(n) => Some(Some(n)),
                    None => {
                        v.add(
                            "phone",
                            "must be a mobile number in international form, e.g. +34600123456",
                        );
                        None
                    }
                },
            },
        };
        v.finish().map_err(Error::Invalid)?;
        if patch.name.is_some() || phone.is_some() {
            let now = Timestamp::now();
            let mut tx = self.db.begin_write().await?;
            if let Some(name) = &patch.name {
                store::set_name(&mut tx, principal.customer_id, name.trim(), now).await?;
            }
            if let Some(phone) = &phone {
                store::set_phone(&mut tx, principal.customer_id, phone.as_deref(), now).await?;
            }
            tx.commit().await?;
        }
        self.me(principal).await
    }

    /// Changes the caller's password and ends every other session.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
    ) -> Result<()> {
        let me = self.me(principal).await?;
        let (_, hash) = store::customer_by_email(self.db.pool(), &me.email)
            .await?
            .ok_or(Error::CustomerNotFound)?;
        let cur = current.to_string();
        if !blocking(move || password::verify(&cur, &hash)).await? {
            return Err(Error::Invalid(vec![FieldError::new(
                "current_password",
                "is not your current password",
            )]));
        }
        password::check_strength(new, &me.email)
            .map_err(|e| Error::Invalid(vec![FieldError::new("new_password", e)]))?;
        let pw = new.to_string();
        let new_hash = blocking(move || password::hash(&pw)).await??;
        let mut tx = self.db.begin_write().await?;
        store::set_password(&mut tx, principal.customer_id, &new_hash, Timestamp::now()).await?;
        store::delete_other_sessions(&mut tx, principal.customer_id, principal.session_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The caller's addresses.
    pub async fn addresses(&self, principal: &Principal) -> Result<Vec<Address>> {
        store::addresses(self.db.pool(), principal.customer_id).await
    }

    /// One of the caller's addresses.
    pub async fn address(&self, principal: &Principal, id: AddressId) -> Result<Address> {
        store::address(self.db.pool(), principal.customer_id, id)
            .await?
            .ok_or(Error::AddressNotFound)
    }

    /// Adds an address to the caller's book.
    pub async fn add_address(
        &self,
        principal: &Principal,
        mut input: AddressInput,
    ) -> Result<Address> {
        let mut v = Validation::new();
        input.address.validate(&mut v, "");
        self.check_ships_to(&mut v, &input.address.country);
        v.finish().map_err(Error::Invalid)?;
        let id = AddressId::new();
        let mut tx = self.db.begin_write().await?;
        if store::addresses(&mut **tx, principal.customer_id)
            .await?
            .len()
            >= 50
        {
            return Err(Error::Invalid(vec![FieldError::new(
                "",
                "an address book holds at most 50 addresses",
            )]));
        }
        store::upsert_address(
            &mut tx,
            principal.customer_id,
            id,
            &input,
            Timestamp::now(),
            true,
        )
        .await?;
        tx.commit().await?;
        self.address(principal, id).await
    }

    /// Replaces one of the caller's addresses.
    pub async fn replace_address(
        &self,
        principal: &Principal,
        id: AddressId,
        mut input: AddressInput,
    ) -> Result<Address> {
        let mut v = Validation::new();
        input.address.validate(&mut v, "");
        self.check_ships_to(&mut v, &input.address.country);
        v.finish().map_err(Error::Invalid)?;
        let mut tx = self.db.begin_write().await?;
        if !store::upsert_address(
            &mut tx,
            principal.customer_id,
            id,
            &input,
            Timestamp::now(),
            false,
        )
        .await?
        {
            return Err(Error::AddressNotFound);
        }
        tx.commit().await?;
        self.address(principal, id).await
    }

    /// Removes one of the caller's addresses.
    pub async fn delete_address(&self, principal: &Principal, id: AddressId) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        if !store::delete_address(&mut tx, principal.customer_id, id).await? {
            return Err(Error::AddressNotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// An account by id (admin use).
    pub async fn customer(&self, id: CustomerId) -> Result<Customer> {
        store::customer_by_id(self.db.pool(), id)
            .await?
            .ok_or(Error::CustomerNotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            parse_email("  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@exa..mple.com",
            "a@b@c.com",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn session_tokens_never_show_in_debug_output() {
        let t = SessionToken::generate();
        assert!(!format!("{t:?}").contains(t.expose()));
        assert!(t.expose().starts_with("cst_"));
    }

    #[test]
    fn both_engines_list_the_same_migrations() {
        cielo_db::check_set(&MIGRATIONS).unwrap();
    }
}
