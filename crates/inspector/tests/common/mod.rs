//! Starting a real Node with its inspector, for the tests against a live process.

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStderr, Command, Stdio};

use leaktrail_inspector::listening_url;

/// `node --inspect=127.0.0.1:0 -e SCRIPT`, and the inspector URL it printed; Node is
/// killed when it prints none.
pub fn node_with_inspector(script: &str) -> (Child, String) {
    let (child, url, _) = node_with_inspector_and_stderr(script);
    (child, url)
}

/// As [`node_with_inspector`], with the rest of Node's stderr to read.
pub fn node_with_inspector_and_stderr(
    script: &str,
) -> (Child, String, Lines<BufReader<ChildStderr>>) {
    let mut child = Command::new("node")
        .arg("--inspect=127.0.0.1:0")
        .arg("-e")
        .arg(script)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("node starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| listening_url(&line).map(str::to_owned));
    match url {
        Some(url) => (child, url, lines),
        None => {
            let _ = child.kill();
            panic!("Node printed no inspector URL");
        }
    }
}
