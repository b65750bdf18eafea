#!/usr/bin/env node
// The `leaktrail` command of the npm package: runs the native binary that npm installed
// with it, in the package @leaktrail/<platform>-<arch> (an optional dependency; npm
// installs only the one whose `os` and `cpu` match this machine). No download, no
// install script. LEAKTRAIL_BINARY=PATH runs another binary instead (a build of your own).
//
// The binary's exit code is this command's exit code, and when the binary dies of a
// signal this process dies of the same signal. Signals sent to this process are passed
// on, once: SIGTERM and SIGHUP always (`kill`, `docker stop`, npm passing on what it
// got); SIGINT and SIGQUIT only when they were not typed on the terminal — Ctrl-C
// reaches the whole foreground process group, the binary included, and leaktrail takes
// a second SIGINT as "stop at once, write nothing".
"use strict";

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

function fail(message) {
  process.stderr.write(`leaktrail: ${message}\n`);
  // leaktrail's own exit code for a fault (0/1/3 are verdicts).
  process.exit(2);
}

function binaryPath() {
  const own = process.env.LEAKTRAIL_BINARY;
  if (own) {
    return own;
  }
  const platform = `${process.platform}-${process.arch}`;
  const pkg = `@leaktrail/${platform}`;
  const manifest = require(path.join(__dirname, "..", "package.json"));
  const known = Object.keys(manifest.optionalDependencies || {});
  if (!known.includes(pkg)) {
    fail(
      `no prebuilt binary for ${platform} (there are: ${known
        .map((p) => p.replace("@leaktrail/", ""))
        .join(", ")}); build one from a clone of leaktrail with ` +
        "`cargo install --locked --path .` and set LEAKTRAIL_BINARY to it, or run that binary directly",
    );
  }
  try {
    return require.resolve(`${pkg}/bin/leaktrail`);
  } catch {
    fail(
      `the package ${pkg}, which holds the binary for this machine, is not installed. npm leaves ` +
        "optional dependencies out with --omit=optional (or --no-optional), and a lockfile written " +
        `on another platform may not name it: install it, \`npm install --save-optional ${pkg}@${manifest.version}\`, ` +
        "or reinstall leaktrail without those options",
    );
  }
}

// True when this process is in the foreground process group of its terminal: a SIGINT or
// SIGQUIT then most likely came from the keyboard, to the whole group, the child too.
function inTerminalForeground() {
  try {
    // pid (comm) state ppid pgrp session tty_nr tpgid …; comm may hold spaces.
    const stat = fs.readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const pgrp = Number(fields[2]);
    const tpgid = Number(fields[5]);
    return tpgid > 0 && tpgid === pgrp;
  } catch {
    return false;
  }
}

const child = spawn(binaryPath(), process.argv.slice(2), { stdio: "inherit" });

const forwarded = {
  SIGTERM: () => true,
  SIGHUP: () => true,
  SIGINT: () => !inTerminalForeground(),
  SIGQUIT: () => !inTerminalForeground(),
};
for (const [signal, passOn] of Object.entries(forwarded)) {
  process.on(signal, () => {
    if (passOn() && child.pid !== undefined && child.exitCode === null) {
      try {
        child.kill(signal);
      } catch {
        // Already gone: its exit is on the way.
      }
    }
  });
}

child.on("error", (err) => {
  const bin = child.spawnfile;
  if (err.code === "ENOENT") {
    fail(`${bin}: no such file (set LEAKTRAIL_BINARY to an existing binary, or reinstall leaktrail)`);
  }
  if (err.code === "EACCES") {
    fail(`${bin}: not executable (a package manager that drops file modes? chmod +x it)`);
  }
  fail(`${bin}: cannot start: ${err.message}`);
});

child.on("exit", (code, signal) => {
  if (signal) {
    // Die of the same signal, with its default action: our handler goes first.
    process.removeAllListeners(signal);
    try {
      process.kill(process.pid, signal);
    } catch {
      // Fall through to the shell's convention below.
    }
    // A signal whose default action is not to end the process (none that kills the
    // binary by default is), or one we could not send ourselves.
    setTimeout(() => process.exit(128 + (os.constants.signals[signal] || 0)), 1000);
    return;
  }
  process.exit(code);
});
