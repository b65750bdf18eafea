//! Prints the memory a parse takes: `cargo run --release --example rss_probe -- FILE [all|none]`.
use leaktrail_snapshot::{HeapSnapshot, NodeKind, ParseOptions};

fn status(label: &str) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let pick: Vec<&str> = s
        .lines()
        .filter(|l| {
            l.starts_with("VmRSS")
                || l.starts_with("RssAnon")
                || l.starts_with("RssFile")
                || l.starts_with("VmHWM")
        })
        .collect();
    eprintln!("{label}: {}", pick.join(" | ").replace('\t', " "));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: rss_probe FILE [all|none]")?;
    let all = std::env::args().nth(2).as_deref() == Some("all");
    status("start");
    let t = std::time::Instant::now();
    let filter: fn(NodeKind, leaktrail_snapshot::EdgeKind, NodeKind) -> bool = |_, _, _| false;
    let opts = ParseOptions {
        progress: None,
        edge_filter: if all { None } else { Some(filter) },
        ..Default::default()
    };
    let snap = HeapSnapshot::open(path.as_ref(), &opts)?;
    eprintln!(
        "parsed in {:.3} s: {} nodes, {} edges kept, {} MB held",
        t.elapsed().as_secs_f64(),
        snap.node_count(),
        snap.edge_count(),
        snap.heap_bytes() >> 20
    );
    status("after parse");
    Ok(())
}
