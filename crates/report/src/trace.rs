//! Renders a `leaktrail trace` report.

use comfy_table::Cell;

use leaktrail_analysis::units::{agree, human_bytes, plural_s, signed_bytes};
use leaktrail_analysis::GrowthKind;
use leaktrail_trace::files::Attribution;
use leaktrail_trace::lane::node_script;
use leaktrail_trace::{ProcessSummary, ThreadSummary, TraceReport};

use crate::document::{json, Doc};
use crate::numbers::{group_digits, signed_count};
use crate::{Format, RenderOptions};

/// One word of a command line with a path shortened to its file name: `/w/jest.js` is
/// `jest.js`, `--outputFile=/tmp/x/r.json` is `--outputFile=r.json`,
/// `node_modules/jest/bin/jest.js` is `jest.js`. A relative path outside `node_modules`
/// stays as it was typed (`other/test/`, `--config packages/a/jest.config.js`): it is
/// short, and its file name alone would not tell two suites of one project apart (two
/// packages' `jest.config.js`, `test/` and `other/test/`).
fn short_word(word: &str) -> String {
    let base = |p: &str| {
        let dependency = p.starts_with("node_modules/") || p.contains("/node_modules/");
        if !p.starts_with('/') && !dependency {
            return p.to_owned();
        }
        // A directory keeps its trailing slash (`test/`), which has no file name after it.
        let dir = p.len() > 1 && p.ends_with('/');
        let name = p.trim_end_matches('/').rsplit('/').next().unwrap_or(p);
        if dir {
            format!("{name}/")
        } else {
            name.to_owned()
        }
    };
    match word.split_once('=') {
        Some((name, value)) if word.starts_with('-') => format!("{name}={}", base(value)),
        _ if word.starts_with('-') => word.to_owned(),
        _ => base(word),
    }
}

/// A command line short enough for a table cell: absolute paths and dependencies' by their
/// file name, at most 60 characters. An argument with spaces is shortened word by word: it
/// is a shell script (`sh -c "jest --json"`) or a whole command line a process wrote over
/// its arguments (npm sets its title to `npm run test -- …`), and its last path alone
/// would hide what ran.
fn short_command(args: &[String]) -> String {
    let joined = args
        .iter()
        .flat_map(|a| a.split_whitespace())
        .map(short_word)
        .collect::<Vec<_>>()
        .join(" ");
    if joined.chars().count() > 60 {
        format!("{}…", joined.chars().take(59).collect::<String>())
    } else {
        joined
    }
}

/// The command cell: what the process is in a test run, when known, then its command.
/// A runner's worker shows Node's own options as `…`: Vitest starts its workers with
/// several, which would push the script out of the cell (`node --test` keeps its options:
/// `--test` is what it runs).
fn command_cell(p: &leaktrail_trace::ProcessRecord) -> String {
    let Some(role) = &p.role else {
        return short_command(&p.command);
    };
    let mut words = vec![format!("[{}]", role.label())];
    let script = node_script(&p.command)
        .filter(|_| p.node && role.runner != "node --test")
        .and_then(|s| p.command.iter().skip(1).position(|a| a == s));
    match script {
        Some(i) if i > 0 => {
            words.extend(p.command.first().cloned());
            words.push("…".to_owned());
            words.extend(p.command.iter().skip(1 + i).cloned());
        }
        _ => words.extend(p.command.iter().cloned()),
    }
    short_command(&words)
}

fn seconds(t: Option<f64>) -> String {
    t.map_or("-".to_owned(), |t| format!("{t:.1} s"))
}

fn verdict_label(kind: GrowthKind) -> &'static str {
    leaktrail_trace::growth_label(kind)
}

fn exit_text(r: &TraceReport) -> String {
    match (r.exit.code, r.exit.signal) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("signal {s} (status {})", r.exit.status),
        (None, None) => "an unknown status".to_owned(),
    }
}

