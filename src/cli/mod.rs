//! Command-line flags and dispatch.

mod census;
mod checks;
mod diff;
mod docs;
mod duration;
mod examples;
mod flame;
mod flamegraphs;
mod leak_analysis;
mod leaks;
mod live_status;
mod load;
mod policy;
mod retainers;
mod run;
mod serve;
mod summary;
mod trace;
mod trend;
mod watch;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use leaktrail_report::{Format, RenderOptions};

/// Find memory leaks in long-running services (Node.js/V8 first).
#[derive(Parser, Debug)]
#[command(
    name = "leaktrail",
    version,
    about,
    max_term_width = 100,
    after_long_help = examples::TOP
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,

    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = FormatArg::Table)]
    format: FormatArg,

    /// When to colour table output; `auto` colours on a terminal unless NO_COLOR is set.
    #[arg(long, global = true, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,

    /// Never show a progress bar.
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Totals of one heap snapshot by node type, family and class.
    #[command(after_long_help = examples::SUMMARY)]
    Summary(summary::SummaryArgs),
    /// What grew between two snapshots of one process, or per PID in a lane directory.
    #[command(after_long_help = examples::DIFF)]
    Diff(diff::DiffArgs),
    /// Objects allocated between the first snapshots that are still alive in the last,
    /// clustered by retainer path (exit 1 when a leak is found).
    #[command(after_long_help = examples::LEAKS)]
    Leaks(leaks::LeaksArgs),
    /// Retainer paths from the GC roots to an object (--id) or a class's instances (--class).
    #[command(after_long_help = examples::RETAINERS)]
    Retainers(retainers::RetainersArgs),
    /// Run a workload, sample its memory from outside and decide whether it leaks (exit 0
    /// no leak, 1 leak, 2 fault, 3 inconclusive).
    #[command(after_long_help = examples::RUN)]
    Run(run::RunArgs),
    /// Watch a running service (or start one) into a bounded store: memory samples, heap
    /// snapshots turned into summaries, restarts.
    #[command(after_long_help = examples::WATCH)]
    Watch(watch::WatchArgs),
    /// Flame-graph SVGs from V8 CPU profiles and sampling heap profiles (node --cpu-prof,
    /// --heap-prof).
    #[command(after_long_help = examples::FLAME)]
    Flame(flame::FlameArgs),
    /// Run a command (a test suite) and follow every process it forks: RSS per PID and
    /// lane, heap snapshots per Node worker, growth per test file (exit status: the
    /// command's).
    #[command(after_long_help = examples::TRACE)]
    Trace(trace::TraceArgs),
    /// Is a watched service leaking? Per class, collection and memory series, over a store
    /// or a directory of snapshots (exit 0 stable/growing/insufficient data, 1 leaking).
    #[command(after_long_help = examples::TREND)]
    Trend(trend::TrendArgs),
    /// Serve a store over HTTP: JSON API, Markdown trend, Prometheus /metrics, dashboard.
    #[command(after_long_help = examples::SERVE)]
    Serve(serve::ServeArgs),
    /// A completion script for bash, zsh, fish, elvish or PowerShell, on stdout.
    #[command(after_long_help = examples::COMPLETIONS)]
    Completions(docs::CompletionsArgs),
    /// The man page leaktrail(1) on stdout, or every page into a directory (--dir).
    #[command(after_long_help = examples::MAN)]
    Man(docs::ManArgs),
    /// The census `watch` stores for one snapshot, as JSON (run by `watch` in a child
    /// process).
    #[command(hide = true)]
    Census(census::CensusArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    /// A table for the terminal.
    Table,
    /// JSON (schema in docs/json-schema.md).
    Json,
    /// GitHub Markdown, for an issue or PR.
    Markdown,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

/// Settings every subcommand shares.
pub struct Common {
    /// How to render the report.
    pub render: RenderOptions,
    /// Whether a progress bar may be shown on stderr.
    pub progress: bool,
}

impl Cli {
    fn common(&self, top: usize, min_bytes: u64) -> Common {
        let color = match self.color {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        let format = match self.format {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
            FormatArg::Markdown => Format::Markdown,
        };
        Common {
            render: RenderOptions {
                format,
                color: color && format == Format::Table,
                top,
                min_bytes,
            },
            progress: !self.quiet && std::io::stderr().is_terminal(),
        }
    }
}

/// Parses the command line and runs the subcommand.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let (report, code) = match &cli.command {
        Command::Summary(args) => (
            summary::run(args, &cli.common(args.top, 0))?,
            ExitCode::SUCCESS,
        ),
        Command::Diff(args) => (
            // Saturating: KiB beyond what bytes count hide every class, as asked.
            diff::run(
                args,
                &cli.common(args.top, args.min_kb.saturating_mul(1024)),
            )?,
            ExitCode::SUCCESS,
        ),
        Command::Leaks(args) => {
            let (report, leak) = leaks::run(args, &cli.common(args.top, 0))?;
            (
                report,
                if leak {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                },
            )
        }
        Command::Retainers(args) => (retainers::run(args, &cli.common(25, 0))?, ExitCode::SUCCESS),
        Command::Run(args) => {
            let (report, code) = run::run(args, &cli.common(10, 0))?;
            (report, ExitCode::from(code))
        }
        Command::Watch(args) => {
            let (report, code) = watch::run(args, cli.quiet)?;
            (report, ExitCode::from(code))
        }
        Command::Flame(args) => (flame::run(args, &cli.common(10, 0))?, ExitCode::SUCCESS),
        Command::Trace(args) => {
            let (report, code) = trace::run(args, &cli.common(args.top, 0))?;
            (report, ExitCode::from(code))
        }
        Command::Trend(args) => {
            let (report, leaking) = trend::run(args, &cli.common(args.top, 0))?;
            (report, ExitCode::from(u8::from(leaking)))
        }
        Command::Serve(args) => {
            serve::run(args)?;
            (String::new(), ExitCode::SUCCESS)
        }
        Command::Census(args) => (census::run(args)?, ExitCode::SUCCESS),
        Command::Completions(args) => (docs::completions(args)?, ExitCode::SUCCESS),
        Command::Man(args) => (docs::man(args)?, ExitCode::SUCCESS),
    };
    write_stdout(&report)?;
    Ok(code)
}

/// Writes the report; a closed pipe (`| head`) is not an error.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// This binary's version and the commit it was built from (`build.rs`), for the servers'
/// `leaktrail_build_info`.
fn build_info() -> leaktrail_serve::BuildInfo {
    leaktrail_serve::BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        commit: option_env!("LEAKTRAIL_COMMIT"),
    }
}
