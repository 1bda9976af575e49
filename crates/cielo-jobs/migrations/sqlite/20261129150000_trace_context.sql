-- The trace context (a W3C `traceparent` value) of the span that enqueued a
-- job or published an event, when traces are exported: the job then runs in
-- the same trace. Null when traces are off.
alter table jobs_job add column trace_context text;
alter table jobs_event add column trace_context text;
