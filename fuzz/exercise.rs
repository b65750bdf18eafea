// What the commands do with snapshot bytes, for the fuzz target (`fuzz_targets/`) and for
// the regression test that replays the committed crashes (`tests/it/fuzz_regressions.rs`),
// which both `include!` this file so that they cannot drift apart.
//
// Input: one snapshot, or up to three separated by NUL bytes (BASE, TARGET, FINAL), so
// that `diff` and `leaks` see snapshots that differ.

/// Runs every analysis the commands run on `data`; panics on a bug.
pub fn exercise(data: &[u8]) {
    use leaktrail_analysis::{
        growing_collections, CensusLimits, Classification, LeakWindow, ClassRetainers, CollectionCensus,
        EarlierSnapshot, HeapAnalysis, LeakReport, ObjectRetainers, SnapshotCensus,
        SnapshotDiff, SnapshotDigest, Summary,
    };
    use leaktrail_snapshot::{EdgeFilter, HeapSnapshot, ParseOptions};

    const NAME: &str = "fuzz.heapsnapshot";

    // `open`'s reader, once in its usual blocks and once in blocks of a few bytes (a size
    // the input picks): block boundaries must not change what is accepted or parsed.
    fn open(bytes: &[u8], filter: Option<EdgeFilter>) -> Option<HeapSnapshot> {
        let block = 1 + bytes.len() % 61;
        let whole = HeapSnapshot::from_bytes_with(
            bytes,
            NAME,
            &ParseOptions {
                edge_filter: filter,
                ..Default::default()
            },
        );
        let blocks = HeapSnapshot::from_bytes_with(
            bytes,
            NAME,
            &ParseOptions {
                edge_filter: filter,
                block_bytes: Some(block),
                ..Default::default()
            },
        );
        match (whole, blocks) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.node_ids(), b.node_ids(), "block {block}");
                assert_eq!(a.self_sizes(), b.self_sizes(), "block {block}");
                assert_eq!(a.edge_count(), b.edge_count(), "block {block}");
                for e in 0..a.edge_count() as u32 {
                    assert_eq!(a.edge_target(e), b.edge_target(e), "block {block}");
                    assert_eq!(a.edge_name(e), b.edge_name(e), "block {block}");
                }
                for n in 0..a.node_count() as u32 {
                    assert_eq!(a.node_name(n), b.node_name(n), "block {block}");
                    assert_eq!(a.edges(n), b.edges(n), "block {block}");
                }
                Some(a)
            }
            (Err(_), Err(_)) => None,
            (a, b) => panic!(
                "read whole: {:?}; in blocks of {block}: {:?}",
                a.err().map(|e| e.to_string()),
                b.err().map(|e| e.to_string())
            ),
        }
    }
    /// Serialises as `--format json` does: every report is plain data, so a failure is a bug.
    fn json<T: serde::Serialize>(report: &T) {
        if let Err(e) = serde_json::to_string(report) {
            panic!("report does not serialise: {e}");
        }
    }

    let parts: Vec<&[u8]> = data.splitn(3, |&b| b == 0).collect();
    let Some(snaps) = parts
        .iter()
        .map(|p| open(p, None))
        .collect::<Option<Vec<HeapSnapshot>>>()
    else {
        return;
    };
    let (first, last) = (parts[0], parts[parts.len() - 1]);

    // summary --shallow, and the digests diff reads (with and without --listeners). A
    // filter may refuse what the whole parse takes (edges before nodes), never the reverse
    // of what it keeps.
    if let Some(s) = open(last, Some(Classification::EDGES_NEEDED)) {
        json(&Summary::of(&s, NAME));
    }
    let digest = |bytes: &[u8], filter| open(bytes, Some(filter)).map(|s| SnapshotDigest::of(s, NAME));
    for filter in [Classification::EDGES_NEEDED, SnapshotDigest::EDGES_NEEDED] {
        if let (Some(a), Some(b)) = (digest(first, filter), digest(last, filter)) {
            json(&SnapshotDiff::between(&a, &b));
        }
    }

    // summary with the graph, retainers and the watcher's census of the last snapshot.
    let final_snap = &snaps[snaps.len() - 1];
    let a = HeapAnalysis::new(final_snap);
    json(&Summary::with_graph(&a, NAME, 10));
    json(&SnapshotCensus::of(&a, NAME, &CensusLimits::default(), None));
    // The census with a leak window: every id of the input can fall inside it.
    let window = LeakWindow {
        base: "base".into(),
        base_max_id: 0,
        target: "target".into(),
        target_max_id: u32::MAX,
    };
    json(&SnapshotCensus::of(&a, NAME, &CensusLimits::default(), Some(&window)));
    let n = final_snap.node_count() as u32;
    for v in [0, 1, n / 2, n.saturating_sub(1)].into_iter().filter(|&v| v < n) {
        if let Some(r) = ObjectRetainers::find(&a, final_snap.node_id(v), 5) {
            json(&r);
        }
        if let Some(r) = ClassRetainers::find(&a, a.class_name(v), 5) {
            json(&r);
        }
    }

    // leaks: BASE and TARGET are the parts before FINAL (a part repeated when fewer),
    // with the collection censuses `leaks` takes from four snapshots on.
    let mut earlier = Vec::new();
    let mut censuses = Vec::new();
    for (i, p) in [parts[0], parts[parts.len().saturating_sub(2)]].iter().enumerate() {
        let Some(s) = open(p, None) else { return };
        censuses.push(if i == 0 {
            CollectionCensus::of(&s, Some(&HeapAnalysis::new(&s)))
        } else {
            CollectionCensus::of(&s, None)
        });
        earlier.push(EarlierSnapshot::of(s, NAME));
    }
    let mut report = LeakReport::find(&earlier, &a, NAME, 10);
    report.growing_collections = growing_collections(&censuses, &a, 10);
    let _ = (report.found_leak(), report.culprit());
    json(&report);
}

/// Refuses any single allocation over 256 MiB. libFuzzer's `-malloc_limit_mb` works only
/// under a sanitizer, and the inputs are a few KB: an allocation that large can only be
/// sized from an unchecked number in the input (a header count, #16), which is the bug to
/// catch. Refusing makes std report "memory allocation of N bytes failed" and abort.
struct CappedAlloc;

/// The largest allocation [`CappedAlloc`] grants.
const ALLOC_CAP: usize = 256 << 20;

// SAFETY: every call is forwarded to the system allocator unchanged, or refused with a
// null pointer, which the `GlobalAlloc` contract allows.
unsafe impl std::alloc::GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        if layout.size() > ALLOC_CAP {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout is passed on as is.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        if layout.size() > ALLOC_CAP {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout is passed on as is.
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: `ptr` came from the system allocator with this layout.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        if new_size > ALLOC_CAP {
            return std::ptr::null_mut();
        }
        // SAFETY: `ptr` came from the system allocator with this layout.
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;
