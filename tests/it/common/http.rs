//! A `leaktrail serve` process for tests, and a minimal HTTP/1.1 client to query it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `leaktrail serve`, killed when dropped.
pub struct ServeProcess {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `leaktrail serve --store STORE EXTRA…` (on `127.0.0.1:0` unless EXTRA has a
/// `--listen`) and waits for the address it prints.
pub fn serve(store: &Path, extra: &[&str]) -> ServeProcess {
    start(Command::new(env!("CARGO_BIN_EXE_leaktrail")), store, extra)
}

/// [`serve`] with the server's open-file limit lowered to `nofile` (`ulimit -n` in a
/// shell that then becomes the server), as on a host whose default is low.
pub fn serve_with_nofile(store: &Path, extra: &[&str], nofile: u32) -> ServeProcess {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_leaktrail"));
    start(sh, store, extra)
}

fn start(mut command: Command, store: &Path, extra: &[&str]) -> ServeProcess {
    let listen: &[&str] = if extra.contains(&"--listen") {
        &[]
    } else {
        &["--listen", "127.0.0.1:0"]
    };
    let mut child = command
        .arg("serve")
        .arg("--store")
        .arg(store)
        .args(listen)
        .args(extra)
        .env_remove("LEAKTRAIL_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("leaktrail serve starts");
    let mut line = String::new();
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    stderr.read_line(&mut line).expect("stderr readable");
    // Drained to the end: a server writing to a pipe nobody reads would block or fail.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    ServeProcess { child, addr }
}

/// An HTTP answer.
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Reply {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (fails the test when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Sends one request (`Connection: close`) and reads the whole answer.
pub fn request(addr: &str, method: &str, path: &str, token: Option<&str>) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| ("Authorization", a))
        .into_iter()
        .collect();
    request_with(addr, method, path, &headers)
}

/// Sends one request with these headers (a `Host` among them replaces the default one).
pub fn request_with(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\nContent-Length: 0\r\n\r\n");
    request_raw(addr, head.as_bytes())
}

/// Sends these bytes as they are (a request the helpers above would not write: no
/// `Host`, two of them) and reads the whole answer.
pub fn request_raw(addr: &str, request: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("server reachable");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    stream.write_all(request).expect("request sent");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("answer read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body: String::from_utf8(body).expect("UTF-8 body"),
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..end])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .expect("chunk size");
        data = &data[end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// The address `watch --serve` says it serves on, read from its stderr lines (the lines
/// after it are left to the caller, who must drain them).
pub fn watch_serve_address(
    lines: &mut std::io::Lines<BufReader<std::process::ChildStderr>>,
) -> String {
    lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("leaktrail watch: serving http://")
                .map(|a| a.trim_end_matches('/').to_owned())
        })
        .expect("watch --serve says where it serves")
}
