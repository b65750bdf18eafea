//! The strings table and the JSON string decoder.
//!
//! V8 writes every non-ASCII character as a `\uXXXX` escape, pairs of them for characters
//! outside the BMP, and sometimes a lone surrogate (a string cut in the middle of a pair).
//! Lone surrogates cannot be represented in UTF-8; they become U+FFFD, as `String::from_utf16_lossy`
//! would do. Raw UTF-8 bytes (other writers) are accepted and invalid sequences replaced.

use memchr::memchr2;

use crate::error::{describe_byte, ParseErrorKind};

/// Every string of a snapshot, stored once in one buffer.
#[derive(Clone, Debug, Default)]
pub struct StringTable {
    data: String,
    /// `offsets[i]..offsets[i + 1]` is string `i` in `data`.
    offsets: Vec<usize>,
}

impl StringTable {
    /// An empty table.
    pub fn new() -> StringTable {
        StringTable {
            data: String::new(),
            offsets: vec![0],
        }
    }

    /// Number of strings.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// True when the table holds no string.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// String `index`, or `None` past the end.
    pub fn get(&self, index: usize) -> Option<&str> {
        let start = *self.offsets.get(index)?;
        let end = *self.offsets.get(index + 1)?;
        Some(&self.data[start..end])
    }

    /// Bytes held by the table.
    pub fn heap_bytes(&self) -> usize {
        self.data.capacity() + self.offsets.capacity() * std::mem::size_of::<usize>()
    }

    /// Appends a decoded string.
    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) {
        match std::str::from_utf8(bytes) {
            Ok(s) => self.data.push_str(s),
            Err(_) => self.data.push_str(&String::from_utf8_lossy(bytes)),
        }
        self.offsets.push(self.data.len());
    }
}

/// Decodes the JSON string whose opening quote is at `bytes[start - 1]`, appending its
/// contents to `out`. Returns the position just past the closing quote, or the position of
/// the problem.
pub(crate) fn decode_json_string(
    bytes: &[u8],
    start: usize,
    out: &mut Vec<u8>,
) -> Result<usize, (usize, ParseErrorKind)> {
    let mut pos = start;
    loop {
        let Some(rel) = memchr2(b'"', b'\\', &bytes[pos..]) else {
            return Err((bytes.len(), ParseErrorKind::Truncated("a string")));
        };
        out.extend_from_slice(&bytes[pos..pos + rel]);
        pos += rel;
        if bytes[pos] == b'"' {
            return Ok(pos + 1);
        }
        // A backslash escape.
        let Some(&esc) = bytes.get(pos + 1) else {
            return Err((bytes.len(), ParseErrorKind::Truncated("a string escape")));
        };
        pos += 2;
        let simple = match esc {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'u' => None,
            other => {
                return Err((
                    pos - 1,
                    ParseErrorKind::Syntax {
                        found: describe_byte(other),
                        context: "a string escape",
                    },
                ))
            }
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let unit = hex4(bytes, pos)?;
        pos += 4;
        let ch = if (0xD800..0xDC00).contains(&unit) {
            // A high surrogate: combine with a following low surrogate, else it is lone.
            let low = if bytes.get(pos..pos + 2) == Some(b"\\u") {
                hex4(bytes, pos + 2).ok()
            } else {
                None
            };
            match low {
                Some(low @ 0xDC00..=0xDFFF) => {
                    pos += 6;
                    let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                    char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER)
                }
                _ => char::REPLACEMENT_CHARACTER,
            }
        } else {
            // A lone low surrogate maps to U+FFFD too.
            char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER)
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
}

fn hex4(bytes: &[u8], pos: usize) -> Result<u32, (usize, ParseErrorKind)> {
    let Some(digits) = bytes.get(pos..pos + 4) else {
        return Err((bytes.len(), ParseErrorKind::Truncated("a \\u escape")));
    };
    let mut v = 0u32;
    for (i, &d) in digits.iter().enumerate() {
        let n = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => {
                return Err((
                    pos + i,
                    ParseErrorKind::Syntax {
                        found: describe_byte(d),
                        context: "a \\u escape",
                    },
                ))
            }
        };
        v = v * 16 + n as u32;
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let end = decode_json_string(bytes, 1, &mut out).expect("decodes");
        assert_eq!(end, bytes.len());
        let mut table = StringTable::new();
        table.push_bytes(&out);
        table.get(0).expect("one string").to_owned()
    }

    #[test]
    fn plain_and_simple_escapes() {
        assert_eq!(decode(r#""abc""#), "abc");
        assert_eq!(decode(r#""a\"b\\c\/d\n\t""#), "a\"b\\c/d\n\t");
    }

    #[test]
    fn bmp_and_surrogate_pairs() {
        assert_eq!(decode(r#""caf\u00e9""#), "café");
        assert_eq!(decode(r#""\ud83d\ude00!""#), "😀!");
        assert_eq!(decode(r#""\uD83D\uDE00""#), "😀");
    }

    #[test]
    fn lone_surrogates_become_replacement() {
        assert_eq!(decode(r#""a\ud800b""#), "a\u{fffd}b");
        assert_eq!(decode(r#""a\udc00b""#), "a\u{fffd}b");
        // High surrogate followed by a non-surrogate escape: both kept, the first replaced.
        assert_eq!(decode(r#""\ud800\u0041""#), "\u{fffd}A");
        // Two high surrogates in a row.
        assert_eq!(decode(r#""\ud800\ud800\udc00""#), "\u{fffd}𐀀");
    }

    #[test]
    fn raw_utf8_and_invalid_bytes() {
        assert_eq!(decode("\"grüße\""), "grüße");
        let mut out = Vec::new();
        decode_json_string(b"\"a\xffb\"", 1, &mut out).expect("decodes");
        let mut table = StringTable::new();
        table.push_bytes(&out);
        assert_eq!(table.get(0), Some("a\u{fffd}b"));
    }

    #[test]
    fn errors() {
        let mut out = Vec::new();
        assert!(matches!(
            decode_json_string(b"\"abc", 1, &mut out),
            Err((_, ParseErrorKind::Truncated(_)))
        ));
        assert!(matches!(
            decode_json_string(br#""\x""#, 1, &mut out),
            Err((2, ParseErrorKind::Syntax { .. }))
        ));
        assert!(matches!(
            decode_json_string(br#""\u12g4""#, 1, &mut out),
            Err((5, ParseErrorKind::Syntax { .. }))
        ));
        assert!(matches!(
            decode_json_string(br#""\u12"#, 1, &mut out),
            Err((_, ParseErrorKind::Truncated(_)))
        ));
    }
}
