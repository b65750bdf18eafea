//! `leaktrail serve` on a real store: every route, bad parameters, the bearer token, the
//! loopback rule, `/metrics` through a Prometheus parser, the dashboard in Chromium.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::http::{request, serve};
use common::store::{build_store, StoreFixture};

/// One store for every test here: stream-registry-no-ttl (leaks StreamEntry), sampled
/// over 2000 iterations with 10 snapshots.
fn fixture() -> &'static StoreFixture {
    static FIXTURE: OnceLock<StoreFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("serve-fixture");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("fixture dir");
        build_store(
            &root,
            "stream-registry-no-ttl",
            2000,
            &[0, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800],
        )
    })
}

#[test]
fn scratch() {
    let f = fixture();
    eprintln!(
        "store {} samples {} snaps {:?}",
        f.dir.display(),
        f.samples.len(),
        f.snapshot_ids
    );
    let s = serve(&f.dir, &[]);
    let r = request(&s.addr, "GET", "/api/memory/snapshots", None);
    eprintln!("{} {}", r.status, r.body);
}
