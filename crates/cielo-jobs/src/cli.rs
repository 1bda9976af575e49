//! `cielo jobs …`: the operations as a command line, mounted by the binary.

use crate::{
    dead_letters, list_jobs, queue_stats, retry_job, show_job, JobFilter, JobId, JobPage, JobState,
};
use cielo_db::Db;

/// `cielo jobs` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum JobsCommand {
    /// List waiting, running and dead jobs, newest first.
    List {
        /// Only this queue.
        #[arg(long)]
        queue: Option<String>,
        /// Only this state.
        #[arg(long, value_enum)]
        state: Option<JobState>,
        /// Continue after this job id (the "next" printed below a page).
        #[arg(long)]
        cursor: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one job in full, with its payload and last error.
    Show {
        /// The job id (`job_…`).
        id: String,
    },
    /// Put a dead job back in its queue with a fresh set of attempts.
    Retry {
        /// The job id (`job_…`).
        id: String,
    },
    /// List dead letters.
    Dead {
        /// Only this queue.
        #[arg(long)]
        queue: Option<String>,
        /// Continue after this job id.
        #[arg(long)]
        cursor: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Per-queue depth, oldest runnable job and dead letters.
    Stats,
}

/// Runs a `cielo jobs` subcommand, printing to standard output.
pub async fn run_cli(db: &Db, cmd: JobsCommand) -> anyhow::Result<()> {
    let mut out = String::new();
    match cmd {
        JobsCommand::List {
            queue,
            state,
            cursor,
            limit,
        } => {
            let page = list_jobs(
                db,
                &JobFilter {
                    queue,
                    state,
                    cursor,
                    limit: Some(limit),
                },
            )
            .await?;
            render_page(&mut out, &page);
        }
        JobsCommand::Dead {
            queue,
            cursor,
            limit,
        } => {
            let page = dead_letters(db, queue.as_deref(), cursor.as_deref(), Some(limit)).await?;
            render_page(&mut out, &page);
        }
        JobsCommand::Show { id } => {
            let job = show_job(db, &parse_id(&id)?).await?;
            out.push_str(&serde_json::to_string_pretty(&job)?);
            out.push('\n');
        }
        JobsCommand::Retry { id } => {
            let job = retry_job(db, &parse_id(&id)?).await?;
            out.push_str(&format!(
                "{} is pending again on queue {} (runs at {})\n",
                job.id, job.queue, job.run_at
            ));
        }
        JobsCommand::Stats => {
            let stats = queue_stats(db).await?;
            let rows: Vec<Vec<String>> = stats
                .iter()
                .map(|s| {
                    vec![
                        s.queue.clone(),
                        s.runnable.to_string(),
                        s.scheduled.to_string(),
                        s.running.to_string(),
                        s.dead.to_string(),
                        format!("{:.1}", s.oldest_runnable_age_seconds),
                    ]
                })
                .collect();
            table(
                &mut out,
                &[
                    "QUEUE",
                    "RUNNABLE",
                    "SCHEDULED",
                    "RUNNING",
                    "DEAD",
                    "OLDEST_S",
                ],
                &rows,
            );
        }
    }
    print!("{out}");
    Ok(())
}

fn parse_id(id: &str) -> anyhow::Result<JobId> {
    JobId::parse(id).map_err(|e| anyhow::anyhow!("{id:?} is not a job id: {e}"))
}

fn render_page(out: &mut String, page: &JobPage) {
    if page.jobs.is_empty() {
        out.push_str("no jobs\n");
        return;
    }
    let rows: Vec<Vec<String>> = page
        .jobs
        .iter()
        .map(|j| {
            vec![
                j.id.to_string(),
                j.queue.clone(),
                j.kind.clone(),
                j.state.as_str().to_string(),
                format!("{}/{}", j.attempts, j.max_attempts),
                j.run_at.to_string(),
                j.last_error
                    .as_deref()
                    .map(|e| truncate(e, 60))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    table(
        out,
        &[
            "ID",
            "QUEUE",
            "KIND",
            "STATE",
            "ATTEMPTS",
            "RUN_AT",
            "LAST_ERROR",
        ],
        &rows,
    );
    if let Some(next) = &page.next_cursor {
        out.push_str(&format!("next: --cursor {next}\n"));
    }
}

fn truncate(s: &str, max: usize) -> String {
    let one_line = s.replace('\n', " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        one_line.chars().take(max - 1).collect::<String>() + "…"
    }
}

/// Left-aligned columns separated by two spaces.
fn table(out: &mut String, headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |out: &mut String, cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(out, headers.to_vec());
    for r in rows {
        line(out, r.iter().map(String::as_str).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_their_columns() {
        let mut out = String::new();
        table(
            &mut out,
            &["A", "LONGER"],
            &[
                vec!["xyz".into(), "1".into()],
                vec!["q".into(), "22".into()],
            ],
        );
        assert_eq!(out, "A    LONGER\nxyz  1\nq    22\n");
    }
}