/// Renders a [`TraceReport`].
pub fn render_trace(r: &TraceReport, opts: RenderOptions) -> String {
    if opts.format == Format::Json {
        return json("leaktrail.trace/1", r);
    }
    let mut d = Doc::new(opts);
    let md = opts.format == Format::Markdown;
    let command = r.command.join(" ");
    if md {
        d.line(&format!("## Trace: `{command}`\n"));
    }
    let snapshots = match (&r.snapshot_cost, r.snapshot_every_seconds) {
        (_, None) => "no snapshots".to_owned(),
        (Some(c), Some(s)) if c.mode == "files" => {
            format!(
                "test workers snapshotted between files (--snapshot-every {s} s for the others)"
            )
        }
        (_, Some(s)) => format!("snapshots every {s} s"),
    };
    let exit = exit_text(r);
    let threads = match r.thread_count {
        0 => String::new(),
        1 => " and 1 worker thread in a lane of its own".to_owned(),
        n => format!(" and {n} worker threads in lanes of their own"),
    };
    d.line(&format!(
        "{} after {:.1} s; {} process{} in {} lane{}{threads}, tree peak RSS {}; sampled every {} s, {snapshots}.",
        if md {
            let mut c = exit.chars();
            c.next().map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
        } else {
            format!("Trace of `{command}`: {exit}")
        },
        r.wall_seconds,
        r.process_count,
        agree(r.process_count, "", "es"),
        r.lanes.len(),
        plural_s(r.lanes.len()),
        human_bytes(r.peak_tree_rss),
        r.interval_seconds
    ));
    if let Some(c) = &r.snapshot_cost {
        d.line(&c.sentence());
    }
    if !r.signals_forwarded.is_empty() {
        let list: Vec<String> = r.signals_forwarded.iter().map(i32::to_string).collect();
        d.line(&format!(
            "Signals passed on to the command: {}.",
            list.join(", ")
        ));
    }
    if let Some(g) = &r.fail_on_growth {
        let over = !g.exceeded.is_empty() || !g.exceeded_threads.is_empty();
        let text = if !over {
            format!(
                "No process grew by more than {} (--fail-on-growth).",
                human_bytes(g.limit)
            )
        } else {
            let mut who = Vec::new();
            if !g.exceeded.is_empty() {
                let pids: Vec<String> = g.exceeded.iter().map(i32::to_string).collect();
                who.push(format!(
                    "PID{} {} (RSS)",
                    plural_s(g.exceeded.len()),
                    pids.join(", ")
                ));
            }
            if !g.exceeded_threads.is_empty() {
                who.push(format!(
                    "{} (its own heap, after its start-up)",
                    g.exceeded_threads.join(", ")
                ));
            }
            format!(
                "{} grew by more than {} (--fail-on-growth){}.",
                who.join("; "),
                human_bytes(g.limit),
                if g.failed {
                    ": trace fails (exit 1)"
                } else {
                    "; the command's own failing status is kept"
                }
            )
        };
        d.emphasis(&text, over);
    }

    if !r.unseen.is_empty() {
        d.heading("Not seen");
        for l in &r.unseen {
            d.emphasis(&format!("- {l}"), true);
        }
    }
    d.heading(&format!(
        "Processes by lane (baseline: RSS once start-up is over, at {} s of age or, for a shorter process, where its RSS levelled off; growth: peak from then on minus baseline; net: last minus baseline; slope: Theil–Sen)",
        r.settle_seconds
    ));
    let lazy = r.snapshot_cost.as_ref().is_some_and(|c| c.mode == "files");
    let mut rows = Vec::new();
    for lane in &r.lanes {
        for p in &lane.processes {
            let pr = &p.process;
            rows.push(vec![
                Cell::new(&lane.lane),
                Cell::new(pr.pid),
                Cell::new(pr.ppid),
                Cell::new(command_cell(pr)),
                Cell::new(seconds(Some(pr.start))),
                Cell::new(if pr.outlived_command {
                    "outlived".to_owned()
                } else {
                    seconds(pr.end)
                }),
                Cell::new(pr.samples.len()),
                Cell::new(human_bytes(pr.peak_rss)),
                Cell::new(p.baseline.map_or("-".to_owned(), |b| human_bytes(b.rss))),
                p.growth.map_or(Cell::new("-"), |g| d.delta_cell(g)),
                p.net_growth.map_or(Cell::new("-"), |g| d.delta_cell(g)),
                Cell::new(p.slope.map_or("-".to_owned(), |s| {
                    format!("{}/s", signed_bytes(s.slope as i64))
                })),
                Cell::new(pr.snapshots.len() + pr.censuses.len()),
                Cell::new(match (&p.heap, &p.heap_error, &p.census_heap) {
                    (Some(h), _, _) => verdict_label(h.diff.verdict.kind).to_owned(),
                    (None, Some(_), _) => "diff failed".to_owned(),
                    (None, None, Some(c)) => verdict_label(c.diff.verdict.kind).to_owned(),
                    // Snapshotted lazily at file boundaries: a test worker with none did
                    // not grow (said in full under what was not measured).
                    (None, None, None)
                        if lazy
                            && pr.snapshots.is_empty()
                            && pr.censuses.is_empty()
                            && !leaktrail_trace::boundaries::skipped_a_snapshot(&pr.notes, 0)
                            && pr
                                .role
                                .as_ref()
                                .is_some_and(|r| r.runs_tests && !r.in_threads) =>
                    {
                        "did not grow".to_owned()
                    }
                    (None, None, None) => "-".to_owned(),
                }),
            ]);
        }
    }
    d.table(
        &[
            "lane",
            "PID",
            "parent",
            "command",
            "start",
            "end",
            "samples",
            "peak RSS",
            "baseline",
            "growth",
            "net",
            "slope",
            "snapshots",
            "heap",
        ],
        rows,
        4,
    );

    if r.thread_count > 0 {
        threads_table(&mut d, r);
    }

    for lane in &r.lanes {
        for p in &lane.processes {
            heap_section(&mut d, &lane.lane, p);
            census_section(&mut d, &lane.lane, p);
            for t in &p.threads {
                thread_heap_section(&mut d, t);
            }
        }
    }

    if !r.files.is_empty() {
        d.heading(
            "Test files (growth: own process; in its worker, from the file's start to its end; or the tree's RSS over the file's time window)",
        );
        let rows = r
            .files
            .iter()
            .map(|f| {
                vec![
                    Cell::new(short_command(std::slice::from_ref(&f.span.file))),
                    Cell::new(match &f.span.worker {
                        Some(w) => w.runner.clone(),
                        None => format!("{:?}", f.span.source).to_lowercase(),
                    }),
                    Cell::new(f.span.status.as_deref().unwrap_or("-")),
                    Cell::new(match f.attribution {
                        Attribution::OwnProcess => "own process".to_owned(),
                        Attribution::Worker if f.concurrent_files > 0 => format!(
                            "in its worker (RSS shared with {} thread{})",
                            f.concurrent_files,
                            plural_s(f.concurrent_files)
                        ),
                        Attribution::Worker => "in its worker".to_owned(),
                        Attribution::Window => "time window".to_owned(),
                        Attribution::WindowShared => {
                            format!("window shared with {}", f.concurrent_files)
                        }
                        Attribution::TooShort => "shorter than a sample".to_owned(),
                        Attribution::NoTimes => "no times".to_owned(),
                    }),
                    Cell::new(match (f.pid, f.thread) {
                        (Some(p), Some(t)) if t > 0 => format!("{p} thread {t}"),
                        (Some(p), _) => p.to_string(),
                        (None, _) => "-".to_owned(),
                    }),
                    Cell::new(seconds(f.span.start)),
                    Cell::new(seconds(f.span.end)),
                    f.rss_delta.map_or(Cell::new("-"), |g| d.delta_cell(g)),
                    f.heap_delta.map_or(Cell::new("-"), |g| d.delta_cell(g)),
                    Cell::new(f.peak_rss.map_or("-".to_owned(), human_bytes)),
                ]
            })
            .collect();
        d.table(
            &[
                "file",
                "source",
                "status",
                "attribution",
                "PID",
                "start",
                "end",
                "RSS growth",
                "heap kept",
                "peak RSS",
            ],
            rows,
            4,
        );
    }

    allocation_sections(&mut d, r, opts.top);

    d.heading("Not measured");
    let lines: Vec<String> = r.not_measured.iter().map(|l| format!("- {l}")).collect();
    for l in lines {
        d.line(&l);
    }
    if !r.warnings.is_empty() {
        d.heading("Warnings");
        let lines: Vec<String> = r.warnings.iter().map(|l| format!("- {l}")).collect();
        for l in lines {
            d.line(&l);
        }
    }
    if let Some(dir) = &r.out_dir {
        let snapshots = r.processes().any(|p| !p.process.snapshots.is_empty())
            || r.threads().any(|t| !t.thread.snapshots.is_empty());
        d.line(&if snapshots {
            format!("\nKept in {dir}: trace.json, report.md and the snapshots as <lane>/<pid>-<n>.heapsnapshot (`leaktrail diff --lane-dir {dir}/<lane>` compares a lane's again).")
        } else {
            format!("\nKept in {dir}: trace.json and report.md.")
        });
    }
    d.out
}

