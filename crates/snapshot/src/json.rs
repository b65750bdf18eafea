//! A JSON validator for the values the parser passes over without keeping them.
//!
//! The header and the sections leaktrail does not need (`trace_function_infos`,
//! `trace_tree`, `samples`, `locations` and whatever newer V8 adds) are still checked to be
//! JSON, so that a file is accepted only if it is one JSON object. The validator is a state
//! machine fed block by block (a skipped section can be tens of MB and is never held whole)
//! with an explicit stack, so deep nesting cannot overflow the thread's stack.

use memchr::memchr2;

use crate::error::{describe_byte, ParseErrorKind};

/// Where the validator stands between two bytes.
#[derive(Clone, Copy, Debug)]
enum State {
    /// A value must come: after `:`, after `,` in an array, or at the start.
    Value,
    /// Just after `[`: a value or `]`.
    ValueOrEnd,
    /// After `,` in an object: a key.
    Key,
    /// Just after `{`: a key or `}`.
    KeyOrEnd,
    /// After a key: `:`.
    Colon,
    /// After a value inside a container: `,` or the closing bracket.
    Next,
    /// Inside a string (a key when `key`).
    Str { key: bool },
    /// Just after a backslash in a string.
    Escape { key: bool },
    /// Inside the four hex digits of a `\u` escape; `left` digits to go.
    Hex { key: bool, left: u8 },
    /// Inside a number.
    Num(Num),
    /// Inside `true`, `false` or `null`; `at` letters of `word` seen.
    Literal { word: &'static [u8], at: u8 },
}

/// The part of a number (RFC 8259 §6) read so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    Exp,
    ExpSign,
    ExpInt,
}

impl Num {
    /// Whether a number may end here.
    fn complete(self) -> bool {
        matches!(self, Num::Zero | Num::Int | Num::Frac | Num::ExpInt)
    }

    /// The next state on `b`, `None` when `b` does not continue the number.
    fn step(self, b: u8) -> Option<Num> {
        let digit = b.is_ascii_digit();
        match (self, b) {
            (Num::Minus, b'0') => Some(Num::Zero),
            (Num::Minus, _) if digit => Some(Num::Int),
            (Num::Int, _) if digit => Some(Num::Int),
            (Num::Zero | Num::Int, b'.') => Some(Num::Dot),
            (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Some(Num::Exp),
            (Num::Dot | Num::Frac, _) if digit => Some(Num::Frac),
            (Num::Exp, b'+' | b'-') => Some(Num::ExpSign),
            (Num::Exp | Num::ExpSign | Num::ExpInt, _) if digit => Some(Num::ExpInt),
            _ => None,
        }
    }
}

/// Validates one JSON value fed in pieces and finds where it ends.
pub(crate) struct Skipper {
    state: State,
    /// Open containers: `[` or `{`.
    stack: Vec<u8>,
}

impl Skipper {
    /// A validator expecting one value.
    pub(crate) fn new() -> Skipper {
        Skipper {
            state: State::Value,
            stack: Vec::new(),
        }
    }

