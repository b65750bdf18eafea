//! [`FoldedStacks`]: `outer;…;inner weight` lines, the input of flame-graph tools.

use std::collections::BTreeMap;
use std::fmt;

/// What a folded stack's weight counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Microseconds of sampled CPU time.
    Microseconds,
    /// Samples.
    Samples,
    /// Bytes allocated (and still alive, for a sampling heap profile).
    Bytes,
}

impl Unit {
    /// The unit's name as a flame graph shows it next to a count.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Microseconds => "µs",
            Unit::Samples => "samples",
            Unit::Bytes => "bytes",
        }
    }
}

/// Stacks with their weights, outermost frame first, each distinct stack once, in sorted
/// order (what `inferno` and Brendan Gregg's `flamegraph.pl` read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoldedStacks {
    unit: Unit,
    stacks: BTreeMap<String, u64>,
}

impl FoldedStacks {
    /// No stacks yet.
    pub fn new(unit: Unit) -> FoldedStacks {
        FoldedStacks {
            unit,
            stacks: BTreeMap::new(),
        }
    }

    /// Adds `weight` to the stack of `frames` (outermost first); empty stacks and zero
    /// weights are dropped.
    pub fn add<S: AsRef<str>>(&mut self, frames: &[S], weight: u64) {
        if frames.is_empty() || weight == 0 {
            return;
        }
        let key = frames
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(";");
        *self.stacks.entry(key).or_insert(0) += weight;
    }

    /// What the weights count.
    pub fn unit(&self) -> Unit {
        self.unit
    }

    /// The stacks (`a;b;c`) and their weights, sorted by stack.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.stacks.iter().map(|(k, &v)| (k.as_str(), v))
    }

    /// How many distinct stacks.
    pub fn len(&self) -> usize {
        self.stacks.len()
    }

    /// True when there is no stack (nothing was sampled).
    pub fn is_empty(&self) -> bool {
        self.stacks.is_empty()
    }

    /// The sum of all weights.
    pub fn total(&self) -> u64 {
        self.stacks.values().sum()
    }

    /// The weight of the stacks that pass through a frame for which `is_frame` holds
    /// (each stack counted once, however often the frame recurs in it): the frame's
    /// inclusive ("total") weight.
    pub fn weight_through(&self, mut is_frame: impl FnMut(&str) -> bool) -> u64 {
        self.stacks
            .iter()
            .filter(|(stack, _)| stack.split(';').any(&mut is_frame))
            .map(|(_, &w)| w)
            .sum()
    }

    /// The `n` innermost frames with the most weight of their own ("self" weight), the
    /// heaviest first; ties by name.
    pub fn top_self(&self, n: usize) -> Vec<(String, u64)> {
        let mut by_frame: BTreeMap<&str, u64> = BTreeMap::new();
        for (stack, &w) in &self.stacks {
            let leaf = stack.rsplit(';').next().unwrap_or(stack);
            *by_frame.entry(leaf).or_insert(0) += w;
        }
        let mut top: Vec<(String, u64)> = by_frame
            .into_iter()
            .map(|(f, w)| (f.to_owned(), w))
            .collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top.truncate(n);
        top
    }
}

/// One `stack weight` line per stack.
impl fmt::Display for FoldedStacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (stack, weight) in &self.stacks {
            writeln!(f, "{stack} {weight}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_sorts_and_ranks() {
        let mut f = FoldedStacks::new(Unit::Samples);
        f.add(&["main", "b"], 2);
        f.add(&["main", "a", "b"], 3);
        f.add(&["main", "b"], 1);
        f.add(&["main"], 0);
        f.add::<&str>(&[], 5);
        assert_eq!(f.to_string(), "main;a;b 3\nmain;b 3\n");
        assert_eq!(f.total(), 6);
        assert_eq!(f.weight_through(|fr| fr == "a"), 3);
        assert_eq!(f.weight_through(|fr| fr == "main"), 6);
        assert_eq!(f.top_self(5), vec![("b".to_owned(), 6)]);
    }
}
