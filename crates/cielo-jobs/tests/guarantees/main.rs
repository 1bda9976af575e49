//! The guarantees of cielo-jobs, on the engine `CIELO_TEST_DATABASE_URL`
//! selects (unset: SQLite). Tests that need several processes sharing a
//! queue run on PostgreSQL only and say so when skipped.

mod helpers;
mod ops;
mod outbox;
mod processes;
mod queue;
mod scheduler;
mod sqs;
mod worker;
