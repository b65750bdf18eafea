//! Lines of a child's output, read as bytes.
//!
//! A workload's output is not ours to judge: a byte that is not UTF-8, or a line of a
//! megabyte with no newline, must neither stop the reading (the child would then die of
//! EPIPE, and the run would blame it) nor grow leaktrail's memory without bound.

use std::borrow::Cow;
use std::io::{BufRead, ErrorKind, Read};

/// The longest line handed on; the rest of a longer one is read as further lines.
pub const MAX_LINE: usize = 64 * 1024;

/// Calls `f` with each line of `reader` (without its line ending; bytes that are not UTF-8
/// shown as U+FFFD) until the end of the stream, a read error, or `f` returns false.
pub fn for_each_line(mut reader: impl BufRead, mut f: impl FnMut(Cow<'_, str>) -> bool) {
    let mut buf = Vec::with_capacity(256);
    loop {
        buf.clear();
        match (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut buf)
        {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
        let mut line = buf.as_slice();
        if let Some(rest) = line.strip_suffix(b"\n") {
            line = rest;
        }
        if let Some(rest) = line.strip_suffix(b"\r") {
            line = rest;
        }
        if !f(String::from_utf8_lossy(line)) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for_each_line(bytes, |l| {
            out.push(l.into_owned());
            true
        });
        out
    }

    #[test]
    fn reads_past_bytes_that_are_not_utf8() {
        assert_eq!(
            lines(b"a\xff\xfeb\r\niteration=1\nlast"),
            ["a\u{fffd}\u{fffd}b", "iteration=1", "last"]
        );
    }

    #[test]
    fn cuts_a_line_longer_than_the_limit() {
        let mut bytes = vec![b'x'; MAX_LINE + 10];
        bytes.extend_from_slice(b"\niteration=2\n");
        let got = lines(&bytes);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].len(), MAX_LINE);
        assert_eq!(got[1], "x".repeat(10));
        assert_eq!(got[2], "iteration=2");
    }

    #[test]
    fn stops_when_asked() {
        let mut n = 0;
        for_each_line(&b"1\n2\n3\n"[..], |_| {
            n += 1;
            n < 2
        });
        assert_eq!(n, 2);
    }
}
