-- Provider webhooks about delivered mail (Resend through Svix, SendGrid's
-- Event Webhook), stored under the provider's event id before they are
-- processed: a replayed webhook finds its row and changes nothing.
create table notify_webhook_event (
    provider text not null,
    event_id text not null,
    -- the provider's event type (`email.bounced`, `bounce`, …)
    event_type text not null,
    -- the provider's id of the message the event is about
    provider_message_id text,
    -- the raw JSON of this one event
    payload text not null,
    -- our message, once matched by the provider's message id
    message_id text,
    -- null until processed; then applied | unmatched | recorded
    outcome text,
    received_at bigint not null,
    processed_at bigint,
    primary key (provider, event_id)
);
create index notify_webhook_event_received on notify_webhook_event (received_at);

-- Deliveries are found by the id the provider gave when it took the message.
create index notify_delivery_provider_id on notify_delivery (provider, provider_message_id);

-- Addresses that hard-bounced or complained: the shop's later non-essential
-- mail to them is not sent. One row per address (lowercase).
create table notify_suppression (
    address text primary key,
    -- bounced | complained
    reason text not null,
    provider text not null,
    event_id text not null,
    message_id text,
    created_at bigint not null
);

-- Webhooks refused for their signature, per provider and minute.
create table notify_webhook_rejection (
    provider text not null,
    -- unix minute
    minute bigint not null,
    count bigint not null,
    primary key (provider, minute)
);