/// The worker threads that ran test files, a lane each, with their own heap.
fn threads_table(d: &mut Doc, r: &TraceReport) {
    d.heading("Worker threads, each a lane of its own (heap: the thread's own V8 heap, sampled inside it; kept: after a full GC, its last file's end minus its first file's start; RSS is per process: a thread has none of its own)");
    let rows = r
        .threads()
        .map(|t| {
            let tr = &t.thread;
            vec![
                Cell::new(&tr.lane),
                Cell::new(tr.pid),
                Cell::new(tr.thread),
                Cell::new(tr.files.len()),
                Cell::new(seconds(Some(tr.start))),
                Cell::new(seconds(Some(tr.end))),
                Cell::new(tr.heap_samples.len()),
                Cell::new(human_bytes(tr.peak_heap)),
                t.heap_growth.map_or(Cell::new("-"), |g| d.delta_cell(g)),
                Cell::new(t.heap_slope.map_or("-".to_owned(), |s| {
                    format!("{}/s", signed_bytes(s.slope as i64))
                })),
                Cell::new(tr.snapshots.len() + tr.censuses.len()),
                Cell::new(match (&t.heap_error, t.verdict.kind) {
                    (Some(_), _) => "diff failed",
                    (None, leaktrail_trace::ThreadGrowth::Unknown) => "-",
                    (None, kind) => kind.label(),
                }),
            ]
        })
        .collect();
    d.table(
        &[
            "lane",
            "PID",
            "thread",
            "files",
            "start",
            "end",
            "heap samples",
            "peak heap",
            "heap kept",
            "heap slope",
            "snapshots",
            "verdict",
        ],
        rows,
        3,
    );
}

