//! `leaktrail retainers SNAP (--id N | --class NAME)`.

use std::path::PathBuf;

use clap::Args;

use leaktrail_analysis::{ClassRetainers, HeapAnalysis, ObjectRetainers};

use super::{load, Common};

/// Arguments of `retainers`.
#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["id", "class"]))]
pub struct RetainersArgs {
    /// The .heapsnapshot file.
    snapshot: PathBuf,

    /// The object's id, as DevTools shows it after `@`.
    #[arg(long)]
    id: Option<u32>,

    /// A class name as `summary` prints it (`StreamEntry`, `onConfigChanged()`, `(string)`).
    #[arg(long)]
    class: Option<String>,

    /// Paths to show (for --class: path shapes).
    #[arg(long, default_value_t = 5)]
    paths: usize,
}

/// Runs `retainers` and returns the rendered report.
pub fn run(args: &RetainersArgs, common: &Common) -> anyhow::Result<String> {
    let snap = load::snapshot(&args.snapshot, common.progress, None)?;
    let analysis = HeapAnalysis::new(&snap);
    let file = args.snapshot.display();
    if let Some(id) = args.id {
        let r = ObjectRetainers::find(&analysis, id, args.paths)
            .ok_or_else(|| anyhow::anyhow!("{file}: no object with id @{id}"))?;
        return Ok(leaktrail_report::render_object_retainers(&r, common.render));
    }
    let class = args.class.as_deref().unwrap_or_default();
    let r = ClassRetainers::find(&analysis, class, args.paths).ok_or_else(|| {
        anyhow::anyhow!("{file}: no class named {class:?} (see `leaktrail summary`)")
    })?;
    Ok(leaktrail_report::render_class_retainers(&r, common.render))
}
