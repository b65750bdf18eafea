//! Which process of a workload's tree an inspector address belongs to: `run` and `watch`
//! both pass over a launcher's own inspector (npm is Node too, and announces its inspector
//! before the script it starts does).

use leaktrail_sampler::ProcessTree;

/// True when the inspector at `url` (`ws://host:port/id`) is a launcher's (npm running a
/// script, `cross-env`), not the workload's: the process of `tree` listening on its port
/// runs one of [`leaktrail_sampler::LAUNCHERS`].
pub fn is_launcher_inspector(tree: &ProcessTree, url: &str) -> bool {
    leaktrail_inspector::url_port(url).is_some_and(|port| tree.launcher_on(port))
}

/// The process whose inspector is at `url`: the one of the tree listening on its port (a
/// wrapper such as `npm test` starts Node under it), else the root.
pub(crate) fn inspected_pid(tree: &ProcessTree, url: &str) -> i32 {
    leaktrail_inspector::url_port(url)
        .and_then(|port| tree.listening_on(port))
        .or(tree.pids().first().map(|&(pid, _)| pid))
        .unwrap_or(0)
}
