//! All accounts SQL.

use crate::*;
use cielo_db::sqlx::{self, any::AnyRow, Any, AnyConnection, AnyPool, Row};

fn customer_row(r: &AnyRow) -> Result<Customer> {
    let id: String = r.try_get("id")?;
    Ok(Customer {
        id: CustomerId::parse(&id).map_err(|e| anyhow::anyhow!("bad customer id: {e}"))?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        phone: r.try_get("phone")?,
        role: Role::parse(&r.try_get::<String, _>("role")?),
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
    })
}

pub(crate) async fn insert_customer(
    c: &mut AnyConnection,
    cu: &Customer,
    hash: &str,
) -> Result<()> {
    sqlx::query("insert into accounts_customer (id, email, name, password_hash, role, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $6)")
        .bind(cu.id.to_string())
        .bind(&cu.email)
        .bind(&cu.name)
        .bind(hash)
        .bind(cu.role.as_str())
        .bind(cu.created_at.as_micros())
        .execute(c)
        .await
        .map_err(|e| if cielo_db::is_unique_violation(&e) { Error::EmailTaken } else { e.into() })?;
    Ok(())
}

pub(crate) async fn promote_admin(
    c: &mut AnyConnection,
    email: &str,
    hash: &str,
    now: Timestamp,
) -> Result<()> {
    sqlx::query("update accounts_customer set role = 'admin', password_hash = $2, updated_at = $3 where email = $1")
        .bind(email)
        .bind(hash)
        .bind(now.as_micros())
        .execute(c)
        .await?;
    Ok(())
}

pub(crate) async fn customer_by_email(
    pool: &AnyPool,
    email: &str,
) -> Result<Option<(Customer, String)>> {
    let row = sqlx::query("select * from accounts_customer where email = $1")
        .bind(email)
        .fetch_optional(pool)
        .await?;
    row.map(|r| Ok((customer_row(&r)?, r.try_get("password_hash")?)))
        .transpose()
}

pub(crate) async fn customer_by_id(pool: &AnyPool, id: CustomerId) -> Result<Option<Customer>> {
    let row = sqlx::query("select * from accounts_customer where id = $1")
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(customer_row).transpose()
}

pub(crate) async fn set_name(
    c: &mut AnyConnection,
    id: CustomerId,
    name: &str,
    now: Timestamp,
) -> Result<()> {
    sqlx::query("update accounts_customer set name = $2, updated_at = $3 where id = $1")
        .bind(id.to_string())
        .bind(name)
        .bind(now.as_micros())
        .execute(c)
        .await?;
    Ok(())
}

pub(crate) async fn set_phone(
    c: &mut AnyConnection,
    id: CustomerId,
    phone: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    sqlx::query("update accounts_customer set phone = $2, updated_at = $3 where id = $1")
        .bind(id.to_string())
        .bind(phone)
        .bind(now.as_micros())
        .execute(c)
        .await?;
    Ok(())
}

pub(crate) async fn set_password(
    c: &mut AnyConnection,
    id: CustomerId,
    hash: &str,
    now: Timestamp,
) -> Result<()> {
    sqlx::query("update accounts_customer set password_hash = $2, updated_at = $3 where id = $1")
        .bind(id.to_string())
        .bind(hash)
        .bind(now.as_micros())
        .execute(c)
        .await?;
    Ok(())
}

pub(crate) async fn insert_session(
    c: &mut AnyConnection,
    id: SessionId,
    customer: CustomerId,
    digest: &str,
    now: Timestamp,
    expires: Timestamp,
) -> Result<()> {
    sqlx::query("insert into accounts_session (id, customer_id, token_hash, created_at, expires_at, updated_at) values ($1, $2, $3, $4, $5, $4)")
        .bind(id.to_string())
        .bind(customer.to_string())
        .bind(digest)
        .bind(now.as_micros())
        .bind(expires.as_micros())
        .execute(c)
        .await?;
    Ok(())
}