/// A worker thread's verdict on its own heap, and its heap diff's top classes.
fn thread_heap_section(d: &mut Doc, t: &ThreadSummary) {
    let tr = &t.thread;
    if let Some(e) = &t.heap_error {
        d.heading(&format!(
            "{} · PID {} thread {}: heap diff failed",
            tr.lane, tr.pid, tr.thread
        ));
        d.line(e);
        return;
    }
    if !t.verdict.grew {
        return;
    }
    d.heading(&format!(
        "{} · PID {} thread {} ({} file{}): {}",
        tr.lane,
        tr.pid,
        tr.thread,
        tr.files.len(),
        if tr.files.len() == 1 { "" } else { "s" },
        t.verdict.kind.label()
    ));
    d.emphasis(&t.verdict.sentence, true);
    if d.opts.format == Format::Markdown {
        d.line("");
    }
    if let Some(h) = &t.heap {
        class_table(d, &h.diff);
    } else if let Some(c) = &t.census_heap {
        census_class_table(d, &c.diff);
    }
}

/// The heap diff of one process's streamed snapshots' censuses (`--no-raw-snapshots`).
fn census_section(d: &mut Doc, lane: &str, p: &ProcessSummary) {
    let Some(c) = &p.census_heap else { return };
    let pr = &p.process;
    d.heading(&format!(
        "{lane} · PID {} ({}): heap at {:.1} s vs {:.1} s, censuses of {} (no snapshot file), {}",
        pr.pid,
        command_cell(pr),
        c.before_t,
        c.after_t,
        compared(
            c.reference.as_deref(),
            pr.censuses.len(),
            "streamed snapshot"
        ),
        signed_bytes(c.diff.total_delta)
    ));
    d.emphasis(
        &c.diff.verdict.sentence,
        c.diff.verdict.kind != GrowthKind::NoSignificantGrowth,
    );
    if d.opts.format == Format::Markdown {
        d.line("");
    }
    census_class_table(d, &c.diff);
}

/// What a heading's diff compared: `3 snapshots`, or a worker's one snapshot and its
/// runner's reference baseline (`reference`: whose).
fn compared(reference: Option<&str>, n: usize, what: &str) -> String {
    match reference {
        Some(who) => format!(
            "its one {what} vs its runner's reference baseline ({who}, before its first file)"
        ),
        None => format!("{n} {what}{}", plural_s(n)),
    }
}

/// The heap diff of one process: verdict and top classes.
fn heap_section(d: &mut Doc, lane: &str, p: &ProcessSummary) {
    let pr = &p.process;
    if let Some(e) = &p.heap_error {
        d.heading(&format!("{lane} · PID {}: heap diff failed", pr.pid));
        d.line(e);
        return;
    }
    let Some(h) = &p.heap else { return };
    let diff = &h.diff;
    d.heading(&format!(
        "{lane} · PID {} ({}): heap at {:.1} s vs {:.1} s, {}, {} → {} ({})",
        pr.pid,
        command_cell(pr),
        h.before.taken.t,
        h.after.taken.t,
        compared(h.reference.as_deref(), pr.snapshots.len(), "snapshot"),
        human_bytes(diff.before.total_self_size),
        human_bytes(diff.after.total_self_size),
        signed_bytes(diff.total_delta)
    ));
    d.emphasis(
        &diff.verdict.sentence,
        diff.verdict.kind != GrowthKind::NoSignificantGrowth,
    );
    if d.opts.format == Format::Markdown {
        d.line("");
    }
    class_table(d, diff);
}

