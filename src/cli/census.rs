//! `leaktrail census FILE` (hidden): the census a watcher stores for one snapshot, as JSON
//! on stdout. `watch` runs it in a child process for each snapshot it takes
//! (`leaktrail_watch::CensusWorker`), so that the parse's memory is never the watcher's.

use std::path::PathBuf;

use clap::Args;

use leaktrail_analysis::CensusLimits;

/// Arguments of `census` (the ones `CensusWorker::args` passes).
#[derive(Args, Debug)]
pub struct CensusArgs {
    /// The snapshot.
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
    /// Collections kept.
    #[arg(long)]
    collections: usize,
    /// Collections with fewer entries are left out.
    #[arg(long)]
    min_collection_entries: u64,
}

/// The census of `args.file`, as JSON.
pub fn run(args: &CensusArgs) -> anyhow::Result<String> {
    let limits = CensusLimits {
        classes_by_self_size: args.classes,
        classes_by_retained_size: args.retained_classes,
        collections: args.collections,
        min_collection_entries: args.min_collection_entries,
    };
    // The parse error names the file already.
    let census = leaktrail_watch::census_of_file(&args.file, &args.name, &limits)
        .map_err(anyhow::Error::msg)?;
    Ok(serde_json::to_string(&census)?)
}
