//! Finding the programs a benchmark runs.

use std::fs;
use std::path::{Path, PathBuf};

/// Whether `path` is a regular file with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds our binary: as given, or relative to the workspace root.
pub fn resolve_ours(path: &Path) -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = if path.is_absolute() {
        vec![path.to_path_buf()]
    } else {
        vec![path.to_path_buf(), workspace.join(path)]
    };
    candidates
        .into_iter()
        .find(|p| is_executable(p))
        .and_then(|p| fs::canonicalize(p).ok())
}