pub(crate) async fn session_principal(
    pool: &AnyPool,
    digest: &str,
    now: Timestamp,
) -> Result<Option<Principal>> {
    let row = sqlx::query(
        "select s.id as session_id, c.id as customer_id, c.role from accounts_session s
         join accounts_customer c on c.id = s.customer_id where s.token_hash = $1 and s.expires_at > $2",
    )
    .bind(digest)
    .bind(now.as_micros())
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(Principal {
            customer_id: CustomerId::parse(&r.try_get::<String, _>("customer_id")?)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            role: Role::parse(&r.try_get::<String, _>("role")?),
            session_id: SessionId::parse(&r.try_get::<String, _>("session_id")?)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        })
    })
    .transpose()
}

pub(crate) async fn delete_session(c: &mut AnyConnection, id: SessionId) -> Result<()> {
    sqlx::query("delete from accounts_session where id = $1")
        .bind(id.to_string())
        .execute(c)
        .await?;
    Ok(())
}

pub(crate) async fn delete_other_sessions(
    c: &mut AnyConnection,
    customer: CustomerId,
    keep: SessionId,
) -> Result<()> {
    sqlx::query("delete from accounts_session where customer_id = $1 and id <> $2")
        .bind(customer.to_string())
        .bind(keep.to_string())
        .execute(c)
        .await?;
    Ok(())
}

fn address_row(r: &AnyRow) -> Result<Address> {
    let id: String = r.try_get("id")?;
    let json: String = r.try_get("address")?;
    Ok(Address {
        id: AddressId::parse(&id).map_err(|e| anyhow::anyhow!("bad address id: {e}"))?,
        address: serde_json::from_str(&json)
            .map_err(|e| anyhow::anyhow!("bad address json: {e}"))?,
        is_default: r.try_get::<i64, _>("is_default")? != 0,
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
    })
}

pub(crate) async fn addresses<'e, E: sqlx::Executor<'e, Database = Any>>(
    ex: E,
    customer: CustomerId,
) -> Result<Vec<Address>> {
    let rows = sqlx::query(
        "select * from accounts_address where customer_id = $1 order by created_at, id",
    )
    .bind(customer.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter().map(address_row).collect()
}

pub(crate) async fn address(
    pool: &AnyPool,
    customer: CustomerId,
    id: AddressId,
) -> Result<Option<Address>> {
    let row = sqlx::query("select * from accounts_address where customer_id = $1 and id = $2")
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(address_row).transpose()
}

/// Inserts (`insert` true) or replaces an address owned by `customer`.
/// Returns false when replacing an address the customer does not own.
pub(crate) async fn upsert_address(
    c: &mut AnyConnection,
    customer: CustomerId,
    id: AddressId,
    input: &AddressInput,
    now: Timestamp,
    insert: bool,
) -> Result<bool> {
    if input.is_default {
        sqlx::query("update accounts_address set is_default = 0 where customer_id = $1")
            .bind(customer.to_string())
            .execute(&mut *c)
            .await?;
    }
    let json = serde_json::to_string(&input.address).map_err(anyhow::Error::from)?;
    let done = if insert {
        sqlx::query("insert into accounts_address (id, customer_id, address, is_default, created_at, updated_at) values ($1, $2, $3, $4, $5, $5)")
            .bind(id.to_string())
            .bind(customer.to_string())
            .bind(json)
            .bind(input.is_default as i64)
            .bind(now.as_micros())
            .execute(c)
            .await?
    } else {
        sqlx::query("update accounts_address set address = $3, is_default = $4, updated_at = $5 where id = $1 and customer_id = $2")
            .bind(id.to_string())
            .bind(customer.to_string())
            .bind(json)
            .bind(input.is_default as i64)
            .bind(now.as_micros())
            .execute(c)
            .await?
    };
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn delete_address(
    c: &mut AnyConnection,
    customer: CustomerId,
    id: AddressId,
) -> Result<bool> {
    let done = sqlx::query("delete from accounts_address where id = $1 and customer_id = $2")
        .bind(id.to_string())
        .bind(customer.to_string())
        .execute(c)
        .await?;
    Ok(done.rows_affected() > 0)
}
