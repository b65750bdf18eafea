//! `leaktrail completions SHELL` and `leaktrail man`: generated from the same clap
//! definitions as `--help`, so they cannot drift from the flags.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory};

/// Flags of `leaktrail completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to write a completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Flags of `leaktrail man`.
#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write leaktrail.1 and one page per subcommand (leaktrail-run.1 …) into DIR instead
    /// of printing leaktrail.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The completion script for one shell.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<String> {
    let mut cmd = super::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "leaktrail", &mut out);
    String::from_utf8(out).context("completion script is not UTF-8")
}

/// The man page on stdout, or every page into `--dir` (then a line saying what was written).
pub fn man(args: &ManArgs) -> anyhow::Result<String> {
    let cmd = super::Cli::command();
    match &args.dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .context("rendering the man page")?;
            String::from_utf8(out).context("man page is not UTF-8")
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("{}: cannot write the man pages", dir.display()))?;
            Ok(format!("wrote the man pages into {}\n", dir.display()))
        }
    }
}
