//! The npm packages (`npm/`): `npm/build.mjs` puts a leaktrail binary into
//! `@leaktrail/<platform>` next to the launcher package `leaktrail`, `npm pack` packs both,
//! and npm installs the two tarballs into an empty project with no registry (`--offline`,
//! an empty cache). Then leaktrail runs through the launcher as a user would: `npx
//! leaktrail --version`, `summary` and `leaks` on snapshots Node writes, exit codes, and
//! signals both ways (passed on once, Ctrl-C on a terminal included; the binary's death
//! by a signal is the launcher's).
//!
//! The binary packed is this build's (`cargo test`: the debug one, stripped), or the file
//! `LEAKTRAIL_NPM_BINARY` names (the static one of `tools/dist/build.sh`).

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

/// The npm platform name of this machine, if leaktrail has a package for it.
fn platform() -> Option<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Some("linux-x64"),
        ("linux", "aarch64") => Some("linux-arm64"),
        _ => None,
    }
}

/// The project the packages were installed into, once for all tests; `None` (said on
/// stderr by each test) on a platform without a package.
fn project() -> Option<&'static Path> {
    static PROJECT: OnceLock<Option<PathBuf>> = OnceLock::new();
    let project = PROJECT.get_or_init(install).as_deref();
    if project.is_none() {
        eprintln!(
            "SKIPPED: {}: leaktrail has no npm package for {}-{}",
            std::thread::current().name().unwrap_or("npm package test"),
            std::env::consts::OS,
            std::env::consts::ARCH
        );
    }
    project
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} does not start: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn install() -> Option<PathBuf> {
    let platform = platform()?;
    let binary = std::env::var_os("LEAKTRAIL_NPM_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_leaktrail")));
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("npm_package");
    let _ = std::fs::remove_dir_all(&root);
    let (packages, app) = (root.join("packages"), root.join("app"));
    std::fs::create_dir_all(&app).expect("mkdir");
    // Without its debug info (the debug build's 130 MB are 22 MB without): `npm pack`
    // takes a second, not twenty. The code is the same.
    let stripped = root.join("leaktrail");
    let strip = Command::new("strip")
        .arg("-o")
        .args([&stripped, &binary])
        .status();
    let binary = if strip.is_ok_and(|s| s.success()) {
        stripped
    } else {
        eprintln!("(strip failed: packing {} as it is)", binary.display());
        binary
    };
    eprintln!("npm packages of {}", binary.display());

    let build = run(Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("npm/build.mjs"))
        .args(["--out".as_ref(), packages.as_os_str()])
        .args(["--binary", &format!("{platform}={}", binary.display())])
        .arg("--pack"));
    let tarballs: Vec<String> = String::from_utf8_lossy(&build.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let version = env!("CARGO_PKG_VERSION");
    let names: Vec<String> = tarballs
        .iter()
        .map(|t| {
            Path::new(t)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            format!("leaktrail-{version}.tgz"),
            format!("leaktrail-{platform}-{version}.tgz")
        ]
    );

    std::fs::write(
        app.join("package.json"),
        r#"{ "name": "app", "version": "1.0.0", "private": true }"#,
    )
    .expect("package.json");
    // No registry: offline, with a cache of its own that is empty.
    run(Command::new("npm")
        .args([
            "install",
            "--offline",
            "--no-audit",
            "--no-fund",
            "--save-dev",
        ])
        .arg("--cache")
        .arg(root.join("npm-cache"))
        .args(&tarballs)
        .current_dir(&app));
    Some(app)
}

