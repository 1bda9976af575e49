-- One row per message Cielo decided to send. `dedupe_key` is
-- `<order>/<kind>/<channel>[/<shipment>]` (or the caller's key for alerts):
-- unique, so a duplicated or replayed event cannot create a second message.
create table notify_message (
    id text primary key,
    dedupe_key text not null unique,
    order_id text,
    kind text not null,
    channel text not null,
    recipient text not null,
    language text not null,
    -- the JSON the templates are rendered from
    data text not null,
    -- queued | sending | sent | failed | unknown
    status text not null,
    -- the idempotency key of the current send intent (providers that take one
    -- get it; a retry reuses it; an admin resend makes a new one)
    send_key text not null,
    resends bigint not null default 0,
    provider_message_id text,
    last_error text,
    created_at bigint not null,
    updated_at bigint not null
);
create index notify_message_order on notify_message (order_id);
create index notify_message_created on notify_message (created_at, id);
create index notify_message_status on notify_message (status, created_at);

-- One row per attempt to hand a message to a provider: the delivery log.
create table notify_delivery (
    id text primary key,
    message_id text not null references notify_message (id),
    -- why this attempt happened: the event, a retry, an admin resend
    cause text not null,
    provider text not null,
    idempotency_key text,
    -- sending | sent | failed | unknown
    status text not null,
    provider_message_id text,
    error text,
    started_at bigint not null,
    finished_at bigint
);
create index notify_delivery_message on notify_delivery (message_id, started_at);
