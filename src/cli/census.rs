//! `leaktrail census FILE` (hidden): the census a watcher stores for one snapshot, as JSON
//! on stdout. `watch` runs it in a child process for each snapshot it takes
//! (`leaktrail_watch::CensusWorker`), so that the parse's memory is never the watcher's.

use std::path::PathBuf;

use clap::Args;

use leaktrail_analysis::{CensusLimits, LeakWindow};

/// Arguments of `census` (the ones `CensusWorker::args` passes).
#[derive(Args, Debug)]
pub struct CensusArgs {
    /// The snapshot; `-` reads it from stdin (a watcher streams it there, with no file).
    file: PathBuf,
    /// The file name the census records.
    #[arg(long)]
    name: String,
    /// Classes kept by self size.
    #[arg(long)]
    classes: usize,
    /// Further classes kept by retained size.
    #[arg(long)]
    retained_classes: usize,
    /// Further classes kept by instance count.
    #[arg(long, default_value_t = 0)]
    count_classes: usize,
    /// Collections kept.
    #[arg(long)]
    collections: usize,
    /// Collections with fewer entries are left out.
    #[arg(long)]
    min_collection_entries: u64,
    /// The earlier census leak roots are found against (BASE of the leak window).
    #[arg(long, requires_all = ["base_max_id", "target", "target_max_id"])]
    base: Option<String>,
    /// The highest node id in BASE.
    #[arg(long, requires = "base")]
    base_max_id: Option<u32>,
    /// The later of the two earlier censuses (TARGET of the leak window).
    #[arg(long, requires = "base")]
    target: Option<String>,
    /// The highest node id in TARGET.
    #[arg(long, requires = "base")]
    target_max_id: Option<u32>,
}

/// The census of `args.file`, as JSON.
pub fn run(args: &CensusArgs) -> anyhow::Result<String> {
    let limits = CensusLimits {
        classes_by_self_size: args.classes,
        classes_by_retained_size: args.retained_classes,
        classes_by_count: args.count_classes,
        collections: args.collections,
        min_collection_entries: args.min_collection_entries,
    };
    let window = match (
        &args.base,
        args.base_max_id,
        &args.target,
        args.target_max_id,
    ) {
        (Some(base), Some(base_max_id), Some(target), Some(target_max_id)) => Some(LeakWindow {
            base: base.clone(),
            base_max_id,
            target: target.clone(),
            target_max_id,
        }),
        _ => None,
    };
    // The parse error names the file (or the stream) already.
    let census = if args.file.as_os_str() == "-" {
        leaktrail_watch::census_of_stream(
            &mut std::io::stdin().lock(),
            &args.name,
            &limits,
            window.as_ref(),
        )
    } else {
        leaktrail_watch::census_of_file(&args.file, &args.name, &limits, window.as_ref())
    }
    .map_err(anyhow::Error::msg)?;
    Ok(serde_json::to_string(&census)?)
}
