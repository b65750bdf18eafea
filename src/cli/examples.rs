//! The "Examples:" section that ends each subcommand's long help (`--help`) and man page.
//!
//! Kept in one file so that they read as a set and are easy to check: `tests/it/cli_docs.rs`
//! runs every `leaktrail SUB …` line here through `SUB --help` and fails on a flag that does
//! not exist, so an example cannot outlive a renamed flag.

/// `leaktrail --help`.
pub const TOP: &str = "\
Examples:
  # The bundled example: a leaking order service writes three heap snapshots
  node examples/leaky-service.js out
  leaktrail leaks out/before.heapsnapshot out/middle.heapsnapshot out/after.heapsnapshot

  # A leak test for CI (exit 0 no leak, 1 leak, 2 fault, 3 inconclusive)
  leaktrail run --iterations 2000 --out results -- node --expose-gc test/load.js

  # A service in production, with its dashboard and /metrics on 127.0.0.1:7878
  leaktrail watch --pid 4242 --store /var/lib/leaktrail/api --serve

Guide: docs/guide.md in the repository; `leaktrail SUBCOMMAND --help` for each command.";

/// `leaktrail summary --help`.
pub const SUMMARY: &str = "\
Examples:
  # Totals, the 10 largest classes and the 5 largest objects with their paths
  leaktrail summary out/after.heapsnapshot --top 10 --largest 5

  # A first look at a large file: no dominators or paths, about half the memory
  leaktrail summary big.heapsnapshot --shallow

  # JSON for a script (schema: docs/json-schema.md)
  leaktrail summary out/after.heapsnapshot --format json > summary.json";

/// `leaktrail diff --help`.
pub const DIFF: &str = "\
Examples:
  # What grew between two snapshots of one process, top 10 classes
  leaktrail diff out/before.heapsnapshot out/after.heapsnapshot --top 10

  # Hide classes that moved by less than 64 KiB; count listeners per event too
  leaktrail diff out/before.heapsnapshot out/after.heapsnapshot --min-kb 64 --listeners

  # Per PID, the earliest against the latest snapshot of a lane `trace` wrote
  leaktrail diff --lane-dir trace-out/forks --pid 4242

  # Markdown to paste into an issue
  leaktrail diff out/before.heapsnapshot out/after.heapsnapshot --format markdown";

/// `leaktrail leaks --help`.
pub const LEAKS: &str = "\
Examples:
  # BASE, TARGET, FINAL: taken with the same amount of work between them (exit 1: a leak)
  leaktrail leaks out/before.heapsnapshot out/middle.heapsnapshot out/after.heapsnapshot

  # Four or more snapshots, oldest first: also collections that grew in every interval
  leaktrail leaks s-200.heapsnapshot s-800.heapsnapshot s-1400.heapsnapshot s-2000.heapsnapshot

  # The three largest clusters as JSON
  leaktrail leaks base.heapsnapshot target.heapsnapshot final.heapsnapshot --top 3 --format json";

/// `leaktrail retainers --help`.
pub const RETAINERS: &str = "\
Examples:
  # How the instances of a class are held: the 3 commonest path shapes
  leaktrail retainers out/after.heapsnapshot --class Order --paths 3

  # A closure class, as summary names it
  leaktrail retainers out/after.heapsnapshot --class 'onStatus()'

  # One object by the id DevTools shows after @
  leaktrail retainers out/after.heapsnapshot --id 92577";

/// `leaktrail run --help`.
pub const RUN: &str = "\
Examples:
  # A scenario that leaks: 2000 iterations, reports and snapshots in results/
  leaktrail run --iterations 2000 --out results -- \\
    node --expose-gc scenarios/runner.js scenarios/stream-registry-no-ttl.js --forever --print-every 25

  # A load test that ends by itself and prints `iteration=N`; JUnit in results/junit.xml
  leaktrail run --out results -- node --expose-gc test/load.js

  # Its own progress lines, and a check that no ScanInput survives the run
  leaktrail run --iteration-pattern 'req (\\d+) done' --expect-freed ScanInput -- node test/scan.js

  # By time, not iterations; a program that is not Node is judged by RSS
  leaktrail run --interval 1s --duration 5m --max-growth 10KB/s -- ./my-daemon

  # Where the kept memory was allocated: alloc-flame.svg in results/
  leaktrail run --alloc-profile --out results -- node --expose-gc test/load.js";

