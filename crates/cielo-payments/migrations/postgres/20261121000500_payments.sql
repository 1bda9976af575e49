-- The webhook inbox: every verified provider event, stored before anything
-- else happens to it. The primary key is the provider's event id, so a
-- duplicate delivery stores nothing and is not processed again.
create table payments_inbox (
    provider text not null,
    event_id text not null,
    event_type text not null,
    -- the provider's `created` (unix seconds)
    created bigint not null,
    payload text not null,
    -- 'webhook' or 'catch_up'
    source text not null,
    received_at bigint not null,
    processed_at bigint,
    outcome text,
    primary key (provider, event_id)
);
create index payments_inbox_unprocessed on payments_inbox (received_at) where processed_at is null;

-- What we learnt about each order's payment: the intent refunds and disputes
-- point at, and how much was taken and refunded.
create table payments_payment (
    order_id text primary key,
    provider text not null,
    session_id text,
    payment_intent text,
    amount bigint,
    currency text,
    amount_refunded bigint not null default 0,
    updated_at bigint not null
);
create index payments_payment_intent on payments_payment (provider, payment_intent);

-- Where the catch-up's event listing got to, per provider (unix seconds).
create table payments_cursor (
    provider text primary key,
    created bigint not null,
    updated_at bigint not null
);

-- The built-in test provider's own event log: what its events list returns.
create table payments_test_event (
    id text primary key,
    created bigint not null,
    payload text not null
);
create index payments_test_event_created on payments_test_event (created, id);
