//! Lanes: which group a process's snapshots go to (`--lane-by`).
//!
//! - `script` (the default): for Node, the script it runs — the first argument after
//!   `node` that is not an option (or an option's value), as a file name without its
//!   extension (`node --max-old-space-size=4096 dist/workers/forks.js` is lane `forks`);
//!   `eval` for `node -e`/`-p`, `node-test` for the `node --test` runner itself (its files
//!   run in processes of their own, each in the lane of its file), `node` for a bare
//!   `node`. For any other program, the program's file name (`sh`, `python3`).
//! - `pid`: one lane per process.
//! - `regex:PATTERN`: the first capture group (or the whole match) of PATTERN on the
//!   command line, its arguments joined by spaces; processes it does not match fall back
//!   to `script`.
//!
//! A lane name becomes a directory under the output directory, so it is sanitised: only
//! ASCII letters, digits, `.`, `_` and `-` are kept (anything else becomes `_`), it never
//! starts with a dot and is at most 80 characters long. `..` or `/` cannot escape.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use regex::Regex;

/// How processes are grouped into lanes.
#[derive(Clone, Debug)]
pub enum LaneRule {
    /// By the script a Node process runs, or the program's name.
    Script,
    /// One lane per PID.
    Pid,
    /// By the first capture group of a regular expression on the command line.
    Regex(Regex),
}

impl FromStr for LaneRule {
    type Err = String;

    fn from_str(s: &str) -> Result<LaneRule, String> {
        match s {
            "script" => Ok(LaneRule::Script),
            "pid" => Ok(LaneRule::Pid),
            _ => match s.strip_prefix("regex:") {
                Some(pattern) => Regex::new(pattern)
                    .map(LaneRule::Regex)
                    .map_err(|e| format!("{s:?}: not a regular expression: {e}")),
                None => Err(format!(
                    "{s:?}: expected `script`, `pid` or `regex:PATTERN`"
                )),
            },
        }
    }
}

impl fmt::Display for LaneRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LaneRule::Script => f.write_str("script"),
            LaneRule::Pid => f.write_str("pid"),
            LaneRule::Regex(r) => write!(f, "regex:{}", r.as_str()),
        }
    }
}

impl LaneRule {
    /// The (sanitised) lane of process `pid` running `cmdline`.
    pub fn lane_of(&self, pid: i32, cmdline: &[String], node: bool) -> String {
        let raw = match self {
            LaneRule::Pid => pid.to_string(),
            LaneRule::Script => script_name(cmdline, node),
            LaneRule::Regex(re) => {
                let line = cmdline.join(" ");
                match re.captures(&line) {
                    Some(c) => c
                        .get(1)
                        .or_else(|| c.get(0))
                        .map_or(String::new(), |m| m.as_str().to_owned()),
                    None => script_name(cmdline, node),
                }
            }
        };
        sanitize(&raw)
    }
}

/// The script argument of a Node command line: the first argument after the program
/// that is neither an option nor an option's value; `None` for `-e`/`-p` and a bare REPL.
pub fn node_script(cmdline: &[String]) -> Option<&str> {
    let mut args = cmdline.iter().skip(1);
    while let Some(a) = args.next() {
        if a == "--" {
            return args.next().map(String::as_str);
        }
        if matches!(a.as_str(), "-e" | "--eval" | "-p" | "--print") {
            return None;
        }
        if leaktrail_process::NODE_OPTIONS_WITH_VALUE.contains(&a.as_str()) {
            args.next();
            continue;
        }
        if a.starts_with('-') {
            continue;
        }
        return Some(a);
    }
    None
}

/// The `script` lane, unsanitised.
fn script_name(cmdline: &[String], node: bool) -> String {
    let stem = |p: &str| {
        let path = Path::new(p);
        path.file_stem()
            .or_else(|| path.file_name())
            .map_or_else(|| p.to_owned(), |s| s.to_string_lossy().into_owned())
    };
    if node {
        let has = |flags: &[&str]| {
            cmdline
                .iter()
                .skip(1)
                .take_while(|a| *a != "--")
                .any(|a| flags.contains(&a.as_str()))
        };
        if has(&["--test"]) {
            return "node-test".to_owned();
        }
        return match node_script(cmdline) {
            Some(script) => stem(script),
            None if has(&["-e", "--eval", "-p", "--print"]) => "eval".to_owned(),
            None => "node".to_owned(),
        };
    }
    match cmdline.first() {
        Some(program) => Path::new(program)
            .file_name()
            .map_or_else(|| program.clone(), |s| s.to_string_lossy().into_owned()),
        None => "unknown".to_owned(),
    }
}

/// A lane name that is safe as one directory name under the output directory.
pub fn sanitize(raw: &str) -> String {
    let mut out: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    if out.starts_with('.') {
        out.replace_range(0..1, "_");
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn scripts() {
        let rule = LaneRule::Script;
        let lane = |s: &str, node| rule.lane_of(7, &args(s), node);
        assert_eq!(
            lane("/usr/bin/node /w/runner.js scenario.js", true),
            "runner"
        );
        assert_eq!(
            lane(
                "node --max-old-space-size=4096 -r ./setup.js dist/workers/forks.js",
                true
            ),
            "forks"
        );
        assert_eq!(lane("node --require x.js -- a.test.js", true), "a.test");
        assert_eq!(lane("node -e 1", true), "eval");
        assert_eq!(lane("node --test a.test.js b.test.js", true), "node-test");
        assert_eq!(lane("node --inspect", true), "node");
        assert_eq!(lane("/bin/sh -c sleep", false), "sh");
        assert_eq!(rule.lane_of(7, &[], false), "unknown");
    }

    #[test]
    fn rules() {
        let cmd = args("node /w/runner.js /w/stream-registry-no-ttl.js --forever");
        assert_eq!(LaneRule::Pid.lane_of(42, &cmd, true), "42");
        let re: LaneRule = r"regex:([\w-]+)\.js --forever".parse().expect("rule");
        assert_eq!(re.lane_of(1, &cmd, true), "stream-registry-no-ttl");
        let whole: LaneRule = "regex:no-ttl".parse().expect("rule");
        assert_eq!(whole.lane_of(1, &cmd, true), "no-ttl");
        assert_eq!(re.lane_of(1, &args("node other.js"), true), "other");
        assert_eq!(re.to_string(), r"regex:([\w-]+)\.js --forever");
        assert!("regex:(".parse::<LaneRule>().is_err());
        assert!("file".parse::<LaneRule>().is_err());
    }

    #[test]
    fn lanes_cannot_escape() {
        assert_eq!(sanitize(".."), "_.");
        assert_eq!(sanitize("../../etc"), "_._.._etc");
        assert_eq!(sanitize("a/b c"), "a_b_c");
        assert_eq!(sanitize(""), "_");
        assert_eq!(sanitize("żółw"), "___w");
        assert_eq!(sanitize(&"x".repeat(200)).len(), 80);
        let re: LaneRule = "regex:(.*)".parse().expect("rule");
        assert_eq!(re.lane_of(1, &args("../x"), false), "_._x");
    }
}
