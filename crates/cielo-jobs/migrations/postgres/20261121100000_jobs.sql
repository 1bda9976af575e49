-- The durable job queue, the transactional outbox and the scheduler's state.
-- Timestamps are bigint microseconds since the Unix epoch; JSON is text.

-- One row per job that is waiting, running or dead. A job that succeeds is
-- deleted, so the table stays small and claims stay cheap.
create table jobs_job (
    id text primary key,
    queue text not null,
    kind text not null,
    payload text not null,
    -- 'pending' (waiting for run_at), 'running' (claimed, holds a lease) or 'dead'
    state text not null,
    priority bigint not null default 0,
    run_at bigint not null,
    attempts bigint not null default 0,
    max_attempts bigint not null,
    last_error text,
    unique_key text,
    event_id text,
    request_id text,
    -- set while running: who holds the job and until when
    lease_token text,
    leased_until bigint,
    created_at bigint not null,
    updated_at bigint not null,
    finished_at bigint
);

-- Claims walk these indexes: waiting jobs best first, across queues or
-- within one queue (queues with their own concurrency limit).
create index jobs_job_runnable on jobs_job (priority desc, run_at, id) where state = 'pending';
create index jobs_job_runnable_in_queue on jobs_job (queue, priority desc, run_at, id) where state = 'pending';
-- Expired leases are found here.
create index jobs_job_leases on jobs_job (leased_until) where state = 'running';
create index jobs_job_dead on jobs_job (queue, finished_at) where state = 'dead';
-- No second job with the same key while one is waiting or running.
create unique index jobs_job_unique_key on jobs_job (unique_key) where unique_key is not null and state in ('pending', 'running');

-- The transactional outbox: written in the caller's transaction, turned into
-- one job per subscriber by the dispatcher.
create table jobs_event (
    id text primary key,
    topic text not null,
    payload text not null,
    request_id text,
    created_at bigint not null,
    updated_at bigint not null,
    dispatched_at bigint
);
create index jobs_event_undispatched on jobs_event (created_at, id) where dispatched_at is null;
create index jobs_event_dispatched on jobs_event (dispatched_at) where dispatched_at is not null;

-- One row per configured periodic job: the last tick that was enqueued. A tick
-- is enqueued only by the scheduler whose compare-and-set on last_tick wins.
create table jobs_schedule (
    name text primary key,
    cron text not null,
    last_tick bigint not null,
    created_at bigint not null,
    updated_at bigint not null
);

-- Named leases (the scheduler's leadership): one holder until expires_at.
create table jobs_lease (
    name text primary key,
    holder text not null,
    expires_at bigint not null,
    created_at bigint not null,
    updated_at bigint not null
);
