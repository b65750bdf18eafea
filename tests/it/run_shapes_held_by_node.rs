//! `leaktrail run` on leaks held by Node's own machinery rather than by a variable of the
//! program: a stream's write queue, the timer lists, an EventTarget's listeners, a
//! string's parent, V8's own string table, and undici's registry of response bodies. The culprit must still lead to the
//! program's object that owns it, or name the part of Node or V8 that holds it.

use crate::run_shapes::{assert_clean, assert_heap_leak_named, leak_named_after};

#[test]
fn substrings_that_keep_their_request_bodies_are_named() {
    // Each 40-character key is a sliced string: 20 bytes that keep a 6 KiB parent.
    assert_heap_leak_named("sliced-string-keys");
}

#[test]
fn parsed_keys_in_a_bounded_map_pass() {
    assert_clean("sliced-string-keys-copied-clean");
}

#[test]
fn writes_queued_on_a_stalled_stream_are_named() {
    assert_heap_leak_named("audit-stream-backpressure");
}

#[test]
fn a_writer_that_waits_for_drain_passes() {
    assert_clean("audit-stream-drained-clean");
}

#[test]
fn jittered_timers_never_cleared_are_named_through_the_timer_lists() {
    // One TimersList per duration, under Node's `timerListMap`.
    assert_heap_leak_named("session-expiry-timers");
}

#[test]
fn jittered_timers_cleared_on_logout_pass() {
    assert_clean("session-expiry-timers-cleared-clean");
}

#[test]
fn listeners_on_a_long_lived_abort_signal_are_named() {
    // An EventTarget: its listeners are a linked list of Listener records, not `_events`.
    assert_heap_leak_named("abort-signal-listeners");
}

#[test]
fn listeners_removed_from_an_abort_signal_pass() {
    assert_clean("abort-signal-listeners-removed-clean");
}

#[test]
fn keys_registered_with_symbol_for_are_named_under_v8s_string_table() {
    // Nothing of the program holds them: V8's registry and string table do.
    assert_heap_leak_named("symbol-for-request-keys");
}

#[test]
fn plain_symbols_as_request_keys_pass() {
    assert_clean("symbol-request-keys-clean");
}

#[test]
fn fetch_responses_kept_in_a_list_are_named_at_the_list() {
    // Each entry's cloned body streams are also held by undici's FinalizationRegistry: no
    // entry dominates them, and their clusters (under undici's `body`) outweigh the
    // entries'. The first names the list the program keeps them in (it was the third).
    let report = leak_named_after("fetch-retry-log-clones", 1500);
    let first = &report["culprit"]["clusters"][0];
    assert!(
        first["holder"].as_str().unwrap_or("").contains("retryLog"),
        "{first}"
    );
}

#[test]
fn fetch_calls_whose_bodies_are_read_pass() {
    // undici loads lazily and warms up: its first requests must not read as growth.
    assert_clean("fetch-inventory-clean");
}
