//! What a user reads about the command line: shell completions and the man page generated
//! from the clap definitions, the "Examples:" of every `--help`, and the commands in README
//! and docs/ — every flag an example uses must exist, so a renamed flag fails here rather
//! than in a reader's terminal.

use crate::common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use common::*;

/// The subcommands a user sees (the hidden `census` is left out).
const SUBCOMMANDS: &[&str] = &[
    "summary",
    "diff",
    "leaks",
    "retainers",
    "run",
    "watch",
    "flame",
    "trace",
    "trend",
    "serve",
    "completions",
    "man",
];

fn stdout_of(args: &[&str]) -> String {
    let out = leaktrail(args);
    assert!(
        out.status.success(),
        "leaktrail {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

#[test]
fn bash_completion_loads_and_completes_every_subcommand() {
    let _shared = crate::common::shared();
    let bin = env!("CARGO_BIN_EXE_leaktrail");
    // Source the script as a user's shell would, then ask the completion function what
    // follows `leaktrail ` and what follows `leaktrail run --ite`.
    let script = format!(
        r#"source <("{bin}" completions bash) || exit 9
complete -p leaktrail || exit 8
COMP_WORDS=(leaktrail ""); COMP_CWORD=1; COMP_LINE="leaktrail "; COMP_POINT=${{#COMP_LINE}}
_leaktrail leaktrail "" leaktrail
echo "subcommands: ${{COMPREPLY[*]}}"
COMP_WORDS=(leaktrail run --ite); COMP_CWORD=2; COMP_LINE="leaktrail run --ite"; COMP_POINT=${{#COMP_LINE}}
_leaktrail leaktrail --ite run
echo "run flags: ${{COMPREPLY[*]}}""#
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &script])
        .output()
        .expect("bash runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{:?}: {text}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("-F _leaktrail leaktrail"), "{text}");
    let subs = text
        .lines()
        .find_map(|l| l.strip_prefix("subcommands: "))
        .unwrap_or_default();
    for sub in SUBCOMMANDS {
        assert!(
            subs.split(' ').any(|w| w == *sub),
            "bash completes no `{sub}`: {subs}"
        );
    }
    let flags = text
        .lines()
        .find_map(|l| l.strip_prefix("run flags: "))
        .unwrap_or_default();
    assert!(
        flags.split(' ').any(|w| w == "--iterations")
            && flags.split(' ').any(|w| w == "--iteration-pattern"),
        "run --ite completes to {flags}"
    );
}

#[test]
fn zsh_and_fish_completions_name_every_subcommand() {
    let _shared = crate::common::shared();
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(&["completions", shell]);
        for sub in SUBCOMMANDS {
            assert!(
                script.contains(sub),
                "{shell} completion does not mention `{sub}`"
            );
        }
        assert!(script.contains("--iterations"), "{shell}: no run flags");
    }
    assert!(stdout_of(&["completions", "zsh"]).starts_with("#compdef leaktrail"));
    let bad = leaktrail(&["completions", "tcsh"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn man_page_lists_every_subcommand_and_renders() {
    let _shared = crate::common::shared();
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH leaktrail 1"), "{page}");
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!("leaktrail\\-{sub}(1)")),
            "the man page does not list `{sub}`"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let written = stdout_of(&["man", "--dir", s(dir.path())]);
    assert!(written.contains("wrote the man pages"), "{written}");
    for sub in SUBCOMMANDS {
        let file = dir.path().join(format!("leaktrail-{sub}.1"));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(text.contains(".SH EXTRA") && text.contains("Examples:"));
    }
    assert!(!dir.path().join("leaktrail-census.1").exists());
    // Rendered by man itself where it is installed: the page is valid roff.
    if let Ok(out) = Command::new("man")
        .arg("-l")
        .arg(dir.path().join("leaktrail-run.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("--iteration-pattern"), "{text}");
        assert!(text.contains("leaktrail run --iterations 2000"), "{text}");
    } else {
        eprintln!("SKIPPED: rendering with man (not installed)");
    }
}

/// The flags each subcommand accepts, read from its own `--help`.
fn flags_by_subcommand() -> HashMap<String, String> {
    SUBCOMMANDS
        .iter()
        .map(|sub| (sub.to_string(), stdout_of(&[sub, "--help"])))
        .collect()
}

/// Checks one `leaktrail SUB ARGS…` command line against SUB's help: each `--flag` or `-x`
/// before a `--` (after it come the workload's own flags) must be in it.
fn check_command(line: &str, help: &HashMap<String, String>, whence: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut rest = line;
    // Every `leaktrail SUB` on the line: a pipe may hold two.
    while let Some(at) = rest.find("leaktrail ") {
        let before_ok = at == 0 || {
            let c = rest.as_bytes()[at - 1];
            c == b' ' || c == b'/' || c == b'(' || c == b'`'
        };
        let after = &rest[at + "leaktrail ".len()..];
        rest = after;
        if !before_ok {
            continue;
        }
        let mut words = after.split_whitespace();
        let Some(sub) = words.next() else { continue };
        let Some(text) = help.get(sub) else {
            // `leaktrail --help`, `leaktrail` in prose-like comments: not a subcommand.
            if !sub.starts_with('-') && sub.chars().all(|c| c.is_ascii_lowercase()) {
                problems.push(format!("{whence}: `leaktrail {sub}` is no subcommand"));
            }
            continue;
        };
        for word in words {
            if word == "--" || [";", "|", "&&", ">", ">>", "||"].contains(&word) {
                break;
            }
            let flag = word.split('=').next().unwrap_or(word);
            let flag = flag.trim_end_matches(['`', ')', '\\']);
            let is_flag = flag.len() > 1
                && flag.starts_with('-')
                && flag[1..]
                    .chars()
                    .next()
                    .is_some_and(|c| c == '-' || c.is_ascii_alphabetic());
            if is_flag
                && !text.contains(&format!("{flag} "))
                && !text.contains(&format!("{flag},"))
                && !text.contains(&format!("{flag}\n"))
            {
                problems.push(format!("{whence}: `leaktrail {sub}` has no flag {flag}"));
            }
        }
    }
    problems
}

#[test]
fn every_help_ends_with_examples_whose_flags_exist() {
    let _shared = crate::common::shared();
    let help = flags_by_subcommand();
    let mut problems = Vec::new();
    for (sub, text) in &help {
        let Some((_, examples)) = text.split_once("\nExamples:\n") else {
            problems.push(format!("`leaktrail {sub} --help` has no Examples: section"));
            continue;
        };
        let commands: Vec<&str> = examples
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#') && l.contains("leaktrail "))
            .collect();
        if !commands
            .iter()
            .any(|l| l.contains(&format!("leaktrail {sub}")))
        {
            problems.push(format!("`leaktrail {sub} --help`: no example runs {sub}"));
        }
        for line in commands {
            problems.extend(check_command(line, &help, &format!("{sub} --help")));
        }
    }
    let top = stdout_of(&["--help"]);
    assert!(top.contains("\nExamples:\n"), "{top}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn commands_in_readme_and_docs_use_flags_that_exist() {
    let _shared = crate::common::shared();
    let help = flags_by_subcommand();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        let path = entry.expect("docs entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let name = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        // Only shell code blocks: sample output quotes commands in prose.
        let mut in_shell = false;
        let mut joined = String::new();
        for (n, line) in text.lines().enumerate() {
            let fence = line.trim_start();
            if let Some(lang) = fence.strip_prefix("```") {
                in_shell = !in_shell && matches!(lang.trim(), "sh" | "bash" | "shell" | "console");
                continue;
            }
            if !in_shell {
                continue;
            }
            let line = line.strip_prefix("$ ").unwrap_or(line);
            let code = line.split(" #").next().unwrap_or(line);
            if let Some(cont) = code.strip_suffix('\\') {
                joined.push_str(cont);
                continue;
            }
            joined.push_str(code);
            if !joined.trim_start().starts_with('#') && joined.contains("leaktrail ") {
                checked += 1;
                problems.extend(check_command(&joined, &help, &format!("{name}:{}", n + 1)));
            }
            joined.clear();
        }
    }
    assert!(
        checked > 20,
        "only {checked} commands found in README.md and docs/"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
