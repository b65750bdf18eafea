//! [`CpuProfile`]: a V8 CPU profile (`.cpuprofile`) and its folded stacks.

use std::collections::HashMap;

use serde::Deserialize;

use crate::folded::{FoldedStacks, Unit};
use crate::frame::CallFrame;
use crate::{ProfileError, ProfileKind};

/// A V8 CPU profile (`Profiler.Profile`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuProfile {
    /// The call tree's nodes, in any order.
    pub nodes: Vec<CpuProfileNode>,
    /// When profiling started, µs on V8's monotonic clock.
    #[serde(default)]
    pub start_time: f64,
    /// When profiling stopped, µs.
    #[serde(default)]
    pub end_time: f64,
    /// The node id of each sample's innermost frame, in time order.
    #[serde(default)]
    pub samples: Vec<u64>,
    /// µs between each sample and the one before (the first: since `start_time`).
    #[serde(default)]
    pub time_deltas: Vec<f64>,
}

/// One node of the call tree: a function called from a particular stack.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuProfileNode {
    /// The node's id, unique in the profile.
    pub id: u64,
    /// The function.
    pub call_frame: CallFrame,
    /// Samples taken with this node innermost.
    #[serde(default)]
    pub hit_count: u64,
    /// The ids of the nodes it called.
    #[serde(default)]
    pub children: Vec<u64>,
    /// The id of its caller, in the variant of the format that links upwards (trace
    /// events); `.cpuprofile` files use `children`.
    #[serde(default)]
    pub parent: Option<u64>,
}

/// How to weigh the samples of a CPU profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuWeight {
    /// Each sample weighs the µs until the next sample (the last: until `endTime`).
    Time,
    /// Each sample weighs 1.
    Samples,
}

impl CpuProfile {
    /// Profiled time in µs (`endTime - startTime`).
    pub fn duration_micros(&self) -> f64 {
        (self.end_time - self.start_time).max(0.0)
    }

    /// How many samples it holds (the sum of hit counts when `samples` is absent).
    pub fn sample_count(&self) -> u64 {
        if self.samples.is_empty() {
            self.nodes.iter().map(|n| n.hit_count).sum()
        } else {
            self.samples.len() as u64
        }
    }

    /// Checks what folding relies on: unique node ids, every id referred to (children,
    /// parents, samples) present, one time delta per sample.
    pub(crate) fn check(&self, source_name: &str) -> Result<(), ProfileError> {
        let shape = |detail: String| ProfileError::Shape {
            source_name: source_name.to_owned(),
            kind: ProfileKind::Cpu,
            detail,
        };
        let missing = |referrer: String, id: u64| ProfileError::MissingNode {
            source_name: source_name.to_owned(),
            referrer,
            id,
        };
        let index = self.index();
        if index.len() != self.nodes.len() {
            let mut seen = std::collections::HashSet::new();
            let dup = self.nodes.iter().find(|n| !seen.insert(n.id)).map(|n| n.id);
            return Err(shape(format!("node id {} appears twice", dup.unwrap_or(0))));
        }
        for node in &self.nodes {
            for &child in &node.children {
                if !index.contains_key(&child) {
                    return Err(missing(format!("the children of node {}", node.id), child));
                }
            }
            if let Some(parent) = node.parent {
                if !index.contains_key(&parent) {
                    return Err(missing(
                        format!("the parent link of node {}", node.id),
                        parent,
                    ));
                }
            }
        }
        for (i, id) in self.samples.iter().enumerate() {
            if !index.contains_key(id) {
                return Err(missing(format!("sample {i}"), *id));
            }
        }
        if !self.samples.is_empty() && self.time_deltas.len() != self.samples.len() {
            return Err(shape(format!(
                "{} samples but {} timeDeltas",
                self.samples.len(),
                self.time_deltas.len()
            )));
        }
        Ok(())
    }

