//! Golden output of the snapshot commands: `summary`, `diff` (two files and `--lane-dir`),
//! `leaks`, `retainers` and `trend DIR`, each as a table, Markdown and JSON, on the small
//! hand-written snapshots kept in `fuzz/seeds/`. Every output is compared with its reviewed
//! file in `tests/snapshots/` (insta), so a change in what a command prints shows as a
//! diff there. CONTRIBUTING.md says how to accept one.
//!
//! The output is made deterministic before it is compared: the commands run in a fresh
//! folder with relative file names, without colour, and [`normalise`] replaces what still
//! varies from run to run.

use std::path::Path;
use std::process::Command;

/// Node's name for the snapshots of one process (PID 4242), an hour apart from 10:00 UTC.
fn node_name(i: usize) -> String {
    format!("Heap.20261201.1{i}0000.4242.0.00{}.heapsnapshot", i + 1)
}

/// Writes the fixtures into `dir`: `small.heapsnapshot` (four nodes) and, in `dir/lane/`,
/// the three snapshots of `leak-three.heapsnapshot` (a `StreamRegistry` whose `Map` keeps
/// two more `StreamEntry` objects each time; the seed holds them separated by NUL bytes)
/// under Node's file names. Returns the three names, relative to `dir`.
fn fixtures(dir: &Path) -> Vec<String> {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    std::fs::copy(
        seeds.join("small.heapsnapshot"),
        dir.join("small.heapsnapshot"),
    )
    .expect("copy small.heapsnapshot");
    let three = std::fs::read(seeds.join("leak-three.heapsnapshot")).expect("read leak-three");
    let parts: Vec<&[u8]> = three.split(|&b| b == 0).collect();
    assert_eq!(parts.len(), 3, "leak-three holds three snapshots");
    std::fs::create_dir(dir.join("lane")).expect("lane dir");
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let name = format!("lane/{}", node_name(i));
            std::fs::write(dir.join(&name), part).expect("write snapshot");
            name
        })
        .collect()
}

/// Makes output comparable across runs and machines. Replaced:
/// - the folder the commands ran in (absolute, and its canonical form): `[DIR]`;
/// - the time `trend` made its report, in its head (`at 2026-12-06 16:36:39 UTC;`) and in
///   JSON (`"generated_at": 1796…`): `[NOW]`.
///
/// Nothing else varies: sizes, counts, ids and the fixtures' times are fixed.
fn normalise(text: &str, dir: &Path) -> String {
    let mut text = text.to_owned();
    for d in [dir.canonicalize().ok(), Some(dir.to_path_buf())]
        .into_iter()
        .flatten()
    {
        text = text.replace(&d.display().to_string(), "[DIR]");
    }
    let stamp = regex::Regex::new(r"at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC;").expect("regex");
    let text = stamp.replace_all(&text, "at [NOW];");
    let generated = regex::Regex::new(r#""generated_at": \d+"#).expect("regex");
    generated
        .replace_all(&text, r#""generated_at": "[NOW]""#)
        .into_owned()
}

/// Runs the built `leaktrail` in `dir` and returns its normalised standard output;
/// fails the test when it does not exit with `code`.
fn leaktrail(dir: &Path, args: &[&str], code: i32) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_leaktrail"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("leaktrail runs");
    assert!(
        out.status.code() == Some(code),
        "leaktrail {args:?} exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    normalise(&String::from_utf8_lossy(&out.stdout), dir)
}

/// Checks `args` in the three formats against `<name>-table`, `<name>-markdown` and
/// `<name>-json`; each run must exit with `code`.
fn golden_formats(dir: &Path, name: &str, args: &[&str], code: i32) {
    for format in ["table", "markdown", "json"] {
        let mut all = args.to_vec();
        all.extend(["--format", format]);
        let out = leaktrail(dir, &all, code);
        insta::assert_snapshot!(format!("{name}-{format}"), out, &args.join(" "));
    }
}

#[test]
fn snapshot_commands_print_their_golden_output() {
    let _shared = crate::common::shared();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let snaps = fixtures(dir);
    let [first, _, last] = [&snaps[0], &snaps[1], &snaps[2]].map(String::as_str);

    golden_formats(dir, "summary-small", &["summary", "small.heapsnapshot"], 0);
    golden_formats(dir, "summary-leak", &["summary", last, "--top", "5"], 0);
    golden_formats(
        dir,
        "summary-shallow",
        &["summary", last, "--shallow", "--top", "3"],
        0,
    );
    golden_formats(dir, "diff", &["diff", first, last], 0);
    golden_formats(dir, "diff-lane-dir", &["diff", "--lane-dir", "lane"], 0);
    let all: Vec<&str> = std::iter::once("leaks")
        .chain(snaps.iter().map(String::as_str))
        .collect();
    golden_formats(dir, "leaks", &all, 1);
    golden_formats(
        dir,
        "retainers-class",
        &["retainers", last, "--class", "StreamEntry"],
        0,
    );
    golden_formats(dir, "retainers-id", &["retainers", last, "--id", "203"], 0);
    golden_formats(dir, "trend-dir", &["trend", "lane"], 0);
}

#[test]
fn the_normaliser_replaces_the_folder_and_the_time_of_day() {
    let _shared = crate::common::shared();
    let dir = Path::new("/tmp/x1");
    assert_eq!(
        normalise(
            "Snapshots in /tmp/x1/lane; 1 target at 2026-12-06 16:36:39 UTC; floor\n\"generated_at\": 1796574999000,",
            dir
        ),
        "Snapshots in [DIR]/lane; 1 target at [NOW]; floor\n\"generated_at\": \"[NOW]\","
    );
}