/// `leaktrail watch --help`.
pub const WATCH: &str = "\
Examples:
  # A running Node process (its inspector is opened with SIGUSR1 when it has none)
  leaktrail watch --pid 4242 --store /var/lib/leaktrail/api

  # Start the service, restart it when it dies, serve the dashboard and /metrics
  leaktrail watch --store st --restart --serve -- node server.js

  # Off loopback for Prometheus: a token is required (from the environment)
  LEAKTRAIL_TOKEN=... leaktrail watch --pid 4242 --store st --serve --listen 0.0.0.0:7878

  # RSS and threads only, no inspector; snapshots on the service's own signal
  leaktrail watch --pid 4242 --store st --no-inspector --sample-every 30s";

/// `leaktrail flame --help`.
pub const FLAME: &str = "\
Examples:
  # Profiles Node writes itself, one SVG each in flames/
  node --cpu-prof --cpu-prof-dir prof app.js
  leaktrail flame prof/*.cpuprofile --out-dir flames

  # One profile, one named SVG
  leaktrail flame results/alloc.heapprofile -o alloc.svg

  # Folded stacks for another flame-graph tool
  leaktrail flame prof/CPU.20261206.101500.4242.0.001.cpuprofile --folded > cpu.folded";

/// `leaktrail trace --help`.
pub const TRACE: &str = "\
Examples:
  # Every process of a Vitest run, a heap snapshot of each worker every minute
  leaktrail trace --snapshot-every 60s --out trace-out -- npx vitest run

  # node --test, fail (exit 1) when a process grows over 500 MB after start-up
  leaktrail trace --interval 200ms --fail-on-growth 500MB --format markdown -- node --test test/

  # Growth per test file from Jest's JSON report
  leaktrail trace --files-from jest.json -- npx jest --json --outputFile=jest.json";

/// `leaktrail trend --help`.
pub const TREND: &str = "\
Examples:
  # Every target of a store `leaktrail watch` writes
  leaktrail trend --store /var/lib/leaktrail/api

  # One target, as Markdown
  leaktrail trend --store /var/lib/leaktrail/api --target server --format markdown

  # A directory of .heapsnapshot files, with a higher floor
  leaktrail trend ./snapshots --floor 200MB/h";

/// `leaktrail serve --help`.
pub const SERVE: &str = "\
Examples:
  # The dashboard on http://127.0.0.1:7878/ while `watch` writes the store
  leaktrail serve --store /var/lib/leaktrail/api

  # For a Prometheus scraper on another host: a token is required off loopback
  LEAKTRAIL_TOKEN=$(cat /etc/leaktrail/token) leaktrail serve --store /var/lib/leaktrail/api --listen 0.0.0.0:7878

  # The trend as JSON from the API
  curl -H \"Authorization: Bearer $LEAKTRAIL_TOKEN\" http://127.0.0.1:7878/api/memory/trend";

/// `leaktrail completions --help`.
pub const COMPLETIONS: &str = "\
Examples:
  # bash (bash-completion loads it on first use)
  leaktrail completions bash > ~/.local/share/bash-completion/completions/leaktrail

  # zsh: a directory on $fpath
  leaktrail completions zsh > ~/.zfunc/_leaktrail

  # fish
  leaktrail completions fish > ~/.config/fish/completions/leaktrail.fish";

/// `leaktrail man --help`.
pub const MAN: &str = "\
Examples:
  # Read the page without installing it
  leaktrail man > leaktrail.1 && man ./leaktrail.1

  # One page per subcommand (leaktrail-run.1 …) into a man directory
  leaktrail man --dir /usr/local/share/man/man1";