/// `npx leaktrail ARGS` in the project, offline.
fn npx(app: &Path, args: &[&str]) -> Output {
    Command::new("npx")
        .args(["--offline", "leaktrail"])
        .args(args)
        .current_dir(app)
        .env("npm_config_cache", app.parent().unwrap().join("npm-cache"))
        .output()
        .expect("npx starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn installs_from_the_tarballs_offline_and_runs_through_npx() {
    let _shared = crate::common::shared();
    let Some(app) = project() else { return };
    let platform = platform().unwrap();

    // What npm installed: the binary in its platform package, executable, no scripts.
    let bin = app.join(format!("node_modules/@leaktrail/{platform}/bin/leaktrail"));
    let mode = std::fs::metadata(&bin)
        .expect("the binary")
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "{} mode {mode:o}", bin.display());
    for pkg in ["leaktrail", &format!("@leaktrail/{platform}")] {
        let manifest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(app.join("node_modules").join(pkg).join("package.json"))
                .expect("package.json"),
        )
        .expect("json");
        assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"), "{pkg}");
        assert!(manifest["scripts"].is_null(), "{pkg} has scripts");
    }

    let out = npx(app, &["--version"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("leaktrail {}\n", env!("CARGO_PKG_VERSION"))
    );

    // Three snapshots of a service whose cache keeps every order.
    let script = "const v8 = require('v8');
        class LeakedOrder { constructor(i) { this.id = i; this.lines = new Array(20).fill(i); } }
        const cache = [];
        const work = () => { for (let i = 0; i < 2000; i++) cache.push(new LeakedOrder(i)); };
        v8.writeHeapSnapshot('base.heapsnapshot'); work();
        v8.writeHeapSnapshot('target.heapsnapshot'); work();
        v8.writeHeapSnapshot('final.heapsnapshot');";
    run(Command::new("node").args(["-e", script]).current_dir(app));

    let out = npx(app, &["summary", "final.heapsnapshot", "--top", "5"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("LeakedOrder"),
        "{}",
        text(&out.stdout)
    );

    // A leak found: exit 1, the culprit named.
    let out = npx(
        app,
        &[
            "leaks",
            "base.heapsnapshot",
            "target.heapsnapshot",
            "final.heapsnapshot",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("LeakedOrder"),
        "{}",
        text(&out.stdout)
    );

    // A fault: exit 2, leaktrail's message on stderr, nothing of the launcher's.
    let out = npx(app, &["summary", "missing.heapsnapshot"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("leaktrail: ") && err.contains("missing.heapsnapshot"),
        "{err}"
    );
}

/// The launcher (`node_modules/.bin/leaktrail`) with `args`, its stdout piped.
fn launcher(app: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(app.join("node_modules/.bin/leaktrail"));
    cmd.args(args).current_dir(app);
    cmd
}

/// A workload for `run` that prints iterations for ever; it writes `marker` once started.
fn endless_workload(marker: &Path) -> Vec<String> {
    vec![
        "--".into(),
        "node".into(),
        "-e".into(),
        format!(
            "require('fs').writeFileSync({:?}, 'up'); let i = 0; setInterval(() => console.log('iteration=' + ++i), 5);",
            marker.display().to_string()
        ),
    ]
}

fn run_args(workload: &[String]) -> Vec<&str> {
    let mut args = vec!["run", "--quiet", "--no-inspector", "--color", "never"];
    args.extend(workload.iter().map(String::as_str));
    args
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < until, "waited 30 s for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exit(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let mut status = None;
    wait_for(what, || {
        status = child.try_wait().expect("wait");
        status.is_some()
    });
    status.unwrap()
}

fn pid(child: &Child) -> Pid {
    Pid::from_raw(child.id() as i32).expect("pid")
}

/// The children of `pid` (of all its threads).
fn children(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
    {
        let list = std::fs::read_to_string(task.expect("task").path().join("children"));
        found.extend(
            list.unwrap_or_default()
                .split_whitespace()
                .map(|p| p.parse::<u32>().unwrap()),
        );
    }
    found
}

#[test]
fn the_launcher_passes_a_signal_on_once_and_the_exit_code_back() {
    let _shared = crate::common::shared();
    let Some(app) = project() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("up");
    let workload = endless_workload(&marker);
    let mut child = launcher(app, &run_args(&workload))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the launcher starts");
    wait_for("the workload", || marker.exists());
    std::thread::sleep(Duration::from_millis(500));
    // To the launcher alone (kill, docker stop): leaktrail gets it once and acts on it —
    // it stops the workload and reports what it measured; a second signal would end it at
    // once with nothing written.
    kill_process(pid(&child), Signal::TERM).expect("SIGTERM sent");
    let status = wait_exit(&mut child, "leaktrail to stop on SIGTERM");
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(143), "{status}: {stdout}\n{stderr}");
    assert!(
        stdout.contains("Stopped: leaktrail received SIGTERM"),
        "{stdout}\n{stderr}"
    );
}

#[test]
fn the_launcher_dies_of_the_signal_the_binary_dies_of() {
    let _shared = crate::common::shared();
    let Some(app) = project() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    leaktrail_store::Store::create(&dir.path().join("store")).expect("a store");
    // `serve` has no handler: SIGTERM ends it by the default action.
    for to_launcher in [false, true] {
        let mut child = launcher(
            app,
            &[
                "serve",
                "--store",
                dir.path().join("store").to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the launcher starts");
        // Its one line says it is serving.
        let mut stderr = child.stderr.take().unwrap();
        let mut line = Vec::new();
        let mut byte = [0u8];
        while !line.ends_with(b"\n") && stderr.read(&mut byte).expect("read") == 1 {
            line.push(byte[0]);
        }
        assert!(
            text(&line).starts_with("leaktrail serve: http://127.0.0.1:"),
            "{}",
            text(&line)
        );
        let binary = children(child.id());
        assert_eq!(binary.len(), 1, "one child: {binary:?}");
        let target = if to_launcher {
            pid(&child)
        } else {
            Pid::from_raw(binary[0] as i32).unwrap()
        };
        kill_process(target, Signal::TERM).expect("SIGTERM sent");
        let status = wait_exit(&mut child, "the launcher to end");
        assert_eq!(
            status.signal(),
            Some(Signal::TERM.as_raw()),
            "SIGTERM to the {}: the launcher {status}",
            if to_launcher { "launcher" } else { "binary" }
        );
        assert!(
            !Path::new(&format!("/proc/{}", binary[0])).exists(),
            "the binary outlived the launcher"
        );
    }
}

/// `cmd` started in a session of its own whose controlling terminal is a new
/// pseudo-terminal, in its foreground process group, as a shell starts a command. Returns
/// the child, the terminal's master side (write `\x03` for Ctrl-C) and a thread that
/// returns all written on the terminal once nothing holds it open any more.
fn spawn_on_terminal(
    mut cmd: Command,
) -> (Child, rustix::fd::OwnedFd, std::thread::JoinHandle<String>) {
    use rustix::fs::{open, Mode, OFlags};
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};

    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
        .expect("a pseudo-terminal");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let terminal = open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .expect("the terminal");
    cmd.stdin(terminal.try_clone().unwrap())
        .stdout(terminal.try_clone().unwrap())
        .stderr(terminal);
    // SAFETY: only syscalls between fork and exec: a new session whose controlling
    // terminal is the pseudo-terminal (on stdin, set up by now).
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::setsid()?;
            rustix::process::ioctl_tiocsctty(std::io::stdin())?;
            Ok(())
        });
    }
    let child = cmd.spawn().expect("it starts");
    // The parent's copies of the terminal go with `cmd`.
    drop(cmd);
    let mut reader = std::fs::File::from(master.try_clone().unwrap());
    let screen = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        // EIO once no process holds the terminal open.
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            all.extend_from_slice(&buf[..n]);
        }
        text(&all)
    });
    (child, master, screen)
}

