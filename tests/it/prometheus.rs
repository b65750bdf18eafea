//! leaktrail with the tools SREs run: the alert rules (`deploy/prometheus/`) pass
//! `promtool check rules` and their own unit tests (`promtool test rules`); a real
//! Prometheus server scrapes a real `leaktrail watch --serve` on loopback, answers queries
//! with its series, loads the rules and raises the watcher-down alert when the watcher
//! stops; the Grafana dashboard (`deploy/grafana/`) queries only metrics that a real
//! `/metrics` page names, so renaming a metric breaks these tests.
//!
//! Needs `promtool` and `prometheus` on PATH (Debian's `prometheus` package; `.ci/run`
//! installs it). Without them a test says `SKIPPED` on stderr, and fails under CI (`CI`
//! set), where they must be there.

use crate::common;

use std::collections::BTreeSet;
use std::io::BufRead;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::http::{request, serve};
use common::{node, s};

/// The repository's `deploy/` folder.
fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// `name` found on PATH; `None`, said loudly, when it is not there (a failure under CI).
fn tool(name: &str, test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    common::needs(
        found.is_some(),
        test,
        &format!("{name} on PATH"),
        "apt-get install prometheus",
    )
    .then_some(found)
    .flatten()
}

/// Runs `promtool COMMAND… FILE` and returns what it said, failing the test when it fails.
fn promtool(promtool: &Path, command: &[&str], file: &Path) -> String {
    let out = Command::new(promtool)
        .args(command)
        .arg(file)
        .output()
        .expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool {command:?} {} failed:\n{text}",
        file.display()
    );
    text
}

/// The alert names of a rule file, in order (`- alert: NAME` lines).
fn alert_names(rules: &str) -> Vec<String> {
    rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert:"))
        .map(|n| n.trim().to_owned())
        .collect()
}

#[test]
fn alert_rules_pass_promtool_check_and_their_unit_tests() {
    let _shared = crate::common::shared();
    let Some(promtool_bin) = tool(
        "promtool",
        "alert_rules_pass_promtool_check_and_their_unit_tests",
    ) else {
        return;
    };
    let rules = deploy().join("prometheus/leaktrail-rules.yml");
    let tests = deploy().join("prometheus/leaktrail-rules.test.yml");
    let started = Instant::now();
    let check = promtool(&promtool_bin, &["check", "rules"], &rules);
    eprintln!("promtool check rules:\n{check}");
    let text = std::fs::read_to_string(&rules).expect("rules readable");
    let names = alert_names(&text);
    assert!(
        check.contains(&format!("SUCCESS: {} rules found", names.len())),
        "{check}"
    );
    let unit = promtool(&promtool_bin, &["test", "rules"], &tests);
    eprintln!("promtool test rules:\n{unit}");
    assert!(unit.contains("SUCCESS"), "{unit}");
    // Every alert has a unit test that expects it to fire.
    let cases = std::fs::read_to_string(&tests).expect("rule tests readable");
    for name in &names {
        assert!(
            cases.contains(&format!("alertname: {name}")),
            "{name} has no case in {}",
            tests.display()
        );
    }
    // The production guide names every rule, so that a reader finds what pages them.
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/production.md"))
            .expect("docs/production.md readable");
    for name in &names {
        assert!(
            guide.contains(name.as_str()),
            "docs/production.md does not name {name}"
        );
    }
    eprintln!("promtool checks took {:?}", started.elapsed());
}

/// The metric names a `/metrics` page declares (`# TYPE` lines) or has samples of.
fn exported_metrics(page: &str) -> BTreeSet<String> {
    page.lines()
        .filter_map(|l| match l.strip_prefix("# TYPE ") {
            Some(rest) => rest.split(' ').next(),
            None if l.starts_with('#') || l.is_empty() => None,
            None => l.split(['{', ' ']).next(),
        })
        .map(str::to_owned)
        .collect()
}

/// Every `leaktrail_…` word in `text`: the metric names a rule file or dashboard mentions,
/// in queries, descriptions or comments alike.
fn leaktrail_words(text: &str) -> BTreeSet<String> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("leaktrail_") {
        let before = rest[..at].chars().next_back();
        let word: String = rest[at..].chars().take_while(|&c| is_word(c)).collect();
        if !before.is_some_and(is_word) {
            out.insert(word.clone());
        }
        rest = &rest[at + word.len()..];
    }
    out
}

/// Aggregation operators and keywords of PromQL: never metric names.
const PROMQL_WORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "atan2",
    "inf",
    "nan",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Keywords followed by a list of label names in parentheses.
