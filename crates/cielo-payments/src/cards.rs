//! Saved payment methods: a provider customer per shop account, and the
//! cards the buyer chose to save at checkout.
//!
//! The provider keeps the cards (Stripe, or the test provider's own tables);
//! this domain keeps only which customer belongs to which account, keyed by
//! the account id the caller gives (it never reads the accounts tables).
//! The customer is created lazily, at the first checkout of a signed-in
//! account, once per (account, provider) even when two checkouts race: the
//! row's primary key decides which id is kept, and the provider call carries
//! an idempotency key derived from the account, so both racers get the same
//! customer.
//!
//! [`SavedCards`] is also the provider checkout talks to: it wraps the
//! configured one and fills in [`CheckoutRequest::customer`] for signed-in
//! buyers, so the orders domain only says who is buying.

use crate::{
    CheckoutRequest, NewCustomer, PaymentError, PaymentProvider, PaymentSession, Refund,
    RefundRequest, SavedCard, SharedProvider,
};
use cielo_core::{Currency, Money, Timestamp};
use cielo_db::sqlx::{self, Row};
use cielo_db::Db;
use serde_json::Value;

/// The saved cards of shop accounts, over the configured provider.
#[derive(Clone)]
pub struct SavedCards {
    db: Db,
    provider: SharedProvider,
}

fn db_error(e: impl std::fmt::Display) -> PaymentError {
    PaymentError::Retryable(format!("database: {e}"))
}

/// Whether `id` can be a provider's payment method id (letters, digits and
/// `_`): anything else is no card of anyone's, and never reaches a URL.
fn plausible_card_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl SavedCards {
    /// Saved cards over `provider`, with the account → customer map in `db`.
    pub fn new(db: Db, provider: SharedProvider) -> Self {
        Self { db, provider }
    }

    /// The provider underneath.
    pub fn inner(&self) -> &SharedProvider {
        &self.provider
    }

    /// The provider's customer of an account, if one was created.
    pub async fn customer_of(&self, account_id: &str) -> Result<Option<String>, PaymentError> {
        let row = sqlx::query(
            "select customer_id from payments_customer where account_id = $1 and provider = $2",
        )
        .bind(account_id)
        .bind(self.provider.name())
        .fetch_optional(self.db.pool())
        .await
        .map_err(db_error)?;
        row.map(|r| r.try_get::<String, _>("customer_id"))
            .transpose()
            .map_err(db_error)
    }

    /// The provider's customer of an account, created at the provider on the
    /// first call (with `email`). Concurrent first calls return the same id.
    pub async fn customer_for(
        &self,
        account_id: &str,
        email: &str,
    ) -> Result<String, PaymentError> {
        if let Some(id) = self.customer_of(account_id).await? {
            return Ok(id);
        }
        let created = self
            .provider
            .create_customer(&NewCustomer {
                account_id: account_id.to_string(),
                email: email.to_string(),
                idempotency_key: format!("cielo-customer-{account_id}"),
            })
            .await;
        let created = match created {
            Ok(id) => id,
            // A racing first checkout may have stored one meanwhile (the
            // provider refuses a reused idempotency key with other parameters).
            Err(e) => return self.customer_of(account_id).await?.ok_or(e),
        };
        let mut tx = self.db.begin_write().await.map_err(db_error)?;
        sqlx::query(
            "insert into payments_customer (account_id, provider, customer_id, created_at) \
             values ($1, $2, $3, $4) on conflict (account_id, provider) do nothing",
        )
        .bind(account_id)
        .bind(self.provider.name())
        .bind(&created)
        .bind(Timestamp::now().as_unix_seconds())
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        // The stored id wins, whoever stored it.
        let stored = self
            .customer_of(account_id)
            .await?
            .ok_or_else(|| db_error("the customer row vanished"))?;
        if stored != created {
            tracing::warn!(
                account_id,
                kept = %stored,
                unused = %created,
                "two customers were created for one account; the first stored is kept"
            );
        }
        Ok(stored)
    }

    /// The cards an account saved, oldest first (none before its first
    /// checkout).
    pub async fn list(&self, account_id: &str) -> Result<Vec<SavedCard>, PaymentError> {
        match self.customer_of(account_id).await? {
            Some(customer) => self.provider.list_cards(&customer).await,
            None => Ok(Vec::new()),
        }
    }

    /// Removes one of an account's cards: `Ok(false)` when the account has
    /// no such card (an unknown id, or another account's card: that one is
    /// left alone).
    pub async fn remove(&self, account_id: &str, card_id: &str) -> Result<bool, PaymentError> {
        if !plausible_card_id(card_id) {
            return Ok(false);
        }
        match self.customer_of(account_id).await? {
            Some(customer) => self.provider.detach_card(&customer, card_id).await,
            None => Ok(false),
        }
    }
}

#[async_trait::async_trait]
impl PaymentProvider for SavedCards {
    fn name(&self) -> &'static str {
        self.provider.name()
    }

    fn provider_amount(&self, money: Money) -> Result<i64, PaymentError> {
        self.provider.provider_amount(money)
    }

    fn amount_from_provider(&self, amount: i64, currency: Currency) -> Option<i64> {
        self.provider.amount_from_provider(amount, currency)
    }

    /// Opens the payment; for a signed-in buyer, with the account's customer
    /// (created now on the first checkout), so the page can save the card.
    /// When the customer cannot be had, the buyer still pays, as a guest.
    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<PaymentSession, PaymentError> {
        let Some(account) = request
            .account_id
            .as_deref()
            .filter(|_| request.customer.is_none())
        else {
            return self.provider.create_checkout(request).await;
        };
        let mut request = request.clone();
        match self.customer_for(account, &request.email).await {
            Ok(customer) => request.customer = Some(customer),
            Err(e) => tracing::warn!(
                order_id = %request.order_id,
                error = %e,
                "no payment customer for the account: checkout without saving cards"
            ),
        }
        self.provider.create_checkout(&request).await
    }

    async fn list_events(&self, since: i64) -> Result<Vec<Value>, PaymentError> {
        self.provider.list_events(since).await
    }

    async fn poll_session(&self, session_id: &str) -> Result<Option<Value>, PaymentError> {
        self.provider.poll_session(session_id).await
    }

    async fn refund(&self, request: &RefundRequest) -> Result<Refund, PaymentError> {
        self.provider.refund(request).await
    }

    async fn create_customer(&self, customer: &NewCustomer) -> Result<String, PaymentError> {
        self.provider.create_customer(customer).await
    }

    async fn list_cards(&self, customer: &str) -> Result<Vec<SavedCard>, PaymentError> {
        self.provider.list_cards(customer).await
    }

    async fn detach_card(&self, customer: &str, card_id: &str) -> Result<bool, PaymentError> {
        self.provider.detach_card(customer, card_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::plausible_card_id;

    #[test]
    fn only_plain_ids_reach_the_provider() {
        assert!(plausible_card_id("pm_1PqR2sT3uV4wX5yZ"));
        for bad in [
            "",
            "pm_1/../../customers",
            "pm 1",
            "pm_1?x=1",
            &"a".repeat(256),
        ] {
            assert!(!plausible_card_id(bad), "{bad}");
        }
    }
}
