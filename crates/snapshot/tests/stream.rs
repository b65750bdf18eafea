//! A snapshot parsed from a stream of unknown length (a pipe from the inspector) is the
//! snapshot parsed from its file; a stream cut short or longer than its limit is an error.

use std::io::Read;

use leaktrail_snapshot::{HeapSnapshot, ParseOptions};

/// A reader that gives at most `step` bytes per call, as a pipe does.
struct Pipe<'a>(&'a [u8], usize);

impl Read for Pipe<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.len().min(out.len()).min(self.1);
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// Everything the parse gives, as text to compare.
fn digest(s: &HeapSnapshot) -> String {
    let mut out = format!("{} nodes, {} edges\n", s.node_count(), s.file_edge_count());
    for v in 0..s.node_count() as u32 {
        out.push_str(&format!(
            "{} {:?} {} {}:",
            s.node_id(v),
            s.node_kind(v),
            s.node_name(v),
            s.self_size(v)
        ));
        for e in s.edges(v) {
            out.push_str(&format!(" {:?}>{}", s.edge_kind(e), s.edge_target(e)));
        }
        out.push('\n');
    }
    out
}

const SEEDS: [&[u8]; 3] = [
    include_bytes!("../../../fuzz/seeds/small.heapsnapshot"),
    include_bytes!("../../../fuzz/seeds/reordered.heapsnapshot"),
    include_bytes!("../../../fuzz/seeds/leak-final.heapsnapshot"),
];

#[test]
fn a_stream_parses_as_its_file_does_whatever_the_pieces() {
    for seed in SEEDS {
        let whole = HeapSnapshot::from_bytes(seed, "seed").expect("the seed parses");
        for (step, block) in [(1, 1), (7, 3), (64, 16), (1 << 20, 1 << 20)] {
            let options = ParseOptions {
                block_bytes: Some(block),
                ..ParseOptions::default()
            };
            let streamed =
                HeapSnapshot::from_stream(&mut Pipe(seed, step), "pipe", 1 << 30, &options)
                    .expect("the stream parses");
            assert_eq!(
                digest(&streamed),
                digest(&whole),
                "step {step}, block {block}"
            );
            assert_eq!(streamed.file_size(), seed.len() as u64);
        }
    }
}

#[test]
fn a_stream_cut_short_or_over_its_limit_is_an_error_that_names_it() {
    let seed = SEEDS[0];
    for cut in [1, seed.len() / 3, seed.len() - 2] {
        let err = HeapSnapshot::from_stream(
            &mut Pipe(&seed[..cut], 5),
            "inspector of pid 42",
            1 << 30,
            &ParseOptions::default(),
        )
        .expect_err("a cut stream does not parse");
        assert!(err.to_string().contains("inspector of pid 42"), "{err}");
    }
    let err = HeapSnapshot::from_stream(
        &mut Pipe(seed, 5),
        "pipe",
        seed.len() - 10,
        &ParseOptions::default(),
    )
    .expect_err("over the limit");
    assert!(err.to_string().contains("longer than its limit"), "{err}");
    // Exactly at the limit is fine.
    HeapSnapshot::from_stream(
        &mut Pipe(seed, 5),
        "pipe",
        seed.len(),
        &ParseOptions::default(),
    )
    .expect("at the limit");
}