/// Ctrl-C typed on a terminal reaches the launcher and leaktrail both (one foreground
/// process group): leaktrail acts on it, stops the workload and reports.
#[test]
fn ctrl_c_on_a_terminal_stops_leaktrail_run() {
    let _shared = crate::common::shared();
    let Some(app) = project() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("up");
    let workload = endless_workload(&marker);
    let (mut child, master, screen) = spawn_on_terminal(launcher(app, &run_args(&workload)));
    wait_for("the workload", || marker.exists());
    std::thread::sleep(Duration::from_millis(500));
    rustix::io::write(&master, b"\x03").expect("Ctrl-C typed");
    let status = wait_exit(&mut child, "leaktrail to stop on Ctrl-C");
    let screen = screen.join().expect("reader");
    assert_eq!(status.code(), Some(130), "{status}: {screen}");
    assert!(
        screen.contains("Stopped: leaktrail received SIGINT"),
        "{screen}"
    );
}

/// A stand-in for the binary (LEAKTRAIL_BINARY) that counts the stop signals it gets:
/// it writes `ready` once its handlers are in, and a second after the first signal
/// prints the counts and exits with 7.
const COUNTER: &str = "#!/usr/bin/env node
const counts = {};
let ending = null;
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']) {
  process.on(s, () => {
    counts[s] = (counts[s] || 0) + 1;
    ending ??= setTimeout(end, 1000);
  });
}
function end() { console.log('received ' + JSON.stringify(counts)); process.exit(7); }
require('fs').writeFileSync(process.argv[2], 'ready');
setTimeout(end, 20000);
";

