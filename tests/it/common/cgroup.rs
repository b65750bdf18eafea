//! A memory cgroup with a limit, for tests of what leaktrail does near one.

/// A memory cgroup of the test's own, with a limit, removed when dropped.
pub struct LimitedCgroup {
    dir: std::path::PathBuf,
    /// The file a process writes its PID into to join it.
    pub procs: std::path::PathBuf,
}

impl LimitedCgroup {
    /// A child of this test's memory cgroup (v1 `memory`, or v2) limited to `limit` bytes;
    /// `None`, said loudly, where cgroups cannot be created (not root, no delegation).
    pub fn new(name: &str, limit: u64) -> Option<LimitedCgroup> {
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let (base, limit_file) = own
            .lines()
            .find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                controllers.split(',').any(|c| c == "memory").then(|| {
                    (
                        format!("/sys/fs/cgroup/memory{path}"),
                        "memory.limit_in_bytes",
                    )
                })
            })
            .or_else(|| {
                own.lines()
                    .find_map(|l| l.strip_prefix("0::"))
                    .map(|path| (format!("/sys/fs/cgroup{path}"), "memory.max"))
            })?;
        let dir = std::path::Path::new(&base).join(format!("{name}-{}", std::process::id()));
        let made = std::fs::create_dir(&dir)
            .and_then(|()| std::fs::write(dir.join(limit_file), limit.to_string()));
        match made {
            Ok(()) => Some(LimitedCgroup {
                procs: dir.join("cgroup.procs"),
                dir,
            }),
            Err(e) => {
                eprintln!(
                    "SKIPPED: cannot make a memory cgroup with a limit at {} ({e})",
                    dir.display()
                );
                let _ = std::fs::remove_dir(&dir);
                None
            }
        }
    }
}

impl Drop for LimitedCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}
