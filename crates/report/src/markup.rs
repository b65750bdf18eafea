//! Text for the HTML and JUnit reports: escaping, Markdown code spans as `<code>`, and a
//! retainer path as plain lines.

use leaktrail_analysis::StepView;

/// A retainer path, one `--edge--> Class @id` line a step, for the HTML and JUnit reports.
pub(crate) fn path_lines(path: &[StepView]) -> String {
    path.iter()
        .map(|s| match s.object.class.is_empty() {
            // A path from a census names its edges, not the objects along them.
            true => format!("--{}-->", s.edge),
            false => format!("--{}--> {} @{}", s.edge, s.object.class, s.object.id),
        })
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

/// Escapes a sentence for HTML and renders its Markdown code spans (`` `streams` ``) as
/// `<code>`: the sentences are written once, for the Markdown report, and their backticks
/// read as noise in a browser.
///
/// A run of N backticks opens a span that the next run of exactly N closes (CommonMark), so
/// `` `a`b` `` inside double backticks stays one span; one space padding both ends is
/// dropped. A run with no closing run is text, backticks and all.
pub(crate) fn prose_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    let mut rest = s;
    while let Some(start) = rest.find('`') {
        out.push_str(&escape(&rest[..start]));
        let ticks = rest[start..].len() - rest[start..].trim_start_matches('`').len();
        let after = &rest[start + ticks..];
        match closing_ticks(after, ticks) {
            Some(end) => {
                let mut code = &after[..end];
                if code.len() >= 2
                    && code.starts_with(' ')
                    && code.ends_with(' ')
                    && !code.trim().is_empty()
                {
                    code = &code[1..code.len() - 1];
                }
                out.push_str("<code>");
                out.push_str(&escape(code));
                out.push_str("</code>");
                rest = &after[end + ticks..];
            }
            None => {
                out.push_str(&rest[start..start + ticks]);
                rest = after;
            }
        }
    }
    out.push_str(&escape(rest));
    out
}

/// Where in `s` the first run of exactly `n` backticks starts.
fn closing_ticks(s: &str, n: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let run = bytes[i..].iter().take_while(|&&b| b == b'`').count();
            if run == n {
                return Some(i);
            }
            i += run;
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod prose_tests {
    use super::prose_html;

    #[test]
    fn code_spans_become_code_elements_and_html_is_escaped() {
        assert_eq!(
            prose_html("accumulate in `streams` (Map) of <Registry> & co"),
            "accumulate in <code>streams</code> (Map) of &lt;Registry&gt; &amp; co"
        );
        // The span's content is escaped too, never markup.
        assert_eq!(
            prose_html("held by `<script>`"),
            "held by <code>&lt;script&gt;</code>"
        );
    }

    #[test]
    fn double_backticks_hold_single_ones_and_unclosed_runs_stay_text() {
        assert_eq!(
            prose_html("`` 40 × Array · `Session.events` ``"),
            "<code>40 × Array · `Session.events`</code>"
        );
        assert_eq!(prose_html("a ` b"), "a ` b");
        assert_eq!(prose_html("`a` and `b"), "<code>a</code> and `b");
        assert_eq!(prose_html("no code"), "no code");
        assert_eq!(prose_html(""), "");
    }
}