    /// Feeds the next piece of text. Returns the position in `text` just after the value
    /// when it ends there, `None` when it goes on past `text`, or the position of an error.
    ///
    /// A number or literal at the top level ends at the first byte that does not continue
    /// it, so it is only found complete when such a byte follows (the parser's values are
    /// always followed by `,` or `}`).
    pub(crate) fn feed(&mut self, text: &[u8]) -> Result<Option<usize>, (usize, ParseErrorKind)> {
        let err = |i: usize, found: String| {
            Err((
                i,
                ParseErrorKind::Syntax {
                    found,
                    context: "a JSON value",
                },
            ))
        };
        let mut i = 0;
        while i < text.len() {
            if matches!(self.state, State::Value | State::Next) && self.stack.last() == Some(&b'[')
            {
                i = self.integers(text, i);
                if i == text.len() {
                    break;
                }
            }
            let b = text[i];
            match self.state {
                State::Str { key } => {
                    // Most of a skipped section is string contents: jump to what matters.
                    let Some(rel) = memchr2(b'"', b'\\', &text[i..]) else {
                        return Ok(None);
                    };
                    i += rel;
                    if text[i] == b'\\' {
                        self.state = State::Escape { key };
                        i += 1;
                        continue;
                    }
                    i += 1;
                    if key {
                        self.state = State::Colon;
                    } else if self.end_value() {
                        return Ok(Some(i));
                    }
                    continue;
                }
                State::Escape { key } => {
                    self.state = match b {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                            State::Str { key }
                        }
                        b'u' => State::Hex { key, left: 4 },
                        _ => return err(i, describe_byte(b)),
                    };
                }
                State::Hex { key, left } => {
                    if !b.is_ascii_hexdigit() {
                        return err(i, describe_byte(b));
                    }
                    self.state = if left == 1 {
                        State::Str { key }
                    } else {
                        State::Hex {
                            key,
                            left: left - 1,
                        }
                    };
                }
                State::Num(n) => match n.step(b) {
                    Some(next) => self.state = State::Num(next),
                    None if n == Num::Zero && b.is_ascii_digit() => {
                        // Reported at the digit after the zero: the zero may lie in an
                        // earlier piece.
                        return err(i, "a number with a leading zero".into());
                    }
                    None if !n.complete() => return err(i, describe_byte(b)),
                    None => {
                        // The number ended before `b`, which is looked at again.
                        if self.end_value() {
                            return Ok(Some(i));
                        }
                        continue;
                    }
                },
                State::Literal { word, at } => {
                    if word.get(at as usize) != Some(&b) {
                        return err(i, describe_byte(b));
                    }
                    if at as usize + 1 < word.len() {
                        self.state = State::Literal { word, at: at + 1 };
                    } else if self.end_value() {
                        return Ok(Some(i + 1));
                    }
                }
                _ if matches!(b, b' ' | b'\n' | b'\r' | b'\t') => {}
                State::Value | State::ValueOrEnd => {
                    if b == b']' && matches!(self.state, State::ValueOrEnd) {
                        self.stack.pop();
                        if self.end_value() {
                            return Ok(Some(i + 1));
                        }
                    } else {
                        self.state = match b {
                            b'"' => State::Str { key: false },
                            b'[' | b'{' => {
                                self.stack.push(b);
                                if b == b'[' {
                                    State::ValueOrEnd
                                } else {
                                    State::KeyOrEnd
                                }
                            }
                            b'-' => State::Num(Num::Minus),
                            b'0' => State::Num(Num::Zero),
                            b'1'..=b'9' => State::Num(Num::Int),
                            b't' => State::Literal {
                                word: b"true",
                                at: 1,
                            },
                            b'f' => State::Literal {
                                word: b"false",
                                at: 1,
                            },
                            b'n' => State::Literal {
                                word: b"null",
                                at: 1,
                            },
                            _ => return err(i, describe_byte(b)),
                        };
                    }
                }
                State::Key | State::KeyOrEnd => {
                    if b == b'}' && matches!(self.state, State::KeyOrEnd) {
                        self.stack.pop();
                        if self.end_value() {
                            return Ok(Some(i + 1));
                        }
                    } else if b == b'"' {
                        self.state = State::Str { key: true };
                    } else {
                        return err(i, describe_byte(b));
                    }
                }
                State::Colon => {
                    if b != b':' {
                        return err(i, describe_byte(b));
                    }
                    self.state = State::Value;
                }
                State::Next => {
                    let top = self.stack.last().copied();
                    match (b, top) {
                        (b',', Some(b'[')) => self.state = State::Value,
                        (b',', Some(_)) => self.state = State::Key,
                        (b']', Some(b'[')) | (b'}', Some(b'{')) => {
                            self.stack.pop();
                            if self.end_value() {
                                return Ok(Some(i + 1));
                            }
                        }
                        _ => return err(i, describe_byte(b)),
                    }
                }
            }
            i += 1;
        }
        Ok(None)
    }

