//! The integer arrays' scanner: cuts an array's text into chunks on record boundaries,
//! scans each batch of chunks in parallel into its sinks ([`super::sinks`]). The hot loop
//! (`scan_chunk`) is hand-written: see the parent module's doc for why not serde.

use rayon::prelude::*;

use crate::error::{describe_byte, Located, ParseErrorKind};
use crate::source::Source;

use super::sinks::RecordSink;
use super::{Hooks, CHUNK_BYTES, MAX_FIELDS};

/// With many threads the chunks shrink so that a batch stays under this size.
const BATCH_BYTES: usize = 32 << 20;
/// Chunks do not shrink below this: the per-chunk work must outweigh the batch's barrier.
const MIN_CHUNK_BYTES: usize = 256 << 10;

/// One piece of array text that starts on a record boundary.
pub(super) struct Chunk {
    start: usize,
    end: usize,
    records: usize,
    /// The chunk ends at the array's `]`.
    last: bool,
}

/// Scans the integer array whose text starts at `start` (just after its `[`) as `expected`
/// records of `width` integers into `sink`, in batches of parallel chunks. Returns `finish`
/// of each chunk's sink, in order, and the position of the closing `]`.
#[allow(clippy::too_many_arguments)]
pub(super) fn scan_array<S: RecordSink, T: Send>(
    src: &mut Source<'_>,
    hooks: &Hooks<'_>,
    start: usize,
    width: usize,
    expected: usize,
    what: &'static str,
    sink: S,
    finish: impl Fn(S) -> T + Sync,
) -> Result<(Vec<T>, usize), Located> {
    // Two chunks per thread balance uneven chunks; with many threads the chunks shrink and
    // then their count stops, so that the batch stays under BATCH_BYTES (it is held in
    // memory, unlike the mapped pages the parser once used, which the kernel could reclaim).
    let threads = rayon::current_num_threads().max(1);
    let batch_chunks = (threads * 2).min(BATCH_BYTES / MIN_CHUNK_BYTES);
    let chunk_bytes = hooks
        .chunk_bytes
        .unwrap_or_else(|| (BATCH_BYTES / batch_chunks).clamp(MIN_CHUNK_BYTES, CHUNK_BYTES))
        .max(1);
    let mut rest = Some(sink);
    let mut pos = start;
    let mut records = 0usize;
    let mut results = Vec::new();
    let mut end = None;
    while end.is_none() {
        // Every chunk of the batch stays in the window until the batch is scanned.
        let batch_start = pos;
        let mut chunks = Vec::with_capacity(batch_chunks);
        while chunks.len() < batch_chunks && end.is_none() {
            let chunk = next_chunk(src, batch_start, pos, pos > start, width, what, chunk_bytes)?;
            pos = chunk.end;
            if chunk.last {
                end = Some(chunk.end);
            }
            records += chunk.records;
            if records > expected {
                let actual = records + count_rest(src, pos)? / width;
                return Err(Located::at(
                    start as u64,
                    ParseErrorKind::CountMismatch {
                        what,
                        expected,
                        actual,
                    },
                ));
            }
            chunks.push(chunk);
        }
        let mut parts = Vec::with_capacity(chunks.len());
        for chunk in &chunks {
            let (head, tail) = rest
                .take()
                .map(|s| s.split_at(chunk.records))
                .ok_or_else(|| {
                    Located::anywhere(ParseErrorKind::NotASnapshot(
                        "internal: sink exhausted".into(),
                    ))
                })?;
            parts.push(head);
            rest = Some(tail);
        }
        let text = src.window(batch_start)?;
        let done = chunks
            .par_iter()
            .zip(parts.into_par_iter())
            .map(|(chunk, mut part)| {
                let t = text
                    .get(chunk.start - batch_start..chunk.end - batch_start)
                    .ok_or_else(|| {
                        Located::anywhere(ParseErrorKind::NotASnapshot(
                            "internal: chunk outside the window".into(),
                        ))
                    })?;
                scan_chunk(t, chunk, width, what, &mut part)?;
                Ok(finish(part))
            })
            .collect::<Result<Vec<T>, Located>>()?;
        results.extend(done);
        (hooks.progress)(pos as u64);
    }
    if records != expected {
        return Err(Located::at(
            start as u64,
            ParseErrorKind::CountMismatch {
                what,
                expected,
                actual: records,
            },
        ));
    }
    Ok((results, pos))
}

