//! [`HeapProfile`]: a V8 sampling heap profile (`.heapprofile`) and its folded stacks.

use serde::Deserialize;

use crate::folded::{FoldedStacks, Unit};
use crate::frame::CallFrame;

/// A V8 sampling heap profile (`HeapProfiler.SamplingHeapProfile`).
#[derive(Clone, Debug, Deserialize)]
pub struct HeapProfile {
    /// The root of the allocation call tree (`(root)`).
    pub head: HeapProfileNode,
    /// The individual samples (absent in older writers). Not used for folding, and not
    /// checked against the tree: Node 20 writes samples whose node V8 has pruned.
    #[serde(default)]
    pub samples: Vec<HeapSample>,
}

/// One node of the allocation call tree.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeapProfileNode {
    /// The function.
    pub call_frame: CallFrame,
    /// Bytes allocated by this function itself (not its callees) and still alive, as V8
    /// estimates them from the samples.
    pub self_size: u64,
    /// The node's id, unique in the profile.
    pub id: u64,
    /// The functions it called that allocated.
    #[serde(default)]
    pub children: Vec<HeapProfileNode>,
}

/// One sampled allocation.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeapSample {
    /// The allocation's size in bytes.
    pub size: u64,
    /// The node that allocated it.
    pub node_id: u64,
    /// Its order among all samples.
    #[serde(default)]
    pub ordinal: f64,
}

impl HeapProfile {
    /// Every node, parents before children (no recursion: trees can be deep).
    fn walk(&self, mut visit: impl FnMut(&HeapProfileNode, usize)) {
        let mut todo = vec![(&self.head, 0usize)];
        while let Some((node, depth)) = todo.pop() {
            visit(node, depth);
            todo.extend(node.children.iter().rev().map(|c| (c, depth + 1)));
        }
    }

    /// Bytes still allocated in the profile (the sum of `selfSize`).
    pub fn total_bytes(&self) -> u64 {
        let mut total = 0u64;
        self.walk(|n, _| total = total.saturating_add(n.self_size));
        total
    }

    /// Folds the tree into stacks weighed by `selfSize` bytes.
    pub fn fold(&self) -> FoldedStacks {
        let mut folded = FoldedStacks::new(Unit::Bytes);
        // The frames from the root to the node being visited; `(root)` has none.
        let mut frames: Vec<String> = Vec::new();
        self.walk(|node, depth| {
            frames.truncate(depth);
            let label = if node.call_frame.is_root() {
                String::new()
            } else {
                node.call_frame.label()
            };
            frames.push(label);
            let stack: Vec<&str> = frames
                .iter()
                .map(String::as_str)
                .filter(|f| !f.is_empty())
                .collect();
            folded.add(&stack, node.self_size);
        });
        folded
    }
}

#[cfg(test)]
mod tests {
    use crate::{Profile, ProfileError, MAX_NESTING};

    const PROFILE: &str = r#"{
      "head": {"callFrame": {"functionName": "(root)", "scriptId": "0", "url": "", "lineNumber": -1, "columnNumber": -1},
        "selfSize": 0, "id": 1, "children": [
          {"callFrame": {"functionName": "handleRequest", "scriptId": "5", "url": "file:///srv/app.js", "lineNumber": 41, "columnNumber": 0},
           "selfSize": 1024, "id": 2, "children": [
             {"callFrame": {"functionName": "RequestContext", "scriptId": "5", "url": "file:///srv/app.js", "lineNumber": 9, "columnNumber": 2},
              "selfSize": 65536, "id": 3, "children": []},
             {"callFrame": {"functionName": "", "scriptId": "5", "url": "file:///srv/app.js", "lineNumber": 50, "columnNumber": 2},
              "selfSize": 0, "id": 4, "children": [
                {"callFrame": {"functionName": "push", "scriptId": "0", "url": "", "lineNumber": -1, "columnNumber": -1},
                 "selfSize": 4096, "id": 5, "children": []}]}]},
          {"callFrame": {"functionName": "(V8 API)", "scriptId": "0", "url": "", "lineNumber": -1, "columnNumber": -1},
           "selfSize": 512, "id": 6, "children": []}]},
      "samples": [{"size": 64, "nodeId": 3, "ordinal": 1}, {"size": 32, "nodeId": 5, "ordinal": 2}]
    }"#;

    fn heap(text: &str) -> super::HeapProfile {
        match Profile::from_slice(text.as_bytes(), "test.heapprofile").expect("parses") {
            Profile::Heap(p) => p,
            Profile::Cpu(_) => panic!("a heap profile"),
        }
    }

    #[test]
    fn folds_self_sizes() {
        let p = heap(PROFILE);
        let folded = p.fold();
        assert_eq!(folded.unit(), crate::Unit::Bytes);
        assert_eq!(
            folded.to_string(),
            "(V8 API) 512\n\
             handleRequest (app.js:42) 1024\n\
             handleRequest (app.js:42);(anonymous) (app.js:51);push 4096\n\
             handleRequest (app.js:42);RequestContext (app.js:10) 65536\n"
        );
        assert_eq!(p.total_bytes(), 512 + 1024 + 4096 + 65536);
        assert_eq!(folded.total(), p.total_bytes());
        assert_eq!(p.samples.len(), 2);
    }

    #[test]
    fn an_inspector_answer_is_accepted_whole() {
        let wrapped = format!(r#"{{"profile": {PROFILE}}}"#);
        assert_eq!(heap(&wrapped).fold(), heap(PROFILE).fold());
    }

    #[test]
    fn deep_trees_parse_and_fold() {
        // As deep as MAX_NESTING allows (510 frames), far beyond serde_json's default 128 levels.
        let depth = (MAX_NESTING - 4) / 2;
        let mut text = String::new();
        for i in 0..depth {
            text.push_str(&format!(
                r#"{{"callFrame": {{"functionName": "f{i}", "url": "d.js", "lineNumber": {i}}}, "selfSize": {}, "id": {i}, "children": ["#,
                u64::from(i + 1 == depth) * 8
            ));
        }
        text.push_str(&"]}".repeat(depth));
        let text = format!(r#"{{"head": {text}}}"#);
        let folded = heap(&text).fold();
        assert_eq!(folded.total(), 8);
        let (stack, _) = folded.iter().next().expect("one stack");
        assert_eq!(stack.split(';').count(), depth);
    }

    #[test]
    fn names_what_is_wrong() {
        let err =
            Profile::from_slice(br#"{"head": {"id": 1}}"#, "bad.heapprofile").expect_err("refused");
        assert!(
            err.to_string().starts_with(
                "bad.heapprofile: not a valid V8 sampling heap profile: missing field `callFrame`"
            ),
            "{err}"
        );
        assert!(matches!(err, ProfileError::Shape { .. }));
    }

    #[test]
    fn samples_of_pruned_nodes_are_tolerated() {
        // As Node 20's --heap-prof writes them: a sample whose node is not in the tree.
        let p = heap(
            r#"{"head": {"callFrame": {"functionName": "(root)"}, "selfSize": 0, "id": 1, "children": [
            {"callFrame": {"functionName": "f", "url": "a.js", "lineNumber": 0}, "selfSize": 16, "id": 2}]},
            "samples": [{"size": 16, "nodeId": 2, "ordinal": 1}, {"size": 8, "nodeId": 450, "ordinal": 2}]}"#,
        );
        assert_eq!(p.fold().to_string(), "f (a.js:1) 16\n");
    }
}
