//! The parser on crafted snapshots: layouts it must accept and every error it must report.

use leaktrail_snapshot::{
    EdgeKind, EdgeName, HeapSnapshot, NodeKind, ParseErrorKind, ParseOptions,
};

const NODE_TYPES: &str = r#"["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape"]"#;
const EDGE_TYPES: &str =
    r#"["context","element","property","internal","hidden","shortcut","weak"]"#;

/// A snapshot text with the given node fields; `nodes` and `edges` are raw integer lists.
fn snapshot(
    node_fields: &[&str],
    node_count: usize,
    nodes: &str,
    edge_count: usize,
    edges: &str,
    strings: &str,
) -> String {
    let fields: Vec<String> = node_fields.iter().map(|f| format!("\"{f}\"")).collect();
    // `node_types` describes the fields one for one: the enum table goes where `type` is.
    let node_types: Vec<String> = node_fields
        .iter()
        .map(|&f| {
            if f == "type" {
                NODE_TYPES.to_owned()
            } else {
                "\"number\"".to_owned()
            }
        })
        .collect();
    format!(
        r#"{{"snapshot":{{"meta":{{"node_fields":[{}],"node_types":[{}],"edge_fields":["type","name_or_index","to_node"],"edge_types":[{EDGE_TYPES},"string_or_number","node"],"location_fields":["object_index","script_id","line","column"]}},"node_count":{node_count},"edge_count":{edge_count},"trace_function_count":0}},
"nodes":[{nodes}],
"edges":[{edges}],
"trace_function_infos":[],"trace_tree":[],"samples":[],"locations":[1,2,3,4],
"strings":[{strings}]}}"#,
        fields.join(","),
        node_types.join(",")
    )
}

const V8_FIELDS: [&str; 7] = [
    "type",
    "name",
    "id",
    "self_size",
    "edge_count",
    "trace_node_id",
    "detachedness",
];

/// Root (synthetic) -> Holder object -(property "items")-> array -(element 0)-> string.
fn good() -> String {
    snapshot(
        &V8_FIELDS,
        4,
        "9,0,1,0,1,0,0\n,3,1,3,32,1,0,0\n,1,2,5,16,1,0,0\n,2,3,7,24,0,0,0",
        3,
        "1,0,7\n,2,4,14\n,1,0,21",
        r#""","Holder","(object elements)","hello \u00e9\ud83d\ude00","items""#,
    )
}

fn parse(text: &str) -> Result<HeapSnapshot, leaktrail_snapshot::ParseError> {
    HeapSnapshot::from_bytes(text.as_bytes(), "crafted.heapsnapshot")
}