/// Counts the integers in a piece of array text: one per comma, plus a last one when the
/// text is the end of the array and holds any digit after its last comma.
pub(super) fn count_ints(text: &[u8], is_last: bool) -> usize {
    let commas = memchr::memchr_iter(b',', text).count();
    if !is_last {
        return commas;
    }
    let tail = match memchr::memrchr(b',', text) {
        Some(p) => &text[p + 1..],
        None => text,
    };
    commas + usize::from(tail.iter().any(u8::is_ascii_digit))
}

/// Counts the integers from `pos` to the array's `]` (or the end of the file), for the
/// message of an array longer than its header says; read block by block.
pub(super) fn count_rest(src: &mut Source<'_>, pos: usize) -> Result<usize, Located> {
    let mut commas = 0;
    let mut digit_after_last_comma = false;
    let mut at = pos;
    loop {
        let window = src.window(at)?;
        let close = memchr::memchr(b']', window);
        let text = &window[..close.unwrap_or(window.len())];
        commas += memchr::memchr_iter(b',', text).count();
        match memchr::memrchr(b',', text) {
            Some(p) => digit_after_last_comma = text[p + 1..].iter().any(u8::is_ascii_digit),
            None => digit_after_last_comma |= text.iter().any(u8::is_ascii_digit),
        }
        at += window.len();
        if close.is_some() || at >= src.len() {
            return Ok(commas + usize::from(digit_after_last_comma));
        }
        src.fill(at, at + src.block())?;
    }
}

/// Finds the next chunk of about `chunk_bytes` from `pos`: it ends just after a comma on a
/// record boundary, or at the array's closing `]` (then it is the last). Integer arrays
/// hold no `]`, so the first one closes the array. Bytes before `keep` may be dropped;
/// `after_comma` says the previous chunk ended with a comma.
#[allow(clippy::too_many_arguments)]
pub(super) fn next_chunk(
    src: &mut Source<'_>,
    keep: usize,
    pos: usize,
    after_comma: bool,
    width: usize,
    what: &'static str,
    chunk_bytes: usize,
) -> Result<Chunk, Located> {
    let truncated =
        |len: usize| Located::at(len as u64, ParseErrorKind::Truncated("an integer array"));
    src.fill(keep, pos.saturating_add(chunk_bytes))?;
    let window_end = pos.saturating_add(chunk_bytes).min(src.end());
    let head = &src.window(pos)?[..window_end - pos];
    let close = match memchr::memchr(b']', head) {
        Some(rel) => pos + rel,
        None if window_end >= src.len() => return Err(truncated(src.len())),
        None => {
            let mut ints = count_ints(head, false);
            let mut cut = window_end;
            // Extend to just past the comma that completes a record, unless the array ends.
            loop {
                let text = src.window(cut)?;
                match memchr::memchr2(b',', b']', text) {
                    None if src.complete() => return Err(truncated(src.len())),
                    None => src.fill(keep, src.end() + 1)?,
                    Some(rel) if text[rel] == b']' => break cut + rel,
                    Some(rel) => {
                        cut += rel + 1;
                        ints += 1;
                        if ints % width == 0 {
                            return Ok(Chunk {
                                start: pos,
                                end: cut,
                                records: ints / width,
                                last: false,
                            });
                        }
                    }
                }
            }
        }
    };
    let text = &src.window(pos)?[..close - pos];
    if after_comma && text.iter().all(|&b| is_json_space(b)) {
        // `1,2,]`: the comma that ended the previous chunk is the array's last byte. The
        // scanner cannot see it, as it looks at one chunk at a time (found by the fuzzer).
        return Err(Located::at(
            close as u64,
            ParseErrorKind::Syntax {
                found: "the end of the array after a comma".into(),
                context: what,
            },
        ));
    }
    let ints = count_ints(text, true);
    if ints % width != 0 {
        return Err(Located::at(
            close as u64,
            ParseErrorKind::Syntax {
                found: format!("{ints} integers, not a multiple of {width}"),
                context: what,
            },
        ));
    }
    Ok(Chunk {
        start: pos,
        end: close,
        records: ints / width,
        last: true,
    })
}

