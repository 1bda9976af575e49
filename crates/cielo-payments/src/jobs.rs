//! The payments domain's job kinds, registered by [`Payments::register`].

use crate::inbox::KIND_PROCESS_EVENT;
use crate::{Payments, ProcessError};
use cielo_jobs::JobError;

/// Job kind: list missed provider events and ask about orders waiting too long.
pub const KIND_CATCH_UP: &str = "payments.catch_up";

impl Payments {
    /// Registers the payment jobs: processing stored provider events
    /// (`payments.process_event`) and the catch-up (`payments.catch_up`).
    pub fn register(&self, r: &mut cielo_jobs::Registry) {
        #[derive(serde::Deserialize)]
        struct Process {
            provider: String,
            #[serde(default)]
            event_id: Option<String>,
            #[serde(default)]
            event_ids: Vec<String>,
        }
        let p = self.clone();
        r.handle_json(KIND_PROCESS_EVENT, move |_ctx, args: Process| {
            let p = p.clone();
            async move {
                let mut ids = args.event_ids;
                ids.extend(args.event_id);
                match p.process_events(&args.provider, &ids).await {
                    Ok(_) => Ok(()),
                    Err(ProcessError::Retry(e)) => Err(JobError::retry(format!("{e:#}"))),
                    Err(ProcessError::Permanent(e)) => Err(JobError::permanent(e)),
                }
            }
        });
        let p = self.clone();
        r.handle(KIND_CATCH_UP, move |_ctx, _payload| {
            let p = p.clone();
            async move {
                p.catch_up()
                    .await
                    .map_err(|e| JobError::retry(format!("{e:#}")))?;
                Ok(())
            }
        });
    }
}
