//! Owner-only files and directories, for everything leaktrail writes.
//!
//! A heap snapshot holds the heap's strings (tokens, keys, personal data), and what is
//! derived from it (censuses, reports, profiles, the store) names classes, URLs and paths.
//! Every file leaktrail writes is therefore 0600 and every directory it makes 0700; an
//! existing file or directory it writes into is made so too, since a mode given at
//! creation does not apply to what already exists.

#![deny(missing_docs)]

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Creates `dir` and its missing parents, each 0700, and makes `dir` itself 0700.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    restrict(dir, 0o700)
}

/// Creates (or truncates) the file at `path`, 0600.
pub fn create_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    open(options, path)
}

/// Creates the file at `path`, 0600, failing with `AlreadyExists` when there is one.
pub fn create_new_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    open(options, path)
}

/// Writes `bytes` to `path`, created or truncated, 0600.
pub fn write_file(path: &Path, bytes: impl AsRef<[u8]>) -> std::io::Result<()> {
    create_file(path)?.write_all(bytes.as_ref())
}

/// Makes an existing file 0600 (one written by another process and moved into place).
pub fn restrict_file(path: &Path) -> std::io::Result<()> {
    restrict(path, 0o600)
}

fn open(mut options: OpenOptions, path: &Path) -> std::io::Result<File> {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

#[cfg_attr(not(unix), allow(unused_variables))]
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("exists").permissions().mode() & 0o777
    }

    #[test]
    fn directories_and_parents_are_owner_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("a/b");
        create_dir(&dir).expect("dirs");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        create_dir(&dir).expect("existing dir");
        assert_eq!(mode(&dir), 0o700);
        let file = tmp.path().join("f");
        std::fs::write(&file, "x").expect("write");
        assert!(create_dir(&file).is_err(), "a file is not a directory");
    }

    #[test]
    fn files_are_owner_only_new_or_existing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let f = tmp.path().join("r.md");
        std::fs::write(&f, "old").expect("write");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write_file(&f, "new").expect("write");
        assert_eq!(mode(&f), 0o600);
        assert_eq!(std::fs::read_to_string(&f).expect("read"), "new");
        let err = create_new_file(&f).expect_err("exists");
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        let g = tmp.path().join("g");
        create_new_file(&g).expect("new");
        assert_eq!(mode(&g), 0o600);
        std::fs::set_permissions(&g, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        restrict_file(&g).expect("restrict");
        assert_eq!(mode(&g), 0o600);
    }
}