const GROUPING: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names a PromQL expression selects: the identifiers that are not functions,
/// operators or keywords, outside strings, label matchers (`{…}`), ranges (`[…]`) and
/// label lists (`by (…)`). A small lexer rather than Prometheus's parser, which is Go;
/// the expressions are also given to the real parser (promtool, the server).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let is_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    // The index past the bracket that closes the one at `i`, strings inside skipped.
    let close = |i: usize, open: char, shut: char| {
        let mut depth = 0;
        let mut j = i;
        let mut quote = None;
        while j < chars.len() {
            let c = chars[j];
            match quote {
                Some(q) if c == '\\' && q != '`' => j += 1,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '"' || c == '\'' || c == '`' => quote = Some(c),
                None if c == open => depth += 1,
                None if c == shut => {
                    depth -= 1;
                    if depth == 0 {
                        return j + 1;
                    }
                }
                None => {}
            }
            j += 1;
        }
        chars.len()
    };
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            // To the closing quote (a backslash escapes in all but raw `…` strings).
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' && c != '`' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c == '{' {
            let end = close(i, '{', '}');
            // A selector by name in the matchers: `{__name__="x"}` selects x. A regular
            // expression (`=~`) is kept as written, which no metric is called: a query the
            // check cannot follow fails it rather than passing unseen.
            let matchers: String = chars[i..end].iter().collect();
            if let Some(at) = matchers.find("__name__") {
                let rest = matchers[at + "__name__".len()..].trim_start();
                match rest.strip_prefix('=').filter(|v| !v.starts_with('~')) {
                    Some(quoted) => {
                        let quoted = quoted.trim_start();
                        let name = quoted
                            .get(1..)
                            .and_then(|v| v.split(['"', '\'', '`']).next())
                            .unwrap_or(quoted);
                        names.insert(name.to_owned());
                    }
                    None => {
                        names.insert(format!("__name__{rest}"));
                    }
                }
            }
            i = end;
        } else if c == '[' {
            i = close(i, '[', ']');
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c.is_ascii_digit() || c == '.' {
            // Numbers and durations (5m, 1e3, 0x1f).
            while i < chars.len() && (is_ident(chars[i]) || chars[i] == '.') {
                i += 1;
            }
        } else if is_start(c) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let lower = word.to_ascii_lowercase();
            if GROUPING.contains(&lower.as_str()) && chars.get(next) == Some(&'(') {
                i = close(next, '(', ')');
            } else if PROMQL_WORDS.contains(&lower.as_str()) || chars.get(next) == Some(&'(') {
                // An operator, or a function called.
            } else {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn the_promql_lexer_finds_metric_names() {
    let _shared = crate::common::shared();
    let names = |e: &str| metric_names(e).into_iter().collect::<Vec<_>>();
    assert_eq!(
        names(
            r#"sum by (target) (rate(a_total{x="b{c}", y=~'d'}[5m] offset 1h)) / on (job) group_left (z) b"#
        ),
        ["a_total", "b"]
    );
    assert_eq!(
        names("count(up == 0) or vector(0) + time() - c unless d > bool 2e3"),
        ["c", "d", "up"]
    );
    assert_eq!(
        names(r#"{__name__="x", job="j"} * max without(a) (e)"#),
        ["e", "x"]
    );
    // A name matched by a regular expression is not one the check can confirm.
    assert_eq!(
        names(r#"{__name__=~"leaktrail_.*"}"#),
        [r#"__name__=~"leaktrail_.*"}"#]
    );
    assert_eq!(
        names("leaktrail_x:rate5m # a comment naming nothing_else"),
        ["leaktrail_x:rate5m"]
    );
}

/// Grafana's variables replaced by values Prometheus parses: `$__…` intervals by `5m`,
/// the dashboard's own (`$target`, `${instance}`) by `.*` (they sit in regex matchers).
fn substitute(expr: &str) -> String {
    let mut out = String::new();
    let mut rest = expr;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, len) = match after.strip_prefix('{') {
            Some(braced) => {
                let name = braced.split('}').next().unwrap_or("");
                (name, name.len() + 2)
            }
            None => {
                let len = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..len], len)
            }
        };
        out.push_str(if name.starts_with("__") { "5m" } else { ".*" });
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// The dashboard's PromQL: each panel target's `expr`, and each query variable's query
/// (`label_values(SELECTOR, label)` is Grafana's, around a selector), variables
/// substituted. Paired with where it is, for messages.
fn dashboard_queries(dashboard: &serde_json::Value) -> Vec<(String, String)> {
    fn panels<'a>(list: &'a serde_json::Value, out: &mut Vec<&'a serde_json::Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            // Rows hold their panels when collapsed.
            panels(&p["panels"], out);
        }
    }
    let mut all = Vec::new();
    panels(&dashboard["panels"], &mut all);
    let mut queries = Vec::new();
    for p in all {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {:?} has a target without expr: {t}", p["title"]));
            queries.push((format!("panel {:?}", p["title"]), substitute(expr)));
        }
    }
    for v in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if v["type"] != "query" {
            continue;
        }
        let q = v["query"]["query"]
            .as_str()
            .or(v["query"].as_str())
            .unwrap_or_else(|| panic!("variable {:?} has no query", v["name"]));
        let selector = q
            .strip_prefix("label_values(")
            .and_then(|inner| inner.rsplit_once(','))
            .map_or(q, |(selector, _label)| selector);
        queries.push((format!("variable {:?}", v["name"]), substitute(selector)));
    }
    queries
}