fn err(text: &str) -> leaktrail_snapshot::ParseError {
    match parse(text) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

#[test]
fn parses_a_v8_layout() {
    let s = parse(&good()).expect("parses");
    assert_eq!(s.node_count(), 4);
    assert_eq!(s.edge_count(), 3);
    assert_eq!(s.node_kind(0), NodeKind::Synthetic);
    assert_eq!(s.node_kind(1), NodeKind::Object);
    assert_eq!(s.node_name(1), "Holder");
    assert_eq!(s.node_id(1), 3);
    assert_eq!(s.self_size(3), 24);
    assert_eq!(s.node_name(3), "hello é😀");
    assert_eq!(s.edges(1), 1..2);
    assert_eq!(s.edge_kind(1), EdgeKind::Property);
    assert_eq!(s.edge_name(1), EdgeName::Name("items"));
    assert_eq!(s.edge_target(1), 2);
    assert_eq!(s.edge_name(2), EdgeName::Index(0));
    assert_eq!(s.edge_target(2), 3);
}

#[test]
fn huge_element_indices_survive_packing() {
    // Element edges carry their index; indices of 2^28 and more are stored apart.
    let text = good()
        .replace("1,0,7\n", "1,268435460,7\n")
        .replace("\n,1,0,21", "\n,1,4294967295,21");
    let s = parse(&text).expect("parses");
    assert_eq!(s.edge_name(0), EdgeName::Index(268_435_460));
    assert_eq!(s.edge_name(2), EdgeName::Index(u32::MAX));
    assert_eq!(s.edge_kind(0), EdgeKind::Element);
    assert_eq!(s.edge_name(1), EdgeName::Name("items"));
}

#[test]
fn too_many_edge_types() {
    let many: Vec<String> = (0..17).map(|i| format!("\"t{i}\"")).collect();
    let text = good().replace(EDGE_TYPES, &format!("[{}]", many.join(",")));
    let e = err(&text);
    assert!(e.to_string().contains("edge types"), "{e}");
}

#[test]
fn parses_other_field_orders_and_extra_fields() {
    // No trace_node_id/detachedness, an unknown extra field, fields reordered.
    let fields = ["id", "type", "extra", "name", "edge_count", "self_size"];
    let text = snapshot(
        &fields,
        2,
        "1,9,77,0,1,0,3,3,77,1,0,40",
        1,
        "2,1,6",
        r#""","Thing""#,
    );
    let s = parse(&text).expect("parses");
    assert_eq!(s.node_kind(1), NodeKind::Object);
    assert_eq!(s.node_name(1), "Thing");
    assert_eq!(s.self_size(1), 40);
    assert_eq!(s.node_id(1), 3);
    assert_eq!(s.edge_target(0), 1);
}

/// Node and edge fields in another order than V8's, each list with a field leaktrail does
/// not know, the type tables where the `type` fields are and the data in that order: the
/// same graph as [`good`].
#[test]
fn any_field_order_gives_the_same_graph() {
    let text = format!(
        r#"{{"snapshot":{{"meta":{{"node_fields":["edge_count","self_size","extra","id","name","trace_node_id","detachedness","type"],"node_types":["number","number","number","number","string","number","number",{NODE_TYPES}],"edge_fields":["to_node","weight","name_or_index","type"],"edge_types":["node","number","string_or_number",{EDGE_TYPES}]}},"node_count":4,"edge_count":3}},
"nodes":[1,0,99,1,0,0,0,9,1,32,99,3,1,0,0,3,1,16,99,5,2,0,0,1,0,24,99,7,3,0,0,2],
"edges":[8,5,0,1,16,5,4,2,24,5,0,1],
"strings":["","Holder","(object elements)","hello \u00e9\ud83d\ude00","items"]}}"#
    );
    let s = parse(&text).expect("parses");
    let g = parse(&good()).expect("parses");
    assert_eq!(s.node_count(), g.node_count());
    assert_eq!(s.edge_count(), g.edge_count());
    for n in 0..g.node_count() as u32 {
        assert_eq!(s.node_kind(n), g.node_kind(n), "node {n}");
        assert_eq!(s.node_name(n), g.node_name(n), "node {n}");
        assert_eq!(s.node_id(n), g.node_id(n), "node {n}");
        assert_eq!(s.self_size(n), g.self_size(n), "node {n}");
        assert_eq!(s.edges(n), g.edges(n), "node {n}");
    }
    for e in 0..g.edge_count() as u32 {
        assert_eq!(s.edge_kind(e), g.edge_kind(e), "edge {e}");
        assert_eq!(s.edge_name(e), g.edge_name(e), "edge {e}");
        assert_eq!(s.edge_target(e), g.edge_target(e), "edge {e}");
    }

    // A needed field missing is refused by name, in either list.
    let e = err(&text.replace(r#""to_node","weight""#, r#""to_nodes","weight""#));
    assert!(
        e.to_string()
            .contains(r#"edge_fields has no "to_node" field"#),
        "{e}"
    );
    let e = err(&text.replace(r#""extra","id""#, r#""extra","ident""#));
    assert!(
        e.to_string().contains(r#"node_fields has no "id" field"#),
        "{e}"
    );
    // The type table must be where the `type` field is.
    let e = err(&text.replace(
        &format!(r#""number",{NODE_TYPES}]"#),
        &format!(r#"{NODE_TYPES},"number"]"#),
    ));
    assert!(e.to_string().contains("node_types[7]"), "{e}");
}

#[test]
fn parses_compact_json_without_newlines() {
    let text = good().replace('\n', "");
    assert_eq!(parse(&text).expect("parses").node_count(), 4);
}

#[test]
fn truncated_files_are_reported() {
    let text = good();
    for cut in [
        10,
        text.find("\"nodes\"").unwrap_or(0) + 12,
        text.find("\"edges\"").unwrap_or(0) + 12,
        text.len() - 5,
    ] {
        let e = err(&text[..cut]);
        assert!(
            matches!(
                e.kind,
                ParseErrorKind::Truncated(_)
                    | ParseErrorKind::Syntax { .. }
                    | ParseErrorKind::BadMeta(_)
                    | ParseErrorKind::CountTooLarge { .. }
            ),
            "cut at {cut}: {e}"
        );
        assert!(e.to_string().starts_with("crafted.heapsnapshot: "), "{e}");
    }
}

#[test]
fn not_a_snapshot() {
    assert!(matches!(err("").kind, ParseErrorKind::Empty));
    assert!(matches!(err("hello").kind, ParseErrorKind::NotASnapshot(_)));
    assert!(matches!(
        err("{\"a\":1}").kind,
        ParseErrorKind::NotASnapshot(_)
    ));
    assert!(matches!(
        err("[1,2,3]").kind,
        ParseErrorKind::NotASnapshot(_)
    ));
    let e = err("{\"snapshot\":{\"meta\":{}}}");
    assert!(matches!(e.kind, ParseErrorKind::BadMeta(_)), "{e}");
}

#[test]
fn missing_meta_field() {
    let text = snapshot(&["type", "name", "id", "edge_count"], 0, "", 0, "", r#""""#);
    let e = err(&text);
    assert!(e.to_string().contains("self_size"), "{e}");
}

#[test]
fn node_count_disagrees_with_array() {
    let text = good().replace("\"node_count\":4", "\"node_count\":5");
    let e = err(&text);
    assert!(
        matches!(
            e.kind,
            ParseErrorKind::CountMismatch {
                what: "nodes",
                expected: 5,
                actual: 4
            }
        ),
        "{e}"
    );
    let text = good().replace("\"node_count\":4", "\"node_count\":3");
    let e = err(&text);
    assert!(
        matches!(
            e.kind,
            ParseErrorKind::CountMismatch {
                what: "nodes",
                expected: 3,
                actual: 4
            }
        ),
        "{e}"
    );
    assert!(e.offset.is_some());
}

#[test]
fn edge_count_disagrees() {
    let text = good().replace("\"edge_count\":3", "\"edge_count\":2");
    assert!(matches!(
        err(&text).kind,
        ParseErrorKind::CountMismatch { what: "edges", .. }
    ));
    // Header and array agree, but the nodes' edge_count fields sum to something else.
    let text = good().replace("9,0,1,0,1,0,0", "9,0,1,0,2,0,0");
    let e = err(&text);
    assert!(
        matches!(e.kind, ParseErrorKind::CountMismatch { .. }),
        "{e}"
    );
}

#[test]
fn edge_pointing_past_the_end() {
    let text = good().replace("1,0,21", "1,0,28");
    let e = err(&text);
    assert!(
        matches!(
            e.kind,
            ParseErrorKind::EdgeTargetOutOfRange {
                edge: 2,
                value: 28,
                node_count: 4
            }
        ),
        "{e}"
    );
    assert!(e.offset.is_some());
    // Not on a node boundary.
    let text = good().replace("1,0,21", "1,0,22");
    assert!(matches!(
        err(&text).kind,
        ParseErrorKind::EdgeTargetOutOfRange { .. }
    ));
}

#[test]
fn string_index_out_of_range() {
    let text = good().replace(",3,1,3,32,", ",3,9,3,32,");
    let e = err(&text);
    assert!(
        matches!(
            e.kind,
            ParseErrorKind::StringIndexOutOfRange {
                what: "node",
                index: 1,
                value: 9,
                len: 5
            }
        ),
        "{e}"
    );
    let text = good().replace("2,4,14", "2,40,14");
    let e = err(&text);
    assert!(
        matches!(
            e.kind,
            ParseErrorKind::StringIndexOutOfRange { what: "edge", .. }
        ),
        "{e}"
    );
}

#[test]
fn type_out_of_range() {
    let text = good().replace(",3,1,3,32,", ",99,1,3,32,");
    assert!(matches!(
        err(&text).kind,
        ParseErrorKind::TypeOutOfRange { what: "node", .. }
    ));
}

#[test]
fn garbage_in_integer_arrays() {
    for bad in [
        "9,0,1,0,1,0,x",
        "9,0,1,,1,0,0",
        "9,0,1,0 1,1,0,0",
        "9,0,1,0,1,0,-1",
    ] {
        let text = good().replace("9,0,1,0,1,0,0", bad);
        let e = err(&text);
        assert!(e.offset.is_some(), "{bad}: {e}");
    }
    let text = good().replace("9,0,1,0,1,0,0", "9,0,1,99999999999999999999999,1,0,0");
    assert!(matches!(err(&text).kind, ParseErrorKind::Overflow(_)));
}

#[test]
fn missing_sections() {
    let text = good().replace("\"strings\"", "\"strangs\"");
    assert!(matches!(
        err(&text).kind,
        ParseErrorKind::MissingSection("strings")
    ));
    let text = good().replace("\"edges\"", "\"edgez\"");
    assert!(matches!(
        err(&text).kind,
        ParseErrorKind::MissingSection("edges")
    ));
}

#[test]
fn unreadable_path() {
    let e = HeapSnapshot::open(
        "/nonexistent/dir/x.heapsnapshot".as_ref(),
        &Default::default(),
    )
    .expect_err("fails");
    assert!(
        e.to_string()
            .starts_with("/nonexistent/dir/x.heapsnapshot: cannot read"),
        "{e}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let e = HeapSnapshot::open(dir.path(), &Default::default()).expect_err("fails");
    assert!(e.to_string().contains("directory"), "{e}");
}

/// What a parse gives, for comparing two parses of the same text. Errors compare equal:
/// a text with several faults may be refused for one or another depending on where the
/// chunks fall, but it must be refused.
fn outcome(bytes: &[u8], block: Option<usize>) -> String {
    let options = ParseOptions {
        block_bytes: block,
        ..Default::default()
    };
    match HeapSnapshot::from_bytes_with(bytes, "m", &options) {
        Ok(s) => format!(
            "{} nodes, {} edges, last id {:?}",
            s.node_count(),
            s.edge_count(),
            s.node_ids().last()
        ),
        Err(_) => "refused".into(),
    }
}

/// Cheap stand-in for the cargo-fuzz target: every prefix and many byte flips of a valid
/// snapshot must give a result or an error, never a panic; and the same answer read in
/// blocks of a few bytes as read whole, so no block boundary changes what is accepted.
#[test]
fn mutations_never_panic() {
    let base = good().into_bytes();
    let same_in_blocks = |m: &[u8]| {
        let whole = outcome(m, None);
        for block in [1, 5] {
            assert_eq!(
                outcome(m, Some(block)),
                whole,
                "block {block}: {}",
                String::from_utf8_lossy(m)
            );
        }
    };
    for cut in 0..base.len() {
        same_in_blocks(&base[..cut]);
    }
    let replacements = [
        b'0', b'9', b',', b']', b'[', b'"', b'\\', b'{', b'}', b' ', 0xff,
    ];
    for i in 0..base.len() {
        for &r in &replacements {
            let mut m = base.clone();
            m[i] = r;
            same_in_blocks(&m);
        }
    }
}

/// A snapshot of `n` objects in a chain, in V8's layout, with a `locations` section.
fn chain(n: usize) -> String {
    let mut nodes = String::new();
    let mut edges = String::new();
    for i in 0..n {
        let has_next = i + 1 < n;
        nodes.push_str(&format!(
            "{}3,{},{},{},{},0,0\n",
            if i == 0 { "" } else { "," },
            1 + i % 2,
            2 * i + 1,
            16 + i % 100,
            u8::from(has_next)
        ));
        if has_next {
            edges.push_str(&format!(
                "{}2,3,{}\n",
                if i == 0 { "" } else { "," },
                7 * (i + 1)
            ));
        }
    }
    snapshot(
        &V8_FIELDS,
        n,
        &nodes,
        n - 1,
        &edges,
        r#""","Link","Node","next""#,
    )
}

#[test]
fn any_block_size_parses_the_same_graph() {
    let text = chain(5000);
    let whole = parse(&text).expect("parses");
    for block in [1, 3, 64, 4096] {
        let options = ParseOptions {
            block_bytes: Some(block),
            ..Default::default()
        };
        let s = HeapSnapshot::from_bytes_with(text.as_bytes(), "chain", &options)
            .expect("parses in blocks");
        assert_eq!(s.node_ids(), whole.node_ids(), "block {block}");
        assert_eq!(s.self_sizes(), whole.self_sizes(), "block {block}");
        for n in 0..whole.node_count() as u32 {
            assert_eq!(s.edges(n), whole.edges(n));
            assert_eq!(s.node_name(n), whole.node_name(n));
        }
        for e in 0..whole.edge_count() as u32 {
            assert_eq!(s.edge_target(e), whole.edge_target(e));
            assert_eq!(s.edge_name(e), whole.edge_name(e));
        }
    }
}

#[test]
fn a_comma_before_the_closing_bracket_is_refused_in_any_block_size() {
    // The fuzzer found it accepted when a chunk boundary fell between the comma and `]`.
    for (from, to) in [
        ("1,0,21]", "1,0,21, ]"),
        (",2,3,7,24,0,0,0]", ",2,3,7,24,0,0,0,\n]"),
    ] {
        let text = good().replace(from, to);
        for block in 1..=64 {
            let options = ParseOptions {
                block_bytes: Some(block),
                ..Default::default()
            };
            let e = HeapSnapshot::from_bytes_with(text.as_bytes(), "m", &options)
                .map(|_| ())
                .expect_err("a trailing comma");
            assert!(
                matches!(e.kind, ParseErrorKind::Syntax { .. }),
                "block {block}: {e}"
            );
        }
        assert!(matches!(err(&text).kind, ParseErrorKind::Syntax { .. }));
    }
}

#[test]
fn only_white_space_may_follow_the_object() {
    let text = good();
    assert_eq!(
        parse(&format!("{text} \n\t\r\n"))
            .expect("parses")
            .node_count(),
        4
    );
    for tail in ["x", "\n}", "\n{}", "\n{\"snapshot\":{}}", ",", "\0"] {
        let e = err(&format!("{text}{tail}"));
        assert!(
            matches!(e.kind, ParseErrorKind::TrailingBytes { .. }),
            "{tail:?}: {e}"
        );
        let at = text.len() + tail.len() - tail.trim_start().len();
        assert_eq!(e.offset, Some(at as u64), "{tail:?}: {e}");
        assert!(
            e.to_string().contains("after the end of the snapshot"),
            "{e}"
        );
    }
    // A trailing comma in the top-level object is not JSON either.
    let e = err(&text.replace("]}", "],}"));
    assert!(matches!(e.kind, ParseErrorKind::Syntax { .. }), "{e}");
}

#[test]
fn numbers_with_a_leading_zero_are_refused() {
    let text = good();
    for (from, to) in [
        ("9,0,1,0,1,0,0", "9,0,01,0,1,0,0"),
        (",3,1,3,32,", ",3,1,3,032,"),
        ("2,4,14", "2,4,014"),
        ("\"locations\":[1,2,3,4]", "\"locations\":[1,2,3,007]"),
        ("\"samples\":[]", "\"samples\":[{\"a\":-00.5}]"),
    ] {
        assert!(text.contains(from), "{from}");
        let bad = text.replacen(from, to, 1);
        let e = err(&bad);
        // Named at the digit after the zero.
        let zero = bad.find(to).expect("there") + to.find("0").expect("a zero");
        let at = (zero..bad.len())
            .find(|&i| bad.as_bytes()[i] == b'0' && bad.as_bytes()[i + 1].is_ascii_digit())
            .expect("leading zero")
            + 1;
        assert_eq!(e.offset, Some(at as u64), "{to}: {e}");
        assert!(e.to_string().contains("leading zero"), "{to}: {e}");
    }
    // In the header.
    let e = err(&text.replace("\"node_count\":4", "\"node_count\":04"));
    assert!(e.to_string().contains("leading zero"), "{e}");
    // A plain 0 is a number.
    assert_eq!(
        parse(&text.replace("[1,2,3,4]", "[0,0.5,-0,0e1]"))
            .expect("parses")
            .node_count(),
        4
    );
}

#[test]
fn skipped_sections_must_be_json() {
    let text = good();
    for bad in [
        "[1,,2]",
        "[1 2]",
        "{\"a\"}",
        "[tru]",
        "[\"\\x\"]",
        "nul",
        "[1,]",
    ] {
        let e = err(&text.replace("\"samples\":[]", &format!("\"samples\":{bad}")));
        assert!(
            matches!(e.kind, ParseErrorKind::Syntax { .. }),
            "{bad}: {e}"
        );
    }
    let ok = text.replace(
        "\"samples\":[]",
        "\"samples\":[{\"a\":[true,false,null,-1.5e-3,\"\\u00e9]\"]},{}],\"later\":{\"x\":\"}\"}",
    );
    assert_eq!(parse(&ok).expect("parses").node_count(), 4);
}

#[test]
fn header_counts_the_file_cannot_hold_are_refused_before_allocating() {
    // 2^32 - 1 nodes would be about 70 GB of columns; the file has room for a handful.
    let text = good().replace("\"node_count\":4", "\"node_count\":4294967295");
    let e = err(&text);
    match e.kind {
        ParseErrorKind::CountTooLarge {
            field: "node_count",
            declared: 4294967295,
            fits,
            per_record: 7,
            file_size,
        } => {
            assert_eq!(file_size, text.len() as u64);
            assert!(fits < 100, "{fits}");
        }
        _ => panic!("{e}"),
    }
    assert!(e.to_string().contains("node_count 4294967295"), "{e}");
    let e = err(&good().replace("\"edge_count\":3", "\"edge_count\":4294967295"));
    assert!(
        matches!(
            e.kind,
            ParseErrorKind::CountTooLarge {
                field: "edge_count",
                ..
            }
        ),
        "{e}"
    );
    // Counts that fit but disagree with the arrays are the usual mismatch.
    let e = err(&good().replace("\"node_count\":4", "\"node_count\":6"));
    assert!(
        matches!(e.kind, ParseErrorKind::CountMismatch { .. }),
        "{e}"
    );
}

/// Opens `path` in blocks of 4 KiB, calling `during` at the first progress report (the
/// parse has read some of the file, not all of it).
fn open_while(
    path: &std::path::Path,
    during: impl Fn() + Sync,
) -> Result<HeapSnapshot, leaktrail_snapshot::ParseError> {
    let once = std::sync::Once::new();
    let progress = |_: u64| once.call_once(&during);
    let options = ParseOptions {
        progress: Some(&progress),
        block_bytes: Some(4096),
        ..Default::default()
    };
    HeapSnapshot::open(path, &options)
}

#[test]
fn a_file_that_changes_while_read_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chain.heapsnapshot");
    let text = chain(50_000);
    let write = || {
        std::fs::write(&path, &text).expect("write");
        // An old modification time, so that a write during the parse changes it even on
        // a file system with coarse timestamps.
        let f = std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open");
        f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 30))
            .expect("set mtime");
    };
    write();
    assert_eq!(
        open_while(&path, || {}).expect("parses").node_count(),
        50_000
    );

    // Truncated (rotated, or copied over) while read: an error naming the file, not SIGBUS.
    let half = text.len() as u64 / 2;
    let e = open_while(&path, || {
        let f = std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open");
        f.set_len(half).expect("truncate");
    })
    .expect_err("changed");
    assert!(
        matches!(e.kind, ParseErrorKind::ChangedSize { was, now } if was == text.len() as u64 && now == half),
        "{e}"
    );
    assert!(
        e.to_string().starts_with(&format!(
            "{}: changed size while being read",
            path.display()
        )),
        "{e}"
    );

    // Still being written: it grew.
    write();
    let e = open_while(&path, || {
        let mut f = std::fs::File::options()
            .append(true)
            .open(&path)
            .expect("open");
        std::io::Write::write_all(&mut f, b"\n").expect("append");
    })
    .expect_err("changed");
    assert!(matches!(e.kind, ParseErrorKind::ChangedSize { .. }), "{e}");

    // Written to in place, same size: what was read may mix two versions.
    write();
    let e = open_while(&path, || {
        let f = std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open");
        std::os::unix::fs::FileExt::write_at(&f, b"\"", text.len() as u64 - 3).expect("write");
    })
    .expect_err("changed");
    assert!(matches!(e.kind, ParseErrorKind::Modified), "{e}");
}