/// Each stop signal reaches the binary exactly once, whether it was sent to the launcher
/// alone or typed on the terminal (where the whole foreground group gets it): leaktrail
/// takes a second SIGINT as "stop at once, write nothing".
#[test]
fn each_signal_reaches_the_binary_once() {
    let _shared = crate::common::shared();
    let Some(app) = project() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let counter = dir.path().join("counter.js");
    std::fs::write(&counter, COUNTER).expect("counter.js");
    std::fs::set_permissions(&counter, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let cases: [(&str, bool, Option<Signal>, &str); 5] = [
        ("Ctrl-C", true, None, r#"{"SIGINT":1}"#),
        (
            "SIGTERM on a terminal",
            true,
            Some(Signal::TERM),
            r#"{"SIGTERM":1}"#,
        ),
        ("SIGINT", false, Some(Signal::INT), r#"{"SIGINT":1}"#),
        ("SIGTERM", false, Some(Signal::TERM), r#"{"SIGTERM":1}"#),
        ("SIGHUP", false, Some(Signal::HUP), r#"{"SIGHUP":1}"#),
    ];
    let handles: Vec<_> = cases
        .into_iter()
        .enumerate()
        .map(|(i, (what, on_terminal, signal, want))| {
            let ready = dir.path().join(format!("ready-{i}"));
            let mut cmd = launcher(app, &[ready.to_str().unwrap()]);
            cmd.env("LEAKTRAIL_BINARY", &counter);
            std::thread::spawn(move || {
                let (mut child, master, screen) = if on_terminal {
                    let (child, master, screen) = spawn_on_terminal(cmd);
                    (child, Some(master), Some(screen))
                } else {
                    let child = cmd.stdout(Stdio::piped()).spawn().expect("starts");
                    (child, None, None)
                };
                wait_for("the counter", || ready.exists());
                match (signal, &master) {
                    (Some(signal), _) => kill_process(pid(&child), signal).expect("sent"),
                    (None, Some(master)) => {
                        rustix::io::write(master, b"\x03").expect("Ctrl-C typed");
                    }
                    (None, None) => unreachable!(),
                }
                let status = wait_exit(&mut child, what);
                let out = match screen {
                    Some(screen) => screen.join().expect("reader"),
                    None => {
                        let mut out = String::new();
                        child
                            .stdout
                            .take()
                            .unwrap()
                            .read_to_string(&mut out)
                            .unwrap();
                        out
                    }
                };
                assert_eq!(status.code(), Some(7), "{what}: {status}: {out}");
                assert!(
                    out.contains(&format!("received {want}")),
                    "{what}: want {want}: {out}"
                );
            })
        })
        .collect();
    for h in handles {
        h.join().expect("case");
    }
}