/// Loads the dashboard JSON (a test failure when it is not JSON).
fn dashboard() -> (String, serde_json::Value) {
    let path = deploy().join("grafana/leaktrail-dashboard.json");
    let text = std::fs::read_to_string(&path).expect("dashboard readable");
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    (text, json)
}

/// A watcher (`leaktrail watch … -- CMD`), stopped with SIGTERM when dropped — it then
/// stops the command it started, which SIGKILL would leave running — and killed if it
/// has not ended within 10 s.
struct Watcher(Child);

impl Watcher {
    /// Sends SIGTERM and waits (up to 10 s, then SIGKILL) for the watcher to end.
    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        if let Ok(Some(status)) = self.0.try_wait() {
            return Some(status);
        }
        if let Some(pid) = rustix::process::Pid::from_raw(self.0.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        self.0.wait().ok()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A process killed when dropped (the Prometheus server), so that a failing test leaves
/// nothing running.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Watches a short `node -e` script for `secs` and returns the store.
fn watched_store(root: &Path, secs: u32) -> PathBuf {
    let store = root.join("store");
    let out: Output = Command::new(env!("CARGO_BIN_EXE_leaktrail"))
        .args(["watch", "--store", s(&store), "--quiet"])
        .args(["--sample-every", "200ms", "--snapshot-every", "1h"])
        .args(["--duration", &format!("{secs}s"), "--"])
        .arg(node())
        .args([
            "-e",
            "const kept = []; setInterval(() => kept.push('x'.repeat(1000)), 50);",
        ])
        .output()
        .expect("watch runs");
    assert!(
        out.status.success(),
        "watch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    store
}

#[test]
fn dashboard_and_rules_name_only_metrics_leaktrail_exports() {
    let _shared = crate::common::shared();
    let started = Instant::now();
    let root = tempfile::tempdir().expect("tempdir");
    let store = watched_store(root.path(), 3);
    let server = serve(&store, &[]);
    let page = request(&server.addr, "GET", "/metrics", None);
    assert_eq!(page.status, 200, "{}", page.body);
    let exported = exported_metrics(&page.body);
    assert!(
        exported.contains("leaktrail_rss_bytes") && exported.contains("leaktrail_build_info"),
        "{exported:?}"
    );
    // The target's label is short: `node -e`, not the script's source.
    assert!(
        page.body
            .contains("leaktrail_rss_bytes{target=\"node -e\"} "),
        "{}",
        page.body
    );
    // Every leaktrail metric the dashboard and the rules mention, even in a description or
    // a comment, is one a real /metrics page has.
    let (text, json) = dashboard();
    let rules = std::fs::read_to_string(deploy().join("prometheus/leaktrail-rules.yml"))
        .expect("rules readable");
    for (file, words) in [
        ("dashboard", leaktrail_words(&text)),
        ("rules", leaktrail_words(&rules)),
    ] {
        let unknown: Vec<_> = words.difference(&exported).collect();
        assert!(
            unknown.is_empty(),
            "the {file} names metrics leaktrail does not export: {unknown:?} (exported: {exported:?})"
        );
    }
    // Each query selects leaktrail's metrics and nothing else.
    let queries = dashboard_queries(&json);
    assert!(queries.len() >= 10, "{queries:?}");
    for (place, expr) in &queries {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{place}: {expr} selects no metric");
        for name in &names {
            assert!(
                exported.contains(name),
                "{place}: {expr} selects {name}, which leaktrail does not export"
            );
        }
    }
    // The panels the dashboard promises.
    let titles: Vec<&str> = json["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter_map(|p| p["title"].as_str())
        .collect();
    for want in [
        "RSS per target",
        "V8 heap per target",
        "Growth rate",
        "Time to OOM",
        "Leaking targets",
        "Restarts",
    ] {
        assert!(titles.contains(&want), "no {want:?} panel in {titles:?}");
    }
    // And Prometheus's own parser takes every query: as recording rules for promtool.
    if let Some(promtool_bin) = tool(
        "promtool",
        "dashboard_and_rules_name_only_metrics_leaktrail_exports, its promtool parse of the queries",
    ) {
        let mut file = String::from("groups:\n  - name: dashboard\n    rules:\n");
        for (i, (_, expr)) in queries.iter().enumerate() {
            let quoted = serde_json::to_string(expr).expect("a JSON string is YAML");
            file.push_str(&format!(
                "      - record: dashboard_query_{i}\n        expr: {quoted}\n"
            ));
        }
        let path = root.path().join("dashboard-queries.yml");
        std::fs::write(&path, file).expect("rules written");
        let out = promtool(&promtool_bin, &["check", "rules"], &path);
        assert!(
            out.contains(&format!("SUCCESS: {} rules found", queries.len())),
            "{out}"
        );
    }
    eprintln!("the dashboard check took {:?}", started.elapsed());
}

/// A port free on loopback now: Prometheus cannot listen on port 0 and say which it got.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// Percent-encodes a query parameter.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prometheus's answer to a JSON API call, `data` of a `success`.
fn api(addr: &str, path: &str) -> serde_json::Value {
    let r = request(addr, "GET", path, None);
    let v = r.json();
    assert_eq!(v["status"], "success", "{path}: {}", r.body);
    v["data"].clone()
}

/// The instant vector a query returns.
fn query(addr: &str, expr: &str) -> Vec<serde_json::Value> {
    let data = api(addr, &format!("/api/v1/query?query={}", encode(expr)));
    data["result"].as_array().cloned().unwrap_or_default()
}

/// Polls `f` every 200 ms until it returns something or `deadline` passes.
fn until<T>(deadline: Instant, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Starts `prometheus` with `config`, its database and log under `root`, on a free
/// loopback port, and waits until it is ready. The port is free when picked but may be
/// taken before Prometheus binds it (the machine is shared): then another is tried.
fn start_prometheus(
    prometheus: &Path,
    config: &Path,
    root: &Path,
    deadline: Instant,
) -> (KillOnDrop, String) {
    let log_path = root.join("prometheus.log");
    for _attempt in 0..3 {
        let addr = format!("127.0.0.1:{}", free_port());
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut command = Command::new(prometheus);
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                root.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log);
        // SIGKILL when this test's thread ends, should the test process die before the
        // guard runs: a server left behind would hold its port and keep scraping.
        // SAFETY: the closure runs between fork and exec and makes one prctl call, which
        // is async-signal-safe, and allocates nothing.
        unsafe {
            use std::os::unix::process::CommandExt;
            command.pre_exec(|| {
                rustix::process::set_parent_process_death_signal(Some(
                    rustix::process::Signal::KILL,
                ))
                .map_err(std::io::Error::from)
            });
        }
        let mut server = KillOnDrop(command.spawn().expect("prometheus starts"));
        let ready = until(deadline, "Prometheus to be ready", || {
            if let Ok(Some(status)) = server.0.try_wait() {
                return Some(Err(status));
            }
            TcpStream::connect(&addr).ok()?;
            (request(&addr, "GET", "/-/ready", None).status == 200).then_some(Ok(()))
        });
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        match ready {
            Ok(()) => return (server, addr),
            Err(_) if log.contains("address already in use") => {
                eprintln!("{addr} was taken before Prometheus bound it; another port");
            }
            Err(status) => panic!("prometheus exited ({status}):\n{log}"),
        }
    }
    panic!("three free ports were taken before Prometheus could bind them")
}

#[test]
fn prometheus_scrapes_watch_serve_and_evaluates_the_rules() {
    let _shared = crate::common::shared();
    let Some(prometheus) = tool(
        "prometheus",
        "prometheus_scrapes_watch_serve_and_evaluates_the_rules",
    ) else {
        return;
    };
    let started = Instant::now();
    // The whole test, the servers' start-up included, is bounded.
    let deadline = started + Duration::from_secs(60);
    let root = tempfile::tempdir().expect("tempdir");
    let store = root.path().join("store");
    let scenarios = common::scenarios_dir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_leaktrail"))
        .args(["watch", "--store", s(&store), "--quiet"])
        .args(["--serve", "--listen", "127.0.0.1:0"])
        .args(["--sample-every", "200ms", "--snapshot-every", "1h"])
        // Ends on its own even if this test process is killed before its guards run.
        .args(["--duration", "90s", "--"])
        .arg(node())
        .arg(scenarios.join("runner.js"))
        .arg(scenarios.join("stream-registry-no-ttl.js"))
        .arg("--forever")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut watcher = Watcher(child);
    let mut lines = std::io::BufReader::new(stderr).lines();
    let leaktrail_addr = common::http::watch_serve_address(&mut lines);
    // Drained: a watcher writing to a pipe nobody reads would block.
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));

    let rules = deploy().join("prometheus/leaktrail-rules.yml");
    let config = root.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {rules}\n\
             scrape_configs:\n  - job_name: leaktrail\n    static_configs:\n      \
             - targets: ['{leaktrail_addr}']\n",
            rules = serde_json::to_string(s(&rules)).expect("a JSON string is YAML"),
        ),
    )
    .expect("config written");
    let (_server, prom_addr) = start_prometheus(&prometheus, &config, root.path(), deadline);
    eprintln!("prometheus ready after {:?}", started.elapsed());

