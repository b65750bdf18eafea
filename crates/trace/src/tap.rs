//! Test files named in TAP on the command's stdout.
//!
//! Runners that report one TAP subtest per file (node-tap, Node 18's `node --test`) print,
//! at the top level (no indentation):
//!
//! ```text
//! # Subtest: test/cache.test.js
//! ...
//! ok 1 - test/cache.test.js
//! ```
//!
//! A top-level subtest whose name looks like a source file (ends in `.js`, `.mjs`, `.cjs`,
//! `.ts`, `.mts`, `.cts`, `.jsx` or `.tsx`, and has no spaces unless it names an existing
//! file) becomes a [`FileSpan`] from the time its `# Subtest:` line arrived to the time of
//! its `ok`/`not ok` line. Test names that are not files are ignored: Node 20's runner
//! names tests, not files, in TAP (its files are found by their processes instead).

use std::path::Path;

use crate::files::{FileSource, FileSpan};

/// Collects file spans from TAP lines as they arrive.
#[derive(Debug, Default)]
pub struct TapFiles {
    open: Vec<(String, f64)>,
    done: Vec<FileSpan>,
}

const EXTENSIONS: &[&str] = &["js", "mjs", "cjs", "ts", "mts", "cts", "jsx", "tsx"];

/// True when a TAP test name looks like a test file.
fn looks_like_file(name: &str) -> bool {
    let ext_ok = name
        .rsplit_once('.')
        .is_some_and(|(_, ext)| EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()));
    ext_ok && (!name.contains(char::is_whitespace) || Path::new(name).is_file())
}

/// Undoes TAP's escapes of `#` and `\` in descriptions.
fn unescape(s: &str) -> String {
    s.replace("\\#", "#").replace("\\\\", "\\")
}

/// The description of a top-level `ok`/`not ok` line, without its directive, and whether
/// it passed.
fn result_line(line: &str) -> Option<(String, bool)> {
    let (rest, ok) = match line.strip_prefix("not ok ") {
        Some(r) => (r, false),
        None => (line.strip_prefix("ok ")?, true),
    };
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let desc = rest
        .trim_start()
        .strip_prefix("- ")
        .unwrap_or(rest.trim_start());
    // A directive starts at " #" (a `#` in a description is escaped as `\#`).
    let cut = desc.find(" #").unwrap_or(desc.len());
    Some((unescape(desc[..cut].trim_end()), ok))
}

impl TapFiles {
    /// Feeds one stdout line that arrived `t` seconds into the run.
    pub fn feed(&mut self, t: f64, line: &str) {
        let line = line.trim_end_matches(['\r', '\n']);
        if let Some(name) = line.strip_prefix("# Subtest: ") {
            let name = unescape(name.trim());
            if looks_like_file(&name) {
                self.open.push((name, t));
            }
            return;
        }
        let Some((name, ok)) = result_line(line) else {
            return;
        };
        if !looks_like_file(&name) {
            return;
        }
        let start = self
            .open
            .iter()
            .position(|(n, _)| *n == name)
            .map(|i| self.open.remove(i).1);
        self.done.push(FileSpan {
            file: name,
            source: FileSource::Tap,
            start,
            end: Some(t),
            status: Some(if ok { "passed" } else { "failed" }.to_owned()),
            worker: None,
        });
    }

    /// The files seen; subtests without a result line keep an open end.
    pub fn finish(mut self) -> Vec<FileSpan> {
        for (file, start) in self.open.drain(..) {
            self.done.push(FileSpan {
                file,
                source: FileSource::Tap,
                start: Some(start),
                end: None,
                status: None,
                worker: None,
            });
        }
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_from_tap() {
        let mut tap = TapFiles::default();
        let lines = [
            (0.0, "TAP version 13"),
            (0.1, "# Subtest: test/a.test.js"),
            (0.2, "    # Subtest: inner test.js"),
            (0.3, "    ok 1 - inner test.js"),
            (1.5, "ok 1 - test/a.test.js"),
            (1.6, "# Subtest: adds numbers"),
            (1.7, "ok 2 - adds numbers"),
            (1.8, "# Subtest: test/b\\#1.test.mjs"),
            (2.5, "not ok 3 - test/b\\#1.test.mjs # TODO later"),
            (2.6, "ok 4 - c.spec.ts"),
            (2.7, "# Subtest: d.test.cjs"),
        ];
        for (t, l) in lines {
            tap.feed(t, l);
        }
        let files = tap.finish();
        let got: Vec<_> = files
            .iter()
            .map(|f| (f.file.as_str(), f.start, f.end, f.status.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("test/a.test.js", Some(0.1), Some(1.5), Some("passed")),
                ("test/b#1.test.mjs", Some(1.8), Some(2.5), Some("failed")),
                ("c.spec.ts", None, Some(2.6), Some("passed")),
                ("d.test.cjs", Some(2.7), None, None),
            ]
        );
    }
}
