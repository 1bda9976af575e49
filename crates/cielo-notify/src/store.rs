//! SQL of the notifications domain (tables `notify_*`), portable to both engines.

use crate::model::{
    Channel, Delivery, DeliveryId, DeliveryStatus, Kind, Message, MessageId, MessageStatus,
};
use cielo_core::Timestamp;
use cielo_db::col;
use cielo_db::sqlx::any::AnyRow;
use cielo_db::sqlx::{self, AnyConnection, AnyPool};

const MESSAGE_COLUMNS: &str = "id, dedupe_key, order_id, kind, channel, recipient, language, data, status, send_key, resends, provider_message_id, last_error, created_at, updated_at";
const DELIVERY_COLUMNS: &str = "id, message_id, cause, provider, idempotency_key, status, provider_message_id, error, started_at, finished_at";

fn corrupt(what: &str, v: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unknown {what} {v:?} in notify tables").into())
}

fn message_row(r: &AnyRow) -> Result<Message, sqlx::Error> {
    let id: String = col(r, "id")?;
    let kind: String = col(r, "kind")?;
    let channel: String = col(r, "channel")?;
    let status: String = col(r, "status")?;
    let data: String = col(r, "data")?;
    Ok(Message {
        id: MessageId::parse(&id).map_err(|_| corrupt("message id", &id))?,
        dedupe_key: col(r, "dedupe_key")?,
        order_id: col(r, "order_id")?,
        kind: Kind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        channel: Channel::parse(&channel).ok_or_else(|| corrupt("channel", &channel))?,
        recipient: col(r, "recipient")?,
        language: col(r, "language")?,
        data: serde_json::from_str(&data).map_err(|e| sqlx::Error::Decode(e.into()))?,
        status: MessageStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        send_key: col(r, "send_key")?,
        resends: col(r, "resends")?,
        provider_message_id: col(r, "provider_message_id")?,
        last_error: col(r, "last_error")?,
        created_at: Timestamp::from_micros(col(r, "created_at")?),
        updated_at: Timestamp::from_micros(col(r, "updated_at")?),
    })
}

fn delivery_row(r: &AnyRow) -> Result<Delivery, sqlx::Error> {
    let id: String = col(r, "id")?;
    let message_id: String = col(r, "message_id")?;
    let status: String = col(r, "status")?;
    Ok(Delivery {
        id: DeliveryId::parse(&id).map_err(|_| corrupt("delivery id", &id))?,
        message_id: MessageId::parse(&message_id).map_err(|_| corrupt("message id", &id))?,
        cause: col(r, "cause")?,
        provider: col(r, "provider")?,
        idempotency_key: col(r, "idempotency_key")?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        provider_message_id: col(r, "provider_message_id")?,
        error: col(r, "error")?,
        started_at: Timestamp::from_micros(col(r, "started_at")?),
        finished_at: col::<Option<i64>>(r, "finished_at")?.map(Timestamp::from_micros),
    })
}

/// A message to insert.
pub(crate) struct NewMessage<'a> {
    pub id: MessageId,
    pub dedupe_key: &'a str,
    pub order_id: Option<&'a str>,
    pub kind: Kind,
    pub channel: Channel,
    pub recipient: &'a str,
    pub language: &'a str,
    pub data: &'a serde_json::Value,
    pub now: Timestamp,
}

/// Inserts a message unless one with its dedupe key exists. True when inserted.
pub(crate) async fn insert_message(
    conn: &mut AnyConnection,
    m: &NewMessage<'_>,
) -> Result<bool, sqlx::Error> {
    let id = m.id.to_string();
    let r = sqlx::query(
        "insert into notify_message (id, dedupe_key, order_id, kind, channel, recipient, language, data, status, send_key, resends, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, 0, $10, $10)
         on conflict (dedupe_key) do nothing",
    )
    .bind(&id)
    .bind(m.dedupe_key)
    .bind(m.order_id)
    .bind(m.kind.as_str())
    .bind(m.channel.as_str())
    .bind(m.recipient)
    .bind(m.language)
    .bind(m.data.to_string())
    .bind(&id)
    .bind(m.now.as_micros())
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A message by id.
pub(crate) async fn message<'e, E>(ex: E, id: MessageId) -> Result<Option<Message>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(&format!(
        "select {MESSAGE_COLUMNS} from notify_message where id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(ex)
    .await?
    .map(|r| message_row(&r))
    .transpose()
}

