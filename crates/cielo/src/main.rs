//! The `cielo` command.

use anyhow::Context;
use cielo::app::{self, Application, BuildOptions};
use cielo::Settings;
use clap::{Parser, Subcommand};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// Cielo: a made-to-order commerce engine. One binary runs the shop: catalog,
/// accounts, carts, checkout and orders, with a JSON API and a storefront.
///
/// With no setup it keeps everything in ./data (SQLite, files) and seeds a
/// demo catalog. Set CIELO_DATABASE_URL=postgres://… to use PostgreSQL.
/// Every setting is documented in docs/configuration.md.
#[derive(Parser, Debug)]
#[command(name = "cielo", version, about, long_about)]
struct Cli {
    /// A TOML configuration file (CIELO_* environment variables override it).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        help_heading = "Global options",
        display_order = 1000
    )]
    config: Option<PathBuf>,
    /// Directory for the SQLite database, local files and the signing key.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        help_heading = "Global options",
        display_order = 1001
    )]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start-up: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Start the shop: API, storefront and admin API (migrations run first).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 or 0.0.0.0:80.
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
        /// Do not seed the demo catalog into an empty database.
        #[arg(long)]
        no_demo: bool,
        /// What this process runs: everything (`all`), or one part to scale out
        /// on PostgreSQL (`api`, `worker`, `scheduler`; run the scheduler twice
        /// for safety, it takes a lease).
        #[arg(long, value_enum, default_value_t = RoleArg::All)]
        role: RoleArg,
    },
    /// Inspect the job queue and retry dead letters.
    Jobs {
        #[command(subcommand)]
        command: cielo_jobs::cli::JobsCommand,
    },
    /// Look at orders.
    Orders {
        #[command(subcommand)]
        command: OrdersCommand,
    },
    /// Compare the payment provider and the print labs with our records
    /// over a window, store every difference as a finding, fix what is safe
    /// to fix, raise the alerts, and print the report. Exits 1 when a
    /// finding is open or a provider could not be checked.
    Reconcile {
        /// How far back to look: `24h`, `90m`, `2h 30m` (default
        /// `ops.reconcile.window_secs`).
        #[arg(long, value_name = "DURATION", value_parser = parse_window)]
        since: Option<u64>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Walk the store path of a running shop as a buyer would (product list,
    /// cart, checkout, payment page; on the built-in test provider the
    /// payment is cancelled, so nothing is paid or made) and print each
    /// step's time. Exits 1 when a step fails or the walk is slower than
    /// `--slow-ms`. No database needed.
    Canary {
        /// The shop's base URL (default `http.public_url`).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// A walk slower than this many milliseconds fails (default `ops.canary.slow_ms`).
        #[arg(long, value_name = "MS")]
        slow_ms: Option<u64>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage admin accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Payment webhooks: check a signature (no database needed).
    Webhooks {
        #[command(subcommand)]
        command: cielo_payments::cli::WebhooksCommand,
    },
    /// Star maps: sky positions and poster rendering (no database needed).
    Starmap {
        #[command(subcommand)]
        command: cielo_starmap::cli::StarmapCommand,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum RoleArg {
    All,
    Api,
    Worker,
    Scheduler,
}

impl From<RoleArg> for app::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::All => app::Role::All,
            RoleArg::Api => app::Role::Api,
            RoleArg::Worker => app::Role::Worker,
            RoleArg::Scheduler => app::Role::Scheduler,
        }
    }
}

#[derive(Subcommand, Debug)]
enum OrdersCommand {
    /// An order's timeline: status history, payment, lab orders (raw status
    /// and history) and shipments.
    Show {
        /// The order id (`ord_…`) or its number as emails and pages show it
        /// (`#3F3CBECF`, with or without `#`).
        id: String,
        /// Print JSON (the order and its lab orders) instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Create an admin (or make an existing account admin), reading the password from stdin.
    Create {
        /// The admin's email.
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

/// mimalloc instead of the C library's allocator: a store request allocates
/// a few dozen small buffers (headers, extensions, futures) that live for
/// microseconds, and glibc's `malloc`/`free` took about an eighth of the
/// server's CPU under load (bench/api.sh, see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `--since`: a positive duration like `24h`, `90m` or `2h 30m`, in seconds.
/// Checked while the arguments are read, before anything else is looked at.
fn parse_window(raw: &str) -> Result<u64, String> {
    // The parser's own message names its grammar, not the input's fault.
    let d: jiff::SignedDuration = raw
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration: write it like 24h, 90m or \"2h 30m\""))?;
    if d.as_secs() <= 0 {
        return Err(format!("{raw:?} must be a positive duration, like 24h"));
    }
    Ok(d.as_secs() as u64)
}

fn main() -> ExitCode {
    // Started by the Lambda runtime (no arguments): serve the function.
    #[cfg(feature = "lambda")]
    if cielo_lambda::is_lambda() {
        return lambda_main();
    }
    let cli = Cli::parse();
    // Star-map commands are pure computation: no settings, database or runtime.
    if let Command::Starmap { command } = cli.command {
        return match cielo_starmap::cli::run(command) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let Command::Webhooks { command } = cli.command {
        return cielo_payments::cli::run(command);
    }
    let mut settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = &cli.data_dir {
        settings.data_dir = dir.clone();
    }
    // Only the server logs its life; the other commands print their output
    // and errors only (RUST_LOG still turns their logs on).
    let level = match cli.command {
        Command::Serve { .. } => settings.log.level.as_str(),
        _ => "error",
    };
    cielo::telemetry::init_with_traces(&settings.log.format, level, &settings.log.traces);
    for var in Settings::unknown_env_vars() {
        tracing::warn!(variable = %var, "ignoring unknown CIELO_ environment variable; see docs/configuration.md");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // An error is reported once: as `error: …` on stderr (the part of the
    // process that failed does not log it again).
    let outcome = runtime.block_on(run(cli.command, settings));
    drop(runtime);
    // The spans of the last moments, buffered for the next batch.
    cielo::telemetry::shutdown();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The function's role from `CIELO_LAMBDA_ROLE`, its settings from the
/// environment; nothing migrates or catches up here (see docs/deploy.md).
#[cfg(feature = "lambda")]
fn lambda_main() -> ExitCode {
    let settings = match Settings::load(None) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    cielo::telemetry::init_with_traces(
        &settings.log.format,
        &settings.log.level,
        &settings.log.traces,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let served = runtime.block_on(async {
        let role = cielo_lambda::FunctionRole::from_env().map_err(anyhow::Error::msg)?;
        let app = Application::build_serverless(settings).await?;
        let (jobs, schedule) = app.jobs_settings();
        let services = cielo_lambda::Services::new(
            app.router(),
            app.state().db.clone(),
            app.registry(),
            jobs.clone(),
            schedule.to_vec(),
        )?;
        cielo_lambda::run(role, services)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
    });
    drop(runtime);
    cielo::telemetry::shutdown();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "cielo Lambda function failed");
            ExitCode::FAILURE
        }
    }
}

/// Commands that look at an existing shop must not create one: a missing
/// SQLite file (the command run outside the shop's folder) is an error, and
/// neither the data directory nor the database is created.
fn require_database(settings: &Settings) -> anyhow::Result<()> {
    let url = cielo_db::DatabaseUrl::new(settings.database_url());
    if let Some(file) = url.sqlite_file() {
        if !file.exists() {
            anyhow::bail!(
                "no database at {}: run this in the shop's folder (where `cielo serve` keeps data/), or name it with --data-dir DIR or CIELO_DATABASE_URL",
                file.display()
            );
        }
    }
    Ok(())
}

async fn run(command: Command, mut settings: Settings) -> anyhow::Result<()> {
    if matches!(
        command,
        Command::Orders { .. } | Command::Reconcile { .. } | Command::Jobs { .. }
    ) {
        require_database(&settings)?;
    }
    match command {
        Command::Serve {
            bind,
            no_demo,
            role,
        } => {
            if let Some(b) = bind {
                settings.http.bind = b;
            }
            let role = app::Role::from(role);
            let app = Application::build(
                settings,
                BuildOptions {
                    seed_demo: !no_demo && role == app::Role::All,
                    role,
                },
            )
            .await?;
            match role {
                app::Role::All | app::Role::Api => eprintln!(
                    "Cielo is serving the shop at http://{}/ (API: /api/store, OpenAPI: /openapi.json). Ctrl-C stops it.",
                    app.address()
                ),
                other => eprintln!("Cielo is running as {other:?}. Ctrl-C stops it."),
            }
            app.run_until_stopped(app::shutdown_signal()).await
        }
        Command::Reconcile { since, json } => {
            let since_secs = since.unwrap_or(settings.ops.reconcile.window_secs);
            let app = Application::build(
                settings,
                BuildOptions {
                    seed_demo: false,
                    role: app::Role::Worker,
                },
            )
            .await?;
            let ops = app
                .state()
                .ops
                .clone()
                .expect("the application wires operations");
            let report = ops.reconcile(since_secs).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.to_text());
            }
            if !report.is_clean() {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Canary {
            base_url,
            slow_ms,
            json,
        } => {
            let base = base_url
                .or_else(|| settings.ops.canary.base_url.clone())
                .or_else(|| settings.http.public_url.clone())
                .unwrap_or_else(|| format!("http://{}", settings.http.bind));
            let report = cielo_ops::canary::walk(
                &base,
                slow_ms.unwrap_or(settings.ops.canary.slow_ms),
                std::time::Duration::from_secs(settings.ops.canary.timeout_secs.max(1)),
            )
            .await;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for s in &report.steps {
                    match &s.error {
                        None => println!("  {:<13} {:>6} ms  ok", s.step, s.ms),
                        Some(e) => println!("  {:<13} {:>6} ms  FAILED: {e}", s.step, s.ms),
                    }
                }
                println!("{}", report.summary());
            }
            if !report.ok || report.slow {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Jobs { command } => {
            let db = app::connect_and_migrate(&settings).await?;
            cielo_jobs::cli::run_cli(&db, command).await
        }
        Command::Orders {
            command: OrdersCommand::Show { id, json },
        } => {
            let typed = id;
            let Some(tail) = cielo_orders::parse_order_number(&typed) else {
                anyhow::bail!(
                    "{typed} is neither an order id (ord_…) nor an order number (#3F3CBECF)"
                );
            };
            // The services as a worker builds them (no listener, nothing runs).
            let app = Application::build(
                settings,
                BuildOptions {
                    seed_demo: false,
                    role: app::Role::Worker,
                },
            )
            .await?;
            let state = app.state();
            let id: cielo_orders::OrderId = match typed.parse() {
                Ok(id) => id,
                Err(_) => {
                    let found = state
                        .orders
                        .list_orders(cielo_orders::OrderFilter {
                            number: Some(tail),
                            limit: Some(2),
                            ..Default::default()
                        })
                        .await?
                        .orders;
                    match found.as_slice() {
                        [one] => one.id,
                        [] => anyhow::bail!("no order {typed}"),
                        _ => anyhow::bail!(
                            "several orders have the number {typed}: give the order id (ord_…)"
                        ),
                    }
                }
            };
            let flows = state
                .flows
                .as_ref()
                .expect("the application wires the lifecycle");
            let timeline = match flows.timeline(id).await {
                Ok(t) => t,
                Err(cielo_flows::Error::Orders(cielo_orders::Error::OrderNotFound)) => {
                    anyhow::bail!("no order {id}")
                }
                Err(e) => return Err(e.into()),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&timeline)?);
                return Ok(());
            }
            let payment = {
                let mut conn = state.db.pool().acquire().await?;
                cielo_payments::inbox::payment_of_order(&mut conn, &id.to_string()).await?
            };
            let currency = timeline.order.totals.total.currency;
            let money = |minor: i64| cielo_core::Money::new(minor, currency).to_string();
            let payment = payment.map(|p| cielo_flows::PaymentLine {
                provider: p.provider,
                amount: p.amount.map(money),
                refunded: Some(money(p.amount_refunded)),
                reference: p.payment_intent.or(p.session_id),
            });
            print!("{}", timeline.to_text(payment.as_ref()));
            Ok(())
        }
        Command::Migrate => {
            let db = app::connect_and_migrate(&settings).await?;
            let status = db.migration_status(&cielo::migrations()).await?;
            println!(
                "database {} is up to date ({} pending)",
                db.url(),
                status.pending.len()
            );
            Ok(())
        }
        Command::Webhooks { .. } => unreachable!("handled before the runtime starts"),
        Command::Starmap { .. } => unreachable!("handled before the runtime starts"),
        Command::Admin {
            command:
                AdminCommand::Create {
                    email,
                    password_stdin: _,
                },
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("reading the password from stdin")?;
            let password = password.trim_end_matches(['\n', '\r']);
            let db = app::connect_and_migrate(&settings).await?;
            let accounts =
                cielo_accounts::Accounts::new(db, settings.accounts.session_ttl_hours * 3600);
            match accounts.create_admin(&email, password).await {
                Ok(admin) => {
                    println!("admin {} ({}) is ready", admin.email, admin.id);
                    Ok(())
                }
                Err(cielo_accounts::Error::Invalid(errors)) => {
                    let msg: Vec<_> = errors
                        .iter()
                        .map(|e| format!("{}: {}", e.pointer.trim_start_matches("#/"), e.detail))
                        .collect();
                    anyhow::bail!("{}", msg.join("; "))
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
