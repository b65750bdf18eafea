//! Facts about a running process read from `/proc`: is it Node, which snapshot signal did
//! it get, where does it write diagnostics, has its cgroup OOM-killed anything.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use leaktrail_analysis::snapshot_dir::SnapshotName;

/// The command line of `pid`, `None` when it is gone or unreadable.
pub(crate) fn cmdline(pid: i32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    (!args.is_empty()).then_some(args)
}

pub(crate) use leaktrail_sampler::is_running as alive;

/// A target's default name, short because it is the `target` label of every metric: the
/// script's file name without `.js`/`.mjs`/`.cjs` for `node [options] script.js`, `node -e`
/// or `node -p` for code given on the command line (the code itself would be a label as
/// long as the program), `node` for a REPL, else the program's file name.
pub(crate) fn default_name(command: &[String]) -> String {
    let base = |s: &str| {
        Path::new(s)
            .file_name()
            .map_or(s.to_owned(), |f| f.to_string_lossy().into_owned())
    };
    let Some(first) = command.first() else {
        return "target".into();
    };
    let program = base(first);
    if !leaktrail_sampler::is_node_program(&program) {
        return program;
    }
    let mut args = command[1..].iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        // Code on the command line: Node runs no script file then, whatever follows.
        match arg.split_once('=').map_or(arg.as_str(), |(name, _)| name) {
            "-e" | "--eval" => return "node -e".into(),
            "-p" | "--print" | "-pe" => return "node -p".into(),
            _ => {}
        }
        if !arg.starts_with('-') {
            return script_name(&base(arg));
        }
        // An option given its value in the next argument: that value is not the script.
        if !arg.contains('=') && leaktrail_process::NODE_OPTIONS_WITH_VALUE.contains(&arg.as_str())
        {
            args.next();
        }
    }
    match args.next() {
        Some(script) => script_name(&base(script)),
        None => "node".into(),
    }
}

/// A script's file name without the extension Node gives a script.
fn script_name(file: &str) -> String {
    [".js", ".mjs", ".cjs"]
        .iter()
        .find_map(|ext| file.strip_suffix(ext).filter(|s| !s.is_empty()))
        .unwrap_or(file)
        .to_owned()
}

/// Whether `pid` runs Node (its executable is `node`, `nodejs` or a versioned `node20`).
pub fn is_node(pid: i32) -> bool {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .is_ok_and(|p| leaktrail_sampler::is_node_program(&p.to_string_lossy()))
}

/// Node's options of `pid`: its arguments before the script and `NODE_OPTIONS`.
fn node_options(pid: i32) -> Vec<String> {
    let mut options: Vec<String> = cmdline(pid)
        .unwrap_or_default()
        .into_iter()
        .skip(1)
        .take_while(|a| a.starts_with('-'))
        .collect();
    if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) {
        for var in env.split(|&b| b == 0) {
            if let Some(v) = var.strip_prefix(b"NODE_OPTIONS=") {
                options.extend(
                    String::from_utf8_lossy(v)
                        .split_whitespace()
                        .map(str::to_owned),
                );
            }
        }
    }
    options
}

fn option_value(options: &[String], name: &str) -> Option<String> {
    options.iter().enumerate().find_map(|(i, o)| {
        if let Some(v) = o.strip_prefix(&format!("{name}=")) {
            Some(v.to_owned())
        } else if o == name {
            options.get(i + 1).cloned()
        } else {
            None
        }
    })
}

/// The signal given with `--heapsnapshot-signal`, as a number.
pub fn heapsnapshot_signal(pid: i32) -> Option<i32> {
    let name = option_value(&node_options(pid), "--heapsnapshot-signal")?;
    let name = name.trim_start_matches("SIG");
    let number = match name {
        "USR1" => 10,
        "USR2" => 12,
        "HUP" => 1,
        "QUIT" => 3,
        "TERM" => 15,
        "INT" => 2,
        "PIPE" => 13,
        "ALRM" => 14,
        "WINCH" => 28,
        "PWR" => 30,
        other => other.parse().ok()?,
    };
    Some(number)
}

/// The `--diagnostic-dir` of `pid`, resolved against its working directory.
pub(crate) fn diagnostic_dir(pid: i32) -> Option<PathBuf> {
    let dir = option_value(&node_options(pid), "--diagnostic-dir")?;
    let dir = PathBuf::from(dir);
    Some(if dir.is_absolute() {
        dir
    } else {
        PathBuf::from(format!("/proc/{pid}/cwd")).join(dir)
    })
}

