//! Prints the top N nodes by retained size as JSON lines `{id, name, retained}`:
//! `cargo run --release -p leaktrail-graph --example top_retained -- FILE [N]`.
use leaktrail_graph::HeapGraph;
use leaktrail_snapshot::{HeapSnapshot, NodeKind, ParseOptions};

fn hwm(label: &str) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let v: Vec<&str> = s
        .lines()
        .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
        .collect();
    eprintln!("{label}: {}", v.join(" ").replace('\t', " "));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: top_retained FILE [N]")?;
    let top: usize = std::env::args().nth(2).map_or(Ok(30), |s| s.parse())?;
    let t = std::time::Instant::now();
    let snap = HeapSnapshot::open(path.as_ref(), &ParseOptions::default())?;
    let parsed = t.elapsed();
    hwm("after parse");
    let mut dom = HeapGraph::new(&snap).dominators();
    hwm("after dominators");
    let retained = dom.retained_sizes(|n| snap.self_size(n) as u64);
    eprintln!(
        "parse {:.3} s, dominators+retained {:.3} s",
        parsed.as_secs_f64(),
        (t.elapsed() - parsed).as_secs_f64()
    );
    let mut nodes: Vec<u32> = (1..snap.node_count() as u32)
        .filter(|&n| snap.node_kind(n) != NodeKind::Synthetic)
        .collect();
    nodes.sort_by_key(|&n| std::cmp::Reverse(retained.get(n)));
    for &n in nodes.iter().take(top) {
        println!(
            "{{\"id\":{},\"name\":{:?},\"retained\":{}}}",
            snap.node_id(n),
            snap.node_name(n).chars().take(40).collect::<String>(),
            retained.get(n)
        );
    }
    eprintln!("root retained {}", retained.get(0));
    Ok(())
}
