//! Every input the fuzzer ever crashed on (`fuzz/artifacts/parse_snapshot/`, kept in the
//! repository) and every seed, through the fuzz target's own code: fixed bugs stay fixed
//! even where the fuzzer does not run.

include!("../../fuzz/exercise.rs");

#[test]
fn past_fuzz_crashes_and_seeds_pass() {
    let _shared = crate::common::shared();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut tried = 0;
    for dir in ["seeds", "artifacts/parse_snapshot"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("directory entry").path();
            let data = std::fs::read(&path).expect("read");
            let outcome = std::panic::catch_unwind(|| exercise(&data));
            assert!(outcome.is_ok(), "{} fails again", path.display());
            tried += 1;
        }
    }
    assert!(tried > 0, "no seeds in {}", root.display());
}