/// Sends `signal` to a Node process started with `--heapsnapshot-signal`, waits for the
/// snapshot it writes into `dir` (`Heap.<date>.<time>.<pid>.<tid>.<seq>.heapsnapshot`) to
/// be complete, and moves it to `dest` (mode 0600). Gives up within 0.2 s of `abort`.
pub(crate) fn snapshot_by_signal(
    pid: i32,
    signal: i32,
    dir: &Path,
    dest: &Path,
    abort: &AtomicBool,
) -> Result<(), String> {
    let listing = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name().is_some_and(|n| {
                            matches!(
                                SnapshotName::parse(&n.to_string_lossy()),
                                Some(name @ SnapshotName::Node { .. }) if name.pid() == Some(pid as u32)
                            )
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let before = listing(dir);
    let sig = rustix::process::Signal::from_named_raw(signal)
        .ok_or_else(|| format!("signal {signal} is not known"))?;
    let p = rustix::process::Pid::from_raw(pid).ok_or("bad pid")?;
    rustix::process::kill_process(p, sig).map_err(|e| format!("kill -{signal} {pid}: {e}"))?;
    // The file appears at once and grows while V8 writes it; it is complete when Node no
    // longer holds it open and it ends with the closing of the top-level object (the rule
    // `leaktrail trace` collects by).
    let until = Instant::now() + Duration::from_secs(600);
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
        // A watcher that stops does not wait for Node to finish writing. The file our
        // signal asked for is ours, and a heap holds secrets: it is removed, unfinished
        // (Node writes on into the unlinked file; its space is freed when Node closes it).
        if abort.load(Ordering::SeqCst) {
            let until = Instant::now() + Duration::from_secs(1);
            loop {
                if let Some(file) = listing(dir).into_iter().find(|f| !before.contains(f)) {
                    let _ = std::fs::remove_file(&file);
                    break;
                }
                if Instant::now() >= until || !alive(pid) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            return Err("abandoned: the watcher is stopping".into());
        }
        let Some(file) = listing(dir).into_iter().find(|f| !before.contains(f)) else {
            if !alive(pid) {
                return Err("the process exited".into());
            }
            continue;
        };
        if !leaktrail_sampler::holds_open(pid, &file)
            && leaktrail_snapshot::ends_like_a_complete_snapshot(&file)
        {
            if std::fs::rename(&file, dest).is_err() {
                std::fs::copy(&file, dest).map_err(|e| format!("{}: {e}", dest.display()))?;
                let _ = std::fs::remove_file(&file);
            }
            let _ = leaktrail_private_files::restrict_file(dest);
            return Ok(());
        }
    }
    Err(format!(
        "no complete snapshot appeared in {}",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_targets_by_script() {
        let c = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            default_name(&c("/usr/bin/node --expose-gc /srv/api/server.js --port 80")),
            "server"
        );
        assert_eq!(default_name(&c("python3 app.py")), "python3");
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Code on the command line is not the name, however long it is.
        let code = "const http = require('http'); http.createServer(() => {}).listen(8080)";
        assert_eq!(default_name(&args(&["node", "-e", code])), "node -e");
        assert_eq!(
            default_name(&args(&["node", "--expose-gc", "--eval", code, "x.js"])),
            "node -e"
        );
        assert_eq!(default_name(&args(&["nodejs", "-p", "1+1"])), "node -p");
        assert_eq!(default_name(&args(&["node", "--print=1+1"])), "node -p");
        // An option's value in the next argument is not the script.
        assert_eq!(
            default_name(&c(
                "node -r dotenv/config --import ./otel.mjs dist/main.mjs"
            )),
            "main"
        );
        assert_eq!(
            default_name(&c(
                "node --max-old-space-size=512 --require=./a.js srv/app.cjs"
            )),
            "app"
        );
        assert_eq!(default_name(&c("node --inspect -- ./-dash.js")), "-dash");
        assert_eq!(default_name(&c("node --expose-gc")), "node");
        assert_eq!(default_name(&c("/usr/local/bin/node bin/www")), "www");
        assert_eq!(default_name(&c("node .js")), ".js");
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id() as i32;
        assert!(alive(me));
        assert!(!is_node(me));
        assert!(cmdline(me).is_some());
        assert_eq!(heapsnapshot_signal(me), None);
    }
}
