//! `--files-from FILE`: test files and their times from a runner's JSON report.
//!
//! Jest (`--json --outputFile=FILE`) and Vitest (`--reporter=json --outputFile=FILE`) write
//! `{"testResults": [{"name": "/abs/file.test.js", "startTime": 1732520000000,
//! "endTime": 1732520001234, "status": "passed"}, ...]}`, times in milliseconds since the
//! Unix epoch. `name` is required; times and status are optional (a file without times is
//! listed but not attributed).

use std::path::{Path, PathBuf};

use crate::files::{FileSource, FileSpan};

/// Why a reporter file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ReporterError {
    /// It cannot be read.
    #[error("{path}: cannot read: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause, said in the message (not also a `source()`, which renderers of the
        /// chain would say again).
        error: std::io::Error,
    },
    /// It is not JSON.
    #[error("{path}: not JSON: {error}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause, with line and column, said in the message (not also a `source()`).
        error: serde_json::Error,
    },
    /// It is JSON of another shape.
    #[error("{path}: {what} (expected a Jest or Vitest JSON report: {{\"testResults\": [{{\"name\", \"startTime\", \"endTime\"}}]}})")]
    Shape {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
}

/// Reads the files of a JSON report; `started_unix_ms` is when the traced command started,
/// to turn the report's times into seconds of the trace.
pub fn read_reporter_file(
    path: &Path,
    started_unix_ms: u64,
) -> Result<Vec<FileSpan>, ReporterError> {
    let text = std::fs::read_to_string(path).map_err(|error| ReporterError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|error| ReporterError::Json {
            path: path.to_path_buf(),
            error,
        })?;
    let shape = |what: String| ReporterError::Shape {
        path: path.to_path_buf(),
        what,
    };
    let results = json
        .get("testResults")
        .and_then(|v| v.as_array())
        .ok_or_else(|| shape("no `testResults` array".to_owned()))?;
    let seconds = |v: Option<&serde_json::Value>| {
        v.and_then(|t| t.as_f64())
            .filter(|ms| *ms > 0.0)
            .map(|ms| (ms - started_unix_ms as f64) / 1000.0)
    };
    let mut out = Vec::with_capacity(results.len());
    for (i, r) in results.iter().enumerate() {
        let file = r
            .get("name")
            .and_then(|n| n.as_str())
            .ok_or_else(|| shape(format!("testResults[{i}] has no string `name`")))?;
        out.push(FileSpan {
            file: file.to_owned(),
            source: FileSource::Reporter,
            start: seconds(r.get("startTime")),
            end: seconds(r.get("endTime")),
            status: r.get("status").and_then(|s| s.as_str()).map(str::to_owned),
            worker: None,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jest_report() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.json");
        std::fs::write(
            &path,
            r#"{"numTotalTests": 2, "testResults": [
                {"name": "/w/a.test.js", "startTime": 1000500, "endTime": 1002000, "status": "passed"},
                {"name": "/w/b.test.js", "status": "failed"}]}"#,
        )
        .expect("write");
        let files = read_reporter_file(&path, 1000000).expect("parses");
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].file, "/w/a.test.js");
        assert_eq!((files[0].start, files[0].end), (Some(0.5), Some(2.0)));
        assert_eq!(files[1].status.as_deref(), Some("failed"));
        assert_eq!((files[1].start, files[1].end), (None, None));
    }

    #[test]
    fn bad_reports_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.json");
        let err = |text: &str| {
            std::fs::write(&path, text).expect("write");
            read_reporter_file(&path, 0)
                .expect_err("rejected")
                .to_string()
        };
        let e = err("{\"testResults\": [");
        assert!(
            e.contains("r.json: not JSON") && e.contains("line 1"),
            "{e}"
        );
        let e = err("{\"tests\": []}");
        assert!(e.contains("no `testResults` array"), "{e}");
        let e = err("{\"testResults\": [{\"name\": 5}]}");
        assert!(e.contains("testResults[0] has no string `name`"), "{e}");
        let missing = read_reporter_file(&dir.path().join("none.json"), 0)
            .expect_err("missing")
            .to_string();
        assert!(missing.contains("none.json: cannot read"), "{missing}");
    }
}
