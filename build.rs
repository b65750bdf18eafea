//! Records the commit the binary is built from as `LEAKTRAIL_COMMIT`, for the `commit`
//! label of `leaktrail_build_info` (a fleet's dashboards tell which build runs where).
//!
//! `LEAKTRAIL_COMMIT` in the build's environment wins (a build from a tarball, which has
//! no `.git`); otherwise git is asked, and only about this checkout: a copy of the sources
//! inside another repository must not take that repository's commit. No git, no commit —
//! the label is then left out, never a build failure.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=LEAKTRAIL_COMMIT");
    if let Some(commit) = std::env::var("LEAKTRAIL_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
    {
        println!("cargo:rustc-env=LEAKTRAIL_COMMIT={commit}");
        return;
    }
    let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") else {
        return;
    };
    let dir = Path::new(&dir);
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
    };
    let Some(top) = git(&["rev-parse", "--show-toplevel"]) else {
        return;
    };
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same(Path::new(&top), dir) {
        return;
    }
    // Rebuilt when HEAD moves: HEAD itself (a checkout) and the branch it names (a commit),
    // loose or packed. Paths from git, as a worktree keeps them outside the checkout.
    let mut watched = vec![
        ("HEAD".to_owned(), false),
        ("packed-refs".to_owned(), false),
    ];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push((branch, true));
    }
    for (name, or_folder) in watched {
        let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", &name]) else {
            continue;
        };
        // Only what exists: cargo takes a missing path as changed and would rebuild the
        // binary every time. A branch that is only packed gets a loose file at its next
        // commit, in a folder that exists (`refs/heads/…`, never `.git` itself: cargo
        // would scan every object in it).
        let path = Path::new(&path);
        let existing = if path.exists() {
            Some(path)
        } else {
            path.parent().filter(|p| or_folder && p.exists())
        };
        if let Some(existing) = existing {
            println!("cargo:rerun-if-changed={}", existing.display());
        }
    }
    if let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) {
        println!("cargo:rustc-env=LEAKTRAIL_COMMIT={commit}");
    }
}