/// The classes that grew most between two censuses.
fn census_class_table(d: &mut Doc, diff: &leaktrail_analysis::CensusDiff) {
    class_rows(d, diff.classes.iter().map(|c| &c.change));
}

/// Where the memory each grown worker kept was allocated, by V8's sampling heap profiler:
/// a section per worker and file after which it grew, with its top `top` sites.
fn allocation_sections(d: &mut Doc, r: &TraceReport, top: usize) {
    for k in &r.allocations {
        d.heading(&format!(
            "{} after {}: where the memory it kept was allocated (V8's sampling heap profiler, live after a full GC)",
            k.worker(),
            short_command(std::slice::from_ref(&k.file))
        ));
        let since = match &k.since {
            Some(f) => format!(
                "since the previous read, after {}",
                short_command(std::slice::from_ref(f))
            ),
            None => "since its first file's start".to_owned(),
        };
        d.line(&format!(
            "Heap {} {since}; the samples allocated since and still live stand for {} ({} samples); read in {:.2} s. A site is the first function of the project's own code on the allocation's stack (its line is where the function begins); who retains the memory is a heap snapshot's to say (--snapshot-every).",
            signed_bytes(k.heap as i64 - k.base_heap as i64),
            human_bytes(k.sampled_bytes),
            k.samples,
            k.read_seconds
        ));
        let rows = k
            .sites
            .iter()
            .take(top)
            .map(|s| {
                vec![
                    Cell::new(s.label()),
                    Cell::new(human_bytes(s.bytes)),
                    Cell::new(s.samples),
                ]
            })
            .collect::<Vec<_>>();
        if !rows.is_empty() {
            // A Markdown table needs a blank line after the paragraph.
            d.line("");
            d.table(&["allocated in", "live (sampled)", "samples"], rows, 1);
        }
    }
}

/// The classes that grew most between two snapshots.
fn class_table(d: &mut Doc, diff: &leaktrail_analysis::SnapshotDiff) {
    class_rows(d, diff.classes.iter().map(|c| &c.change));
}

/// A table of the classes of `changes` that grew, as the diff lists them.
fn class_rows<'a>(d: &mut Doc, changes: impl Iterator<Item = &'a leaktrail_analysis::ClassChange>) {
    let rows = changes
        .filter(|c| c.size_delta > 0)
        .map(|c| {
            vec![
                Cell::new(&c.class),
                Cell::new(c.family.label()),
                Cell::new(signed_count(c.count_delta)),
                d.delta_cell(c.size_delta),
                Cell::new(format!(
                    "{} / {}",
                    group_digits(c.count_after),
                    human_bytes(c.size_after)
                )),
            ]
        })
        .collect::<Vec<_>>();
    if !rows.is_empty() {
        d.table(
            &[
                "class",
                "family",
                "Δ count",
                "Δ size",
                "after (count / size)",
            ],
            rows,
            2,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_commands() {
        let args: Vec<String> = [
            "/usr/bin/node",
            "--expose-gc",
            "/w/scenarios/runner.js",
            "x.js",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(short_command(&args), "node --expose-gc runner.js x.js");
        let dir: Vec<String> = ["node", "--test", "examples/node-test/"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(short_command(&dir), "node --test examples/node-test/");
        // Two suites of one project, told apart by their relative paths; the runner in
        // node_modules and an absolute path by their file names.
        let other: Vec<String> = [
            "node",
            "node_modules/jest/bin/jest.js",
            "--config",
            "other/jest.config.js",
            "--rootDir=/w/p/other/",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            short_command(&other),
            "node jest.js --config other/jest.config.js --rootDir=other/"
        );
        // npm's title over its arguments, and a shell script.
        let npm = vec!["npm run test:jest -- --json --outputFile=/tmp/x/jest.json".to_owned()];
        assert_eq!(
            short_command(&npm),
            "npm run test:jest -- --json --outputFile=jest.json"
        );
        let sh: Vec<String> = ["sh", "-c", "jest --json --outputFile=/tmp/x/jest.json"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            short_command(&sh),
            "sh -c jest --json --outputFile=jest.json"
        );
        let long = vec!["a".repeat(100)];
        assert_eq!(short_command(&long).chars().count(), 60);
    }
}
