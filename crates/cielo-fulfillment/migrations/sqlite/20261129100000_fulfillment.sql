-- One row per (order, lab): the submission and everything learnt since.
-- `submit_state` is written before and after the call to the lab, so a retry
-- after a timeout, a 5xx or a crash knows the outcome may be unknown and asks
-- the lab first (exactly-once submission).
create table fulfillment_lab_order (
    id text primary key,
    order_id text not null,
    lab text not null,
    -- bumped by a resubmission; part of the external reference
    generation bigint not null default 0,
    -- what the lab knows us by: Printful external_id, Prodigi idempotencyKey
    external_ref text not null,
    -- the lab's own id (Printful's numeric id, Prodigi's ord_…), once known
    lab_ref text,
    -- planned | sending | accepted | refused | cancelled
    submit_state text not null,
    -- our stage: planned | submitted | on_hold | in_production | shipped | delivered | refused | cancelled
    stage text not null,
    raw_status text,
    reason text,
    -- the SubmissionRequest (JSON)
    request text not null,
    -- Vec<Shipment> (JSON)
    shipments text not null default '[]',
    hold_until bigint not null,
    submit_attempts bigint not null default 0,
    created_at bigint not null,
    updated_at bigint not null,
    submitted_at bigint,
    unique (order_id, lab)
);
create unique index fulfillment_lab_order_ref on fulfillment_lab_order (lab, external_ref);
create index fulfillment_lab_order_open on fulfillment_lab_order (stage);

-- What happened to each lab order, oldest first.
create table fulfillment_history (
    lab_order_id text not null,
    seq bigint not null,
    at bigint not null,
    stage text not null,
    raw_status text,
    cause text not null,
    primary key (lab_order_id, seq)
);

-- Webhook hints, deduplicated: Prodigi's event id, or a digest of Printful's body.
create table fulfillment_webhook (
    lab text not null,
    event_key text not null,
    lab_order_id text,
    kind text not null,
    payload text not null,
    received_at bigint not null,
    primary key (lab, event_key)
);