#[inline(always)]
pub(super) fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// The hot loop: parses the integers of one chunk (`t` is its text) and stores each
/// completed record.
///
/// It consumes a whole run of digits at a time (most numbers have one to three), then
/// expects optional white space and a comma, so each byte costs one compare.
pub(super) fn scan_chunk<S: RecordSink>(
    t: &[u8],
    chunk: &Chunk,
    width: usize,
    what: &'static str,
    sink: &mut S,
) -> Result<(), Located> {
    let n = t.len();
    let mut fields = [0u64; MAX_FIELDS];
    let mut field = 0usize;
    let mut record = 0usize;
    let fail = |i: usize, kind: ParseErrorKind| Located::at((chunk.start + i) as u64, kind);
    let unexpected = |i: usize| {
        let found = match t.get(i) {
            Some(b',') => "an empty element".to_owned(),
            Some(&b) => describe_byte(b),
            None => "the end of the array after a comma".to_owned(),
        };
        fail(
            i,
            ParseErrorKind::Syntax {
                found,
                context: what,
            },
        )
    };
    let mut i = 0usize;
    // A comma was the last thing read: the array must not end here (`1, ]`).
    let mut after_comma = false;
    while i < n {
        while i < n && is_json_space(t[i]) {
            i += 1;
        }
        if i == n {
            break;
        }
        let start = i;
        let mut acc = 0u64;
        while i < n {
            let d = t[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            acc = acc.wrapping_mul(10).wrapping_add(d as u64);
            i += 1;
        }
        if i == start {
            return Err(unexpected(i));
        }
        after_comma = false;
        // JSON has no leading zeros (`007`): whatever wrote one is not V8. 19 digits always
        // fit a u64; the sinks reject whatever exceeds their field. Both tests are folded
        // into one branch, which a good file never takes.
        let digits = i - start;
        if (digits > 19) | ((t[start] == b'0') & (digits > 1)) {
            if digits > 19 {
                return Err(fail(start, ParseErrorKind::Overflow(what)));
            }
            return Err(fail(
                start + 1,
                ParseErrorKind::Syntax {
                    found: "a number with a leading zero".into(),
                    context: what,
                },
            ));
        }
        fields[field] = acc;
        field += 1;
        if field == width {
            if record >= chunk.records {
                return Err(fail(
                    i,
                    ParseErrorKind::Syntax {
                        found: "more records than counted".into(),
                        context: what,
                    },
                ));
            }
            sink.store(record, &fields).map_err(|k| fail(start, k))?;
            record += 1;
            field = 0;
        }
        while i < n && is_json_space(t[i]) {
            i += 1;
        }
        if i == n {
            break;
        }
        if t[i] != b',' {
            return Err(unexpected(i));
        }
        i += 1;
        after_comma = true;
    }
    if after_comma && chunk.last {
        return Err(unexpected(n));
    }
    if field != 0 || record != chunk.records {
        return Err(fail(
            n,
            ParseErrorKind::Syntax {
                found: "a record cut short".into(),
                context: what,
            },
        ));
    }
    Ok(())
}