    // Its query API returns leaktrail's series, under the short default target name.
    let rss = until(deadline, "leaktrail_rss_bytes in Prometheus", || {
        let result = query(&prom_addr, "leaktrail_rss_bytes");
        (!result.is_empty()).then_some(result)
    });
    eprintln!("first series after {:?}: {}", started.elapsed(), rss[0]);
    let metric = &rss[0]["metric"];
    assert_eq!(metric["job"], "leaktrail");
    assert_eq!(metric["instance"], leaktrail_addr.as_str());
    assert_eq!(metric["target"], "runner");
    let bytes: f64 = rss[0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no value in {}", rss[0]));
    assert!(bytes > 10e6, "RSS of a Node process: {bytes}");
    let up = query(&prom_addr, "up{job=\"leaktrail\"}");
    assert_eq!(up[0]["value"][1], "1", "{up:?}");
    let build = query(&prom_addr, "leaktrail_build_info");
    assert_eq!(
        build[0]["metric"]["version"],
        env!("CARGO_PKG_VERSION"),
        "{build:?}"
    );
    let heap = until(deadline, "a heap sample over the inspector", || {
        let result = query(&prom_addr, "leaktrail_heap_used_bytes");
        (!result.is_empty()).then_some(result)
    });
    assert_eq!(heap[0]["metric"]["target"], "runner");

    // The rules load, and every one has been evaluated without error.
    let exported = exported_metrics(&request(&leaktrail_addr, "GET", "/metrics", None).body);
    let want = alert_names(&std::fs::read_to_string(&rules).expect("rules readable"));
    let group = until(deadline, "every rule evaluated", || {
        let data = api(&prom_addr, "/api/v1/rules");
        let group = data["groups"]
            .as_array()?
            .iter()
            .find(|g| g["name"] == "leaktrail")
            .cloned()?;
        let healthy = group["rules"]
            .as_array()?
            .iter()
            .all(|r| r["health"] == "ok");
        healthy.then_some(group)
    });
    let loaded = group["rules"].as_array().expect("rules");
    let names: Vec<&str> = loaded.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, want);
    for r in loaded {
        let q = r["query"].as_str().expect("query");
        for name in metric_names(q) {
            assert!(
                exported.contains(&name) || name == "up",
                "{}: {q} selects {name}, which leaktrail does not export",
                r["name"]
            );
        }
    }

    // Every dashboard query runs on the real server, and the RSS panel shows the target.
    let (_, json) = dashboard();
    for (place, expr) in dashboard_queries(&json) {
        query(&prom_addr, &expr);
        if place.contains("RSS per target") {
            let result = query(&prom_addr, &expr);
            assert_eq!(result[0]["metric"]["target"], "runner", "{place}: {expr}");
        }
    }

    // The watcher stops: the scrapes fail, and the watcher-down rule sees it (pending
    // for its 5 minutes).
    let status = watcher.stop();
    assert!(
        status.is_some_and(|s| s.success()),
        "watch ended {status:?}"
    );
    let alert = until(deadline, "LeaktrailWatcherDown pending", || {
        let data = api(&prom_addr, "/api/v1/alerts");
        data["alerts"]
            .as_array()?
            .iter()
            .find(|a| a["labels"]["alertname"] == "LeaktrailWatcherDown")
            .cloned()
    });
    assert_eq!(alert["state"], "pending", "{alert}");
    assert_eq!(alert["labels"]["instance"], leaktrail_addr.as_str());
    assert_eq!(alert["labels"]["severity"], "warning");
    eprintln!(
        "prometheus scraped watch --serve and evaluated the rules in {:?}",
        started.elapsed()
    );
}
