-- Reconciliation findings: one row per (kind, subject), so a difference seen
-- again by the next pass updates its row instead of adding one.
create table ops_finding (
    id text primary key,
    -- paid_without_order | paid_without_payment | unknown_lab_order | lab_status_differs | amount_mismatch
    kind text not null,
    -- what it is about: a payment session, an order id, `<lab>:<lab id>`
    subject text not null,
    -- open | fixed | resolved
    state text not null,
    -- our side and the provider's side (JSON)
    ours text not null,
    theirs text not null,
    -- what was done or must be done, in words
    detail text not null,
    -- a person's note when resolved, and who
    note text,
    resolved_by text,
    created_at bigint not null,
    updated_at bigint not null,
    unique (kind, subject)
);
create index ops_finding_state on ops_finding (state, created_at);

-- Alerts: one row per firing of a rule, from its start to its resolution.
create table ops_alert (
    id text primary key,
    rule text not null,
    -- firing | resolved
    state text not null,
    message text not null,
    -- the value the condition had when last evaluated
    value bigint not null,
    sends bigint not null default 0,
    fired_at bigint not null,
    last_sent_at bigint not null,
    resolved_at bigint
);
create index ops_alert_rule on ops_alert (rule, state);
