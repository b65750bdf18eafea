//! Text for the HTML and JUnit reports: escaping, and a retainer path as plain lines.

use leaktrail_analysis::StepView;

/// A retainer path, one `--edge--> Class @id` line a step, for the HTML and JUnit reports.
pub(crate) fn path_lines(path: &[StepView]) -> String {
    path.iter()
        .map(|s| format!("--{}--> {} @{}", s.edge, s.object.class, s.object.id))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Escapes text for HTML and XML.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
