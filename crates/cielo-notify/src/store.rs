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
