//! [`Source`]: the parser's window on the file, read block by block.
//!
//! The file is read with `read()` into one buffer, never memory-mapped: a mapped file that
//! another process truncates (Node still writing it, log rotation) kills the reader with
//! SIGBUS, while a read simply ends early and becomes an error. The buffer holds only what
//! the parser may still look at — about one batch of parallel chunks, whatever the file's
//! size — so peak memory is the columns plus a few MB, as it was with the mapping's pages
//! released as they were parsed.

use std::io::Read;

use crate::error::{Located, ParseErrorKind};

/// A window on the first `len` bytes of a reader. Positions are always offsets from the
/// start of the input, never into the buffer.
pub(crate) struct Source<'a> {
    reader: &'a mut dyn Read,
    /// `buf[..filled]` holds the input's bytes `base..base + filled`.
    buf: Vec<u8>,
    filled: usize,
    base: usize,
    /// The input's length, as known when it was opened; for a stream, the most it may be
    /// until the stream ends, then its length.
    len: usize,
    /// Least bytes a read asks for, so that small requests do not cost a system call each.
    block: usize,
    /// A stream of unknown length (a pipe): its end is where it ends, not an error.
    stream: bool,
}

impl<'a> Source<'a> {
    /// A source over the first `len` bytes of `reader`, read `block` bytes or more at a time.
    pub(crate) fn new(reader: &'a mut dyn Read, len: usize, block: usize) -> Source<'a> {
        Source {
            reader,
            buf: Vec::new(),
            filled: 0,
            base: 0,
            len,
            block: block.max(1),
            stream: false,
        }
    }

    /// A source over a stream of unknown length, at most `max_len` bytes (more is an
    /// error: a bound on what a hostile or runaway stream can make the parser hold).
    pub(crate) fn stream(reader: &'a mut dyn Read, max_len: usize, block: usize) -> Source<'a> {
        Source {
            stream: true,
            ..Source::new(reader, max_len, block)
        }
    }

    /// For a stream read up to its limit: whether it ends there (one more read gives
    /// nothing). True for anything else.
    pub(crate) fn ends_at_limit(&mut self) -> Result<bool, Located> {
        if !self.stream || self.end() < self.len {
            return Ok(true);
        }
        let mut one = [0u8; 1];
        loop {
            match self.reader.read(&mut one) {
                Ok(0) => {
                    self.stream = false;
                    return Ok(true);
                }
                Ok(_) => return Ok(false),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Located::at(self.end() as u64, ParseErrorKind::Io(e))),
            }
        }
    }

    /// The input's length.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The least a read asks for.
    pub(crate) fn block(&self) -> usize {
        self.block
    }

    /// One past the last byte held.
    pub(crate) fn end(&self) -> usize {
        self.base + self.filled
    }

    /// True when the bytes held reach the end of the input.
    pub(crate) fn complete(&self) -> bool {
        self.end() >= self.len
    }

    /// The bytes held from `pos` on (empty when `pos` is not read yet).
    pub(crate) fn window(&self, pos: usize) -> Result<&[u8], Located> {
        match pos.checked_sub(self.base) {
            Some(rel) => Ok(self.buf[..self.filled].get(rel..).unwrap_or_default()),
            // A caller asked for bytes it had said it was done with: a bug, reported as an
            // error rather than a panic.
            None => Err(Located::at(
                pos as u64,
                ParseErrorKind::NotASnapshot("internal: read position went back".into()),
            )),
        }
    }

    /// Reads until the bytes up to `want` (or the end of the input) are held, first
    /// dropping those before `keep`, which the caller will not look at again.
    pub(crate) fn fill(&mut self, keep: usize, want: usize) -> Result<(), Located> {
        let want = want.min(self.len);
        if want <= self.end() {
            return Ok(());
        }
        let drop = keep.saturating_sub(self.base).min(self.filled);
        if drop > 0 {
            self.buf.copy_within(drop..self.filled, 0);
            self.filled -= drop;
            self.base += drop;
        }
        let target = want.max(self.end() + self.block).min(self.len);
        let need = target - self.base;
        if self.buf.len() < need {
            // Grown (and zeroed) only when a larger window than ever is needed.
            self.buf.resize(need, 0);
        }
        while self.end() < target {
            match self.reader.read(&mut self.buf[self.filled..need]) {
                // A stream ends where it ends: from now on its length is known.
                Ok(0) if self.stream => {
                    self.stream = false;
                    self.len = self.end();
                    return Ok(());
                }
                Ok(0) => {
                    return Err(Located::at(
                        self.end() as u64,
                        ParseErrorKind::ChangedSize {
                            was: self.len as u64,
                            now: self.end() as u64,
                        },
                    ))
                }
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Located::at(self.end() as u64, ParseErrorKind::Io(e))),
            }
        }
        Ok(())
    }