    /// The fast path for arrays of integers (`locations`, `samples` and `trace_tree` are
    /// mostly that, tens of MB): takes `1,23,456` in a tight loop from `i` in the states
    /// `Value` and `Next` and returns where it stopped, leaving anything else (white space,
    /// a leading zero, a fraction, the closing bracket) to the general loop. Without it
    /// validating the skipped sections cost about a tenth of a whole parse.
    fn integers(&mut self, text: &[u8], mut i: usize) -> usize {
        let n = text.len();
        let mut want_value = matches!(self.state, State::Value);
        while i < n {
            if want_value {
                if !matches!(text[i], b'1'..=b'9') {
                    break;
                }
                let start = i;
                i += 1;
                while i < n && text[i].is_ascii_digit() {
                    i += 1;
                }
                if i == n || matches!(text[i], b'.' | b'e' | b'E') {
                    // The number may go on in the next piece, or has a fraction or an
                    // exponent: the general loop takes it from its first digit.
                    i = start;
                    break;
                }
                want_value = false;
            } else if text[i] == b',' {
                i += 1;
                want_value = true;
            } else {
                break;
            }
        }
        self.state = if want_value {
            State::Value
        } else {
            State::Next
        };
        i
    }

    /// A value just ended: true when it was the outermost one.
    fn end_value(&mut self) -> bool {
        self.state = State::Next;
        self.stack.is_empty()
    }
}

/// Validates the value at the start of `text`, held whole, and returns where it ends; a
/// value that goes on past `text` is reported as truncated at its end.
pub(crate) fn value_end(text: &[u8], what: &'static str) -> Result<usize, (usize, ParseErrorKind)> {
    Skipper::new()
        .feed(text)?
        .ok_or((text.len(), ParseErrorKind::Truncated(what)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end of the value at the start of `text`, fed whole and one byte at a time.
    fn end(text: &str) -> Result<Option<usize>, usize> {
        let whole = Skipper::new().feed(text.as_bytes()).map_err(|(p, _)| p);
        let mut s = Skipper::new();
        let mut bytewise = Ok(None);
        for (i, b) in text.as_bytes().iter().enumerate() {
            match s.feed(std::slice::from_ref(b)) {
                Ok(Some(e)) => {
                    bytewise = Ok(Some(i + e));
                    break;
                }
                Ok(None) => {}
                Err((p, _)) => {
                    bytewise = Err(i + p);
                    break;
                }
            }
        }
        assert_eq!(whole, bytewise, "{text:?}");
        whole
    }

    #[test]
    fn finds_the_end_of_values() {
        assert_eq!(end(r#"[1,2,3],"#), Ok(Some(7)));
        assert_eq!(end(r#"{"a":[{"b":"]}\"x"}],"c":null}}"#), Ok(Some(30)));
        assert_eq!(end(r#""str\u00e9ing" ,"#), Ok(Some(14)));
        assert_eq!(end("-0.5e+10,"), Ok(Some(8)));
        assert_eq!(end("0}"), Ok(Some(1)));
        assert_eq!(end("true,"), Ok(Some(4)));
        assert_eq!(end("[ ] "), Ok(Some(3)));
        assert_eq!(end("{ }"), Ok(Some(3)));
        assert_eq!(end("[[[[]]]]"), Ok(Some(8)));
        assert_eq!(end("[1,22,333,0,4.5,6e1,-7, 8 ,9,10]}"), Ok(Some(32)));
        assert_eq!(end("[[1,2],[3,40]],"), Ok(Some(14)));
        // Goes on past the text.
        assert_eq!(end("[1,2"), Ok(None));
        assert_eq!(end("12"), Ok(None));
        assert_eq!(end(r#""abc\"#), Ok(None));
    }

    #[test]
    fn refuses_what_is_not_json() {
        assert_eq!(end("[007]"), Err(2));
        assert_eq!(end("[1,007]"), Err(4));
        assert_eq!(end("-01,"), Err(2));
        assert_eq!(end("[1,,2]"), Err(3));
        assert_eq!(end("[1 2]"), Err(3));
        assert_eq!(end("[1,]"), Err(3));
        assert_eq!(end("{\"a\" 1}"), Err(5));
        assert_eq!(end("{1:2}"), Err(1));
        assert_eq!(end("[1}"), Err(2));
        assert_eq!(end("tru,"), Err(3));
        assert_eq!(end("1.,"), Err(2));
        assert_eq!(end("1e,"), Err(2));
        assert_eq!(end("-,"), Err(1));
        assert_eq!(end(r#""\x""#), Err(2));
        assert_eq!(end(r#""\u12g4""#), Err(5));
        assert_eq!(end("x"), Err(0));
    }
}
