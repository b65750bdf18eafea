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
    // The inspector sends Content-Length and closes; read at most 1 MiB either way.
    let mut raw = Vec::new();
    stream.take(1 << 20).read_to_end(&mut raw).map_err(io)?;
    let text = String::from_utf8_lossy(&raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Ok(None);
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