    /// The byte at `pos`, `None` past the end of the input.
    #[inline]
    pub(crate) fn byte(&mut self, pos: usize) -> Result<Option<u8>, Located> {
        if pos >= self.end() {
            if pos >= self.len {
                return Ok(None);
            }
            self.fill(pos, pos + 1)?;
        }
        Ok(self.window(pos)?.first().copied())
    }

    /// Runs `read` on the bytes from `pos` on until it has what it needs: `read` gets the
    /// bytes held and whether they reach the end of the input, and returns a result or an
    /// error at a position relative to `pos`. A [`ParseErrorKind::Truncated`] error before
    /// the end of the input means "more bytes": the window is doubled and `read` runs again,
    /// so a token is always seen whole. Bytes before `pos` are dropped.
    pub(crate) fn token<T>(
        &mut self,
        pos: usize,
        mut read: impl FnMut(&[u8], bool) -> Result<T, (usize, ParseErrorKind)>,
    ) -> Result<T, Located> {
        // `read` always gets at least one byte, unless the input has ended.
        self.fill(pos, pos + 1)?;
        loop {
            let complete = self.complete();
            match read(self.window(pos)?, complete) {
                Ok(v) => return Ok(v),
                Err((_, ParseErrorKind::Truncated(_))) if !complete => {
                    let more = self.end().saturating_sub(pos).max(self.block);
                    self.fill(pos, self.end() + more)?;
                }
                Err((at, kind)) => return Err(Located::at((pos + at) as u64, kind)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns at most `step` bytes per call.
    struct Dribble<'a>(&'a [u8], usize);

    impl Read for Dribble<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(out.len()).min(self.1);
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn reads_windows_and_drops_what_is_done() {
        let text: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let mut r = Dribble(&text, 7);
        let mut s = Source::new(&mut r, text.len(), 16);
        assert_eq!(s.byte(0).expect("read"), Some(0));
        assert_eq!(s.byte(5000).expect("read"), Some(text[5000]));
        assert!(s.window(10).is_err(), "dropped");
        assert_eq!(s.byte(9999).expect("read"), Some(text[9999]));
        assert_eq!(s.byte(10_000).expect("read"), None);
        assert!(s.complete());
    }

    #[test]
    fn a_short_input_is_a_changed_size() {
        let text = [b'x'; 100];
        let mut r = &text[..];
        let mut s = Source::new(&mut r, 1000, 16);
        let e = s.fill(0, 500).expect_err("shorter than said");
        assert!(
            matches!(
                e.kind,
                ParseErrorKind::ChangedSize {
                    was: 1000,
                    now: 100
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn tokens_grow_the_window_until_whole() {
        let text = br#""a long string that crosses many blocks","#;
        let mut r = &text[..];
        let mut s = Source::new(&mut r, text.len(), 4);
        let end = s
            .token(0, |t, complete| match memchr::memchr(b'"', &t[1..]) {
                Some(q) => Ok(q + 2),
                None if complete => Err((t.len(), ParseErrorKind::Overflow("x"))),
                None => Err((t.len(), ParseErrorKind::Truncated("a string"))),
            })
            .expect("whole");
        assert_eq!(end, text.len() - 1);
    }
}