    fn index(&self) -> HashMap<u64, usize> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id, i))
            .collect()
    }

    /// The caller of each node (by index), from `children` and `parent` links.
    fn parents(&self, index: &HashMap<u64, usize>) -> Vec<Option<usize>> {
        let mut parent = vec![None; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            for child in &node.children {
                if let Some(&c) = index.get(child) {
                    parent[c] = Some(i);
                }
            }
            if let Some(p) = node.parent.and_then(|p| index.get(&p)) {
                parent[i] = Some(*p);
            }
        }
        parent
    }

    /// Folds the samples into stacks. Without `samples` the nodes' hit counts are used
    /// and the unit is samples whatever `weight` asks for.
    pub fn fold(&self, weight: CpuWeight) -> FoldedStacks {
        let index = self.index();
        let mut own = vec![0f64; self.nodes.len()];
        let unit = if self.samples.is_empty() {
            for (i, node) in self.nodes.iter().enumerate() {
                own[i] = node.hit_count as f64;
            }
            Unit::Samples
        } else {
            match weight {
                CpuWeight::Samples => {
                    for id in &self.samples {
                        if let Some(&i) = index.get(id) {
                            own[i] += 1.0;
                        }
                    }
                    Unit::Samples
                }
                CpuWeight::Time => {
                    // Sample k lasts from its own timestamp to the next one's; the last
                    // until endTime. A negative delta (V8 sometimes records samples out of
                    // order) counts as 0.
                    let last_at = self.start_time + self.time_deltas.iter().sum::<f64>();
                    for (k, id) in self.samples.iter().enumerate() {
                        let lasted = match self.time_deltas.get(k + 1) {
                            Some(&d) => d,
                            None => self.end_time - last_at,
                        };
                        if let Some(&i) = index.get(id) {
                            own[i] += lasted.max(0.0);
                        }
                    }
                    Unit::Microseconds
                }
            }
        };
        let parent = self.parents(&index);
        let mut folded = FoldedStacks::new(unit);
        let mut frames: Vec<String> = Vec::new();
        for (i, &w) in own.iter().enumerate() {
            let w = w.round() as u64;
            if w == 0 {
                continue;
            }
            frames.clear();
            let mut at = Some(i);
            // A cycle in a damaged profile must not loop forever: no stack is deeper than
            // the number of nodes.
            while let (Some(n), true) = (at, frames.len() <= self.nodes.len()) {
                let frame = &self.nodes[n].call_frame;
                if !frame.is_root() {
                    frames.push(frame.label());
                }
                at = parent[n];
            }
            frames.reverse();
            folded.add(&frames, w);
        }
        folded
    }
}

#[cfg(test)]
mod tests {
    use crate::{Profile, ProfileError};