/// Moves a message from one of `from` to `to`; false when it was in none of them.
pub(crate) async fn set_status(
    conn: &mut AnyConnection,
    id: MessageId,
    from: &[MessageStatus],
    to: MessageStatus,
    provider_message_id: Option<&str>,
    error: Option<&str>,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let list = cielo_db::placeholders(6, from.len());
    let sql = format!(
        "update notify_message set status = $1, provider_message_id = coalesce($2, provider_message_id),
         last_error = coalesce($3, last_error), updated_at = $4
         where id = $5 and status in ({list}) returning id"
    );
    let mut q = sqlx::query_scalar::<_, String>(&sql)
        .bind(to.as_str())
        .bind(provider_message_id)
        .bind(error)
        .bind(now.as_micros())
        .bind(id.to_string());
    for f in from {
        q = q.bind(f.as_str());
    }
    Ok(q.fetch_optional(&mut *conn).await?.is_some())
}

/// Starts a new send intent (an admin resend): a new key, queued again.
/// False when the message is being sent right now.
pub(crate) async fn restart(
    conn: &mut AnyConnection,
    id: MessageId,
    send_key: &str,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "update notify_message set status = 'queued', send_key = $1, resends = resends + 1, updated_at = $2
         where id = $3 and status <> 'sending'",
    )
    .bind(send_key)
    .bind(now.as_micros())
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Records the start of a delivery attempt.
pub(crate) async fn insert_delivery(
    conn: &mut AnyConnection,
    d: &Delivery,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into notify_delivery (id, message_id, cause, provider, idempotency_key, status, started_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(d.id.to_string())
    .bind(d.message_id.to_string())
    .bind(&d.cause)
    .bind(&d.provider)
    .bind(d.idempotency_key.as_deref())
    .bind(d.status.as_str())
    .bind(d.started_at.as_micros())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records how a delivery attempt ended.
pub(crate) async fn finish_delivery(
    conn: &mut AnyConnection,
    id: DeliveryId,
    status: DeliveryStatus,
    provider_message_id: Option<&str>,
    error: Option<&str>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update notify_delivery set status = $1, provider_message_id = $2, error = $3, finished_at = $4 where id = $5",
    )
    .bind(status.as_str())
    .bind(provider_message_id)
    .bind(error)
    .bind(now.as_micros())
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every delivery of a message, oldest first.
pub(crate) async fn deliveries(
    pool: &AnyPool,
    message: MessageId,
) -> Result<Vec<Delivery>, sqlx::Error> {
    sqlx::query(&format!(
        "select {DELIVERY_COLUMNS} from notify_delivery where message_id = $1 order by started_at, id"
    ))
    .bind(message.to_string())
    .fetch_all(pool)
    .await?
    .iter()
    .map(delivery_row)
    .collect()
}

/// The attempt left `sending` by a process that stopped before recording its answer.
pub(crate) async fn open_delivery(
    pool: &AnyPool,
    message: MessageId,
) -> Result<Option<Delivery>, sqlx::Error> {
    sqlx::query(&format!(
        "select {DELIVERY_COLUMNS} from notify_delivery where message_id = $1 and status = 'sending' order by started_at desc, id desc limit 1"
    ))
    .bind(message.to_string())
    .fetch_optional(pool)
    .await?
    .map(|r| delivery_row(&r))
    .transpose()
}

/// A page of messages, newest first. `cursor` is `(created_at, id)` of the
/// last message of the previous page.
pub(crate) async fn list_messages(
    pool: &AnyPool,
    order_id: Option<&str>,
    status: Option<&str>,
    kind: Option<&str>,
    cursor: Option<(i64, String)>,
    limit: i64,
) -> Result<Vec<Message>, sqlx::Error> {
    let (c_at, c_id) = cursor.unwrap_or((i64::MAX, String::new()));
    let has_cursor = !c_id.is_empty();
    sqlx::query(&format!(
        "select {MESSAGE_COLUMNS} from notify_message
         where ($1 is null or order_id = $1) and ($2 is null or status = $2) and ($3 is null or kind = $3)
           and ($4 = 0 or created_at < $5 or (created_at = $5 and id < $6))
         order by created_at desc, id desc limit $7"
    ))
    .bind(order_id)
    .bind(status)
    .bind(kind)
    .bind(has_cursor as i64)
    .bind(c_at)
    .bind(c_id)
    .bind(limit)
    .fetch_all(pool)
    .await?
    .iter()
    .map(message_row)
    .collect()
}

/// Stores a verified webhook event unless it is there already; true when new.
pub(crate) async fn insert_webhook_event(
    conn: &mut AnyConnection,
    provider: &str,
    e: &crate::webhooks::ProviderEvent,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "insert into notify_webhook_event (provider, event_id, event_type, provider_message_id, payload, received_at)
         values ($1, $2, $3, $4, $5, $6) on conflict (provider, event_id) do nothing",
    )
    .bind(provider)
    .bind(&e.event_id)
    .bind(&e.event_type)
    .bind(e.provider_message_id.as_deref())
    .bind(&e.payload)
    .bind(now.as_micros())
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A stored webhook event not processed yet: (event type, provider message id).
pub(crate) async fn pending_webhook_event(
    conn: &mut AnyConnection,
    provider: &str,
    event_id: &str,
) -> Result<Option<(String, Option<String>)>, sqlx::Error> {
    let row = sqlx::query(
        "select event_type, provider_message_id from notify_webhook_event
         where provider = $1 and event_id = $2 and processed_at is null",
    )
    .bind(provider)
    .bind(event_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| Ok((col(&r, "event_type")?, col(&r, "provider_message_id")?)))
        .transpose()
}

/// The delivery a provider took under `provider_message_id`, with its
/// message and that message's recipient: (delivery id, message id, recipient).
pub(crate) async fn delivery_by_provider_id(
    conn: &mut AnyConnection,
    provider: &str,
    provider_message_id: &str,
) -> Result<Option<(String, String, String)>, sqlx::Error> {
    let row = sqlx::query(
        "select d.id as delivery_id, d.message_id as message_id, m.recipient as recipient
         from notify_delivery d join notify_message m on m.id = d.message_id
         where d.provider = $1 and d.provider_message_id = $2
         order by d.started_at desc limit 1",
    )
    .bind(provider)
    .bind(provider_message_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok((
            col(&r, "delivery_id")?,
            col(&r, "message_id")?,
            col(&r, "recipient")?,
        ))
    })
    .transpose()
}

/// Moves a delivery from one of `from` to `to`; false when it was in none.
pub(crate) async fn mark_delivery(
    conn: &mut AnyConnection,
    id: &str,
    from: &[DeliveryStatus],
    to: DeliveryStatus,
) -> Result<bool, sqlx::Error> {
    let list = cielo_db::placeholders(3, from.len());
    let sql = format!(
        "update notify_delivery set status = $1 where id = $2 and status in ({list}) returning id"
    );
    let mut q = sqlx::query_scalar::<_, String>(&sql)
        .bind(to.as_str())
        .bind(id);
    for f in from {
        q = q.bind(f.as_str());
    }
    Ok(q.fetch_optional(&mut *conn).await?.is_some())
}

/// Moves a message from one of `from` to `to`, only while its current send
/// is the one the provider knows as `provider_message_id` (a webhook about
/// an earlier send marks that delivery only).
pub(crate) async fn mark_message(
    conn: &mut AnyConnection,
    id: &str,
    provider_message_id: &str,
    from: &[MessageStatus],
    to: MessageStatus,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let list = cielo_db::placeholders(5, from.len());
    let sql = format!(
        "update notify_message set status = $1, updated_at = $2
         where id = $3 and provider_message_id = $4 and status in ({list}) returning id"
    );
    let mut q = sqlx::query_scalar::<_, String>(&sql)
        .bind(to.as_str())
        .bind(now.as_micros())
        .bind(id)
        .bind(provider_message_id);
    for f in from {
        q = q.bind(f.as_str());
    }
    Ok(q.fetch_optional(&mut *conn).await?.is_some())
}

/// Records how a webhook event was processed.
pub(crate) async fn finish_webhook_event(
    conn: &mut AnyConnection,
    provider: &str,
    event_id: &str,
    message_id: Option<&str>,
    outcome: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update notify_webhook_event set message_id = $1, outcome = $2, processed_at = $3
         where provider = $4 and event_id = $5",
    )
    .bind(message_id)
    .bind(outcome)
    .bind(now.as_micros())
    .bind(provider)
    .bind(event_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Puts an address on the suppression list (kept as first reported).
pub(crate) async fn suppress(
    conn: &mut AnyConnection,
    s: &crate::model::Suppression,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into notify_suppression (address, reason, provider, event_id, message_id, created_at)
         values ($1, $2, $3, $4, $5, $6) on conflict (address) do nothing",
    )
    .bind(&s.address)
    .bind(&s.reason)
    .bind(&s.provider)
    .bind(&s.event_id)
    .bind(s.message_id.as_deref())
    .bind(s.created_at.as_micros())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn suppression_row(r: &AnyRow) -> Result<crate::model::Suppression, sqlx::Error> {
    Ok(crate::model::Suppression {
        address: col(r, "address")?,
        reason: col(r, "reason")?,
        provider: col(r, "provider")?,
        event_id: col(r, "event_id")?,
        message_id: col(r, "message_id")?,
        created_at: Timestamp::from_micros(col(r, "created_at")?),
    })
}

const SUPPRESSION_COLUMNS: &str = "address, reason, provider, event_id, message_id, created_at";

/// The suppression of `address` (lowercase), if any.
pub(crate) async fn suppression(
    pool: &AnyPool,
    address: &str,
) -> Result<Option<crate::model::Suppression>, sqlx::Error> {
    sqlx::query(&format!(
        "select {SUPPRESSION_COLUMNS} from notify_suppression where address = $1"
    ))
    .bind(address)
    .fetch_optional(pool)
    .await?
    .map(|r| suppression_row(&r))
    .transpose()
}

/// Suppressed addresses, newest first.
pub(crate) async fn suppressions(
    pool: &AnyPool,
    limit: i64,
) -> Result<Vec<crate::model::Suppression>, sqlx::Error> {
    sqlx::query(&format!(
        "select {SUPPRESSION_COLUMNS} from notify_suppression order by created_at desc, address limit $1"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await?
    .iter()
    .map(suppression_row)
    .collect()
}

/// Takes an address off the suppression list; true when it was on it.
pub(crate) async fn unsuppress(pool: &AnyPool, address: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("delete from notify_suppression where address = $1")
            .bind(address)
            .execute(pool)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Counts one webhook refused for its signature (per provider and minute).
pub(crate) async fn count_rejection(
    pool: &AnyPool,
    provider: &str,
    now_secs: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into notify_webhook_rejection (provider, minute, count) values ($1, $2, 1) \
         on conflict (provider, minute) do update set count = notify_webhook_rejection.count + 1",
    )
    .bind(provider)
    .bind(now_secs.div_euclid(60))
    .execute(pool)
    .await?;
    Ok(())
}

/// Webhooks refused since the unix minute `since_minute` (excluded).
pub(crate) async fn rejections_since(
    pool: &AnyPool,
    since_minute: i64,
) -> Result<i64, sqlx::Error> {
    let n: Option<i64> = sqlx::query_scalar(
        "select cast(coalesce(sum(count), 0) as bigint) from notify_webhook_rejection where minute > $1",
    )
    .bind(since_minute)
    .fetch_one(pool)
    .await?;
    Ok(n.unwrap_or(0))
}
