//! Finding the WebSocket URL of an inspector that is already listening (a process that got
//! `SIGUSR1`, or was started with `--inspect`): its HTTP endpoint `/json/list` names it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde::Deserialize;

use crate::InspectorError;

#[derive(Deserialize)]
struct ListEntry {
    #[serde(rename = "webSocketDebuggerUrl")]
    url: Option<String>,
}

/// The debugger URL served on `127.0.0.1:port`, or `None` when that port is not a Node
/// inspector (another server of the process).
pub fn url_on_port(port: u16) -> Result<Option<String>, InspectorError> {
    let io = |e: std::io::Error| InspectorError::BadAnswer {
        method: format!("GET http://127.0.0.1:{port}/json/list"),
        detail: e.to_string(),
    };
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(io)?;
    write!(
        stream,
        "GET /json/list HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    // Node's inspector answers with a Content-Length but may keep the connection open:
    // read until the body is complete, not until the peer closes.
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let (head, body) = loop {
        let n = stream.read(&mut buf).map_err(io)?;
        if n == 0 {
            break split_response(&raw).unwrap_or_default();
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.len() > 1 << 20 {
            return Ok(None);
        }
        if let Some((head, body)) = split_response(&raw) {
            let length = head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())
                    .flatten()
            });
            if length.is_some_and(|len| body.len() >= len) {
                break (head, body);
            }
        }
    };
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Ok(None);
    }
    let entries: Vec<ListEntry> = match serde_json::from_str(body.trim()) {
        Ok(e) => e,
        Err(_) => return Ok(None),
    };
    Ok(entries.into_iter().find_map(|e| e.url))
}

/// Splits an HTTP response into its head and body, once the head is complete.
fn split_response(raw: &[u8]) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.to_owned(), body.to_owned()))
}