    /// `(root)` calls `main` (app.js line 1) and `(garbage collector)`; `main` calls two
    /// different functions named `work` (lines 10 and 20) and an anonymous one.
    const PROFILE: &str = r#"{
      "nodes": [
        {"id": 1, "callFrame": {"functionName": "(root)", "scriptId": "0", "url": "", "lineNumber": -1, "columnNumber": -1}, "hitCount": 0, "children": [2, 6]},
        {"id": 2, "callFrame": {"functionName": "main", "scriptId": "3", "url": "file:///srv/app.js", "lineNumber": 0, "columnNumber": 0}, "hitCount": 1, "children": [3, 4, 5]},
        {"id": 3, "callFrame": {"functionName": "work", "scriptId": "3", "url": "file:///srv/app.js", "lineNumber": 9, "columnNumber": 2}, "hitCount": 2},
        {"id": 4, "callFrame": {"functionName": "work", "scriptId": "4", "url": "file:///srv/lib/other.js", "lineNumber": 19, "columnNumber": 2}, "hitCount": 1, "children": []},
        {"id": 5, "callFrame": {"functionName": "", "scriptId": "3", "url": "file:///srv/app.js", "lineNumber": 30, "columnNumber": 4}, "hitCount": 1, "children": []},
        {"id": 6, "callFrame": {"functionName": "(garbage collector)", "scriptId": "0", "url": "", "lineNumber": -1, "columnNumber": -1}, "hitCount": 1, "children": []}
      ],
      "startTime": 1000, "endTime": 1700,
      "samples":    [3,  3,   2,  4,   6,  5],
      "timeDeltas": [10, 100, 50, 200, 40, 60]
    }"#;

    fn cpu(text: &str) -> super::CpuProfile {
        match Profile::from_slice(text.as_bytes(), "test.cpuprofile").expect("parses") {
            Profile::Cpu(p) => p,
            Profile::Heap(_) => panic!("a CPU profile"),
        }
    }

    #[test]
    fn folds_by_time_until_the_next_sample() {
        let p = cpu(PROFILE);
        // Timestamps 1010, 1110, 1160, 1360, 1400, 1460; end 1700. Sample k weighs the
        // delta of sample k+1; the last one lasts until endTime (1700 - 1460 = 240).
        assert_eq!(
            p.fold(super::CpuWeight::Time).to_string(),
            "(garbage collector) 60\n\
             main (app.js:1) 200\n\
             main (app.js:1);(anonymous) (app.js:31) 240\n\
             main (app.js:1);work (app.js:10) 150\n\
             main (app.js:1);work (other.js:20) 40\n"
        );
        assert_eq!(p.fold(super::CpuWeight::Time).total(), 1700 - 1010);
        assert_eq!(p.sample_count(), 6);
        assert_eq!(p.duration_micros(), 700.0);
    }

    #[test]
    fn folds_by_sample_count() {
        let folded = cpu(PROFILE).fold(super::CpuWeight::Samples);
        assert_eq!(folded.unit(), crate::Unit::Samples);
        assert_eq!(
            folded.to_string(),
            "(garbage collector) 1\n\
             main (app.js:1) 1\n\
             main (app.js:1);(anonymous) (app.js:31) 1\n\
             main (app.js:1);work (app.js:10) 2\n\
             main (app.js:1);work (other.js:20) 1\n"
        );
    }

    #[test]
    fn without_samples_uses_hit_counts_and_parent_links() {
        let p = cpu(r#"{"nodes": [
            {"id": 7, "callFrame": {"functionName": "leaf", "url": "x.js", "lineNumber": 4}, "hitCount": 5, "parent": 8},
            {"id": 8, "callFrame": {"functionName": "top", "url": "x.js", "lineNumber": 0}, "hitCount": 2}
        ]}"#);
        let folded = p.fold(super::CpuWeight::Time);
        assert_eq!(folded.unit(), crate::Unit::Samples);
        assert_eq!(
            folded.to_string(),
            "top (x.js:1) 2\ntop (x.js:1);leaf (x.js:5) 5\n"
        );
    }

    #[test]
    fn a_cycle_does_not_hang() {
        let p = cpu(r#"{"nodes": [
            {"id": 1, "callFrame": {"functionName": "a"}, "children": [2]},
            {"id": 2, "callFrame": {"functionName": "b"}, "children": [1]}
        ], "samples": [2], "timeDeltas": [5], "startTime": 0, "endTime": 10}"#);
        let folded = p.fold(super::CpuWeight::Time);
        assert_eq!(folded.total(), 5);
    }

    #[test]
    fn names_what_is_wrong() {
        let err = |text: &str| {
            Profile::from_slice(text.as_bytes(), "bad.cpuprofile")
                .expect_err("refused")
                .to_string()
        };
        let node = |id: u64, children: &str| {
            format!(
                r#"{{"id": {id}, "callFrame": {{"functionName": "f"}}, "children": [{children}]}}"#
            )
        };
        assert_eq!(
            err(&format!(
                r#"{{"nodes": [{}], "samples": [1, 9], "timeDeltas": [1, 1]}}"#,
                node(1, "")
            )),
            "bad.cpuprofile: node 9, referred to by sample 1, is not in the profile"
        );
        assert_eq!(
            err(&format!(
                r#"{{"nodes": [{}, {}]}}"#,
                node(1, "2, 3"),
                node(2, "")
            )),
            "bad.cpuprofile: node 3, referred to by the children of node 1, is not in the profile"
        );
        assert_eq!(
            err(&format!(
                r#"{{"nodes": [{}, {}]}}"#,
                node(1, ""),
                node(1, "")
            )),
            "bad.cpuprofile: not a valid V8 CPU profile: node id 1 appears twice"
        );
        assert_eq!(
            err(&format!(
                r#"{{"nodes": [{}], "samples": [1, 1], "timeDeltas": [1]}}"#,
                node(1, "")
            )),
            "bad.cpuprofile: not a valid V8 CPU profile: 2 samples but 1 timeDeltas"
        );
        assert!(err(r#"{"nodes": [{"id": 1}]}"#)
            .starts_with("bad.cpuprofile: not a valid V8 CPU profile: missing field `callFrame`"),);
        assert!(matches!(
            Profile::from_slice(br#"{"nodes": [], "samples": [4], "timeDeltas": [0]}"#, "x"),
            Err(ProfileError::MissingNode { id: 4, .. })
        ));
    }
}
