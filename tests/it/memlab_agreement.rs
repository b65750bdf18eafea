//! leaktrail's retained sizes agree with memlab's on a real scenario snapshot: the top 20
//! objects by memlab's retained size have exactly the same retained size in leaktrail.
//!
//! memlab is installed by `.ci/run` into `tools/memlab/node_modules` (`npm ci`). Under CI
//! (`CI` set) the test fails without it; elsewhere it says it was skipped.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::*;

#[test]
fn top_20_retained_sizes_match_memlab() {
    let _shared = crate::common::shared();
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/memlab");
    if !tools.join("node_modules/@memlab/core").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "memlab is not installed: .ci/run must run `npm ci` in tools/memlab"
        );
        eprintln!("SKIPPED: memlab not installed (cd tools/memlab && npm ci --ignore-scripts)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let snaps = scenario_snapshots(dir.path(), "stream-registry-no-ttl", &[1200]);
    let out = Command::new(node())
        .arg(tools.join("top-retained.js"))
        .arg(&snaps[0])
        .arg("20")
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let top: serde_json::Value = serde_json::from_slice(&out.stdout).expect("memlab JSON");
    let top = top.as_array().expect("array");
    assert_eq!(top.len(), 20);
    for m in top {
        let id = m["id"].as_u64().expect("id");
        let ours = leaktrail_json(&[
            "retainers",
            s(&snaps[0]),
            "--id",
            &id.to_string(),
            "--paths",
            "1",
        ]);
        assert_eq!(
            ours["object"]["retained_size"], m["retained_size"],
            "@{id} {}: leaktrail vs memlab",
            m["name"]
        );
    }
}
