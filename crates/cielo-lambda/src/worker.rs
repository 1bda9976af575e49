//! The `worker` function: SQS batches of jobs, answered with partial batch
//! failures.
//!
//! Each message is a job the relay sent ([`cielo_jobs::sqs::JobMessage`]) and
//! runs through the same handler as on the database transport
//! ([`cielo_jobs::sqs::SqsTransport::handle_message`]). The answer lists the
//! messages that must return to the queue: failed attempts (their visibility
//! is already set to the retry delay) and unreadable messages (the queue's
//! redrive policy moves them to the dead-letter queue after
//! `maxReceiveCount` receives). Done and dead jobs are deleted by Lambda.
//! The event source mapping needs `FunctionResponseTypes:
//! [ReportBatchItemFailures]`, otherwise one failure returns the whole batch.
//!
//! Standard queues: the batch's jobs run concurrently, up to
//! `jobs.concurrency`. FIFO queues: in order, and after a failure the rest of
//! the batch is returned unrun, so that no job overtakes an earlier one of
//! its group.

use crate::{HandlerError, Services};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use cielo_jobs::sqs::{Delivery, ReceivedMessage};
use futures::stream::{self, StreamExt};

/// Handles one batch.
pub async fn handle(s: &Services, event: SqsEvent) -> Result<SqsBatchResponse, HandlerError> {
    let transport = s
        .transport()
        .ok_or_else(|| HandlerError("the worker function needs jobs.transport = \"sqs\"".into()))?;
    let fifo = event.records.iter().any(|r| {
        r.event_source_arn
            .as_deref()
            .is_some_and(|a| a.ends_with(".fifo"))
    });
    let mut response = SqsBatchResponse::default();
    let run = |record: SqsMessage| async move {
        let id = record.message_id.clone();
        let delivery = match to_message(transport, &record) {
            Ok((url, message)) => {
                transport
                    .handle_message(&s.db, &s.registry, &url, &message)
                    .await
            }
            Err(why) => Delivery::Malformed(why),
        };
        (id, delivery)
    };
    let outcomes: Vec<(Option<String>, Delivery)> = if fifo {
        let mut out = Vec::with_capacity(event.records.len());
        let mut failed = false;
        for record in event.records {
            if failed {
                out.push((
                    record.message_id.clone(),
                    Delivery::Retry("an earlier job of this FIFO batch failed".into()),
                ));
                continue;
            }
            let (id, d) = run(record).await;
            failed = d.keeps_message();
            out.push((id, d));
        }
        out
    } else {
        stream::iter(event.records)
            .map(run)
            .buffer_unordered(s.jobs.concurrency.max(1))
            .collect()
            .await
    };
    for (id, delivery) in outcomes {
        match (id, delivery.keeps_message()) {
            (Some(id), true) => response.add_failure(id),
            (None, true) => {
                tracing::error!("an SQS record without a message id failed; it cannot be reported")
            }
            _ => {}
        }
    }
    // Jobs the handlers enqueued go out before the instance is frozen.
    s.relay().await;
    Ok(response)
}

fn to_message(
    transport: &cielo_jobs::sqs::SqsTransport,
    record: &SqsMessage,
) -> Result<(String, ReceivedMessage), String> {
    let arn = record
        .event_source_arn
        .as_deref()
        .ok_or("the record names no queue (eventSourceARN)")?;
    let url = transport
        .client()
        .queue_url_of_arn(arn)
        .ok_or_else(|| format!("not an SQS queue ARN: {arn}"))?;
    Ok((
        url,
        ReceivedMessage {
            message_id: record.message_id.clone().unwrap_or_default(),
            receipt_handle: record.receipt_handle.clone().unwrap_or_default(),
            body: record.body.clone().unwrap_or_default(),
            receive_count: record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1),
        },
    ))
}
