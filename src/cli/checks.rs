//! The flags of `run`'s checks beside the memory verdict: threads back to baseline and
//! `--expect-freed`, and the overhead budget.

use clap::Args;

use leaktrail_harness::PssMode;

/// Flags of the checks.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Fail when objects of CLASS are alive in the heap at the end, after a full GC (a
    /// class as `summary` names it: `ScanInput`, or a closure `onData`/`onData()`); Node
    /// only; repeatable.
    #[arg(long, value_name = "CLASS")]
    pub expect_freed: Vec<String>,

    /// Threads the tree may have at the end beyond its baseline before the thread check
    /// fails [default: $UV_THREADPOOL_SIZE for Node when set, else 4: libuv's pool starts
    /// lazily].
    #[arg(long, value_name = "N")]
    pub max_thread_growth: Option<u64>,

    /// When to read PSS (slow on large processes: ~45 ms per 1.5 GB): `auto` at the first
    /// and last sample and on 1 % of the run (0.25 % for Node), `always`, `never`.
    #[arg(long, value_enum, default_value_t = PssArg::Auto)]
    pub pss: PssArg,
}

/// `--pss`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum PssArg {
    /// At the first and the last sample, and on 1 % of the run (0.25 % for Node).
    Auto,
    /// At every sample.
    Always,
    /// Never.
    Never,
}

impl From<PssArg> for PssMode {
    fn from(p: PssArg) -> PssMode {
        match p {
            PssArg::Auto => PssMode::Auto,
            PssArg::Always => PssMode::Always,
            PssArg::Never => PssMode::Never,
        }
    }
}

impl CheckArgs {
    /// The thread tolerance.
    pub fn thread_tolerance(&self, is_node: bool) -> u64 {
        self.max_thread_growth.unwrap_or_else(|| {
            is_node
                .then(|| std::env::var("UV_THREADPOOL_SIZE").ok())
                .flatten()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(4)
        })
    }
}

/// `--max-overhead`: a percentage, or `none`/`0` for no budget.
#[derive(Clone, Copy, Debug)]
pub struct OverheadBudget(pub Option<f64>);

impl std::str::FromStr for OverheadBudget {
    type Err = String;

    /// `5`, `5%`, `0.5`; `none`, `off` or `0` for no budget.
    fn from_str(s: &str) -> Result<OverheadBudget, String> {
        let t = s.trim().trim_end_matches('%');
        if t.eq_ignore_ascii_case("none") || t.eq_ignore_ascii_case("off") {
            return Ok(OverheadBudget(None));
        }
        match t.parse::<f64>() {
            Ok(0.0) => Ok(OverheadBudget(None)),
            Ok(p) if p > 0.0 && p <= 100.0 => Ok(OverheadBudget(Some(p / 100.0))),
            _ => Err(format!(
                "{s:?}: expected a percentage above 0 and at most 100 (like 5), or none"
            )),
        }
    }
}
