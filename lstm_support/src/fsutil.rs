//! Writing files so that a crash or a full disk never leaves a half-written file under the
//! final name: write a temporary file beside it, flush it to disk, then rename.
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The temporary name used for `path` while it is written.
pub fn temp_path(path: &Path) -> PathBuf {
    path.with_file_name(format!(".{}.{}.tmp", file_name(path), std::process::id()))
}

/// Runs `write` on a temporary path beside `path`, then renames it into place. On any error
/// the temporary file is removed and `path` is left as it was.
pub fn write_atomically(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| io_error("create directory", dir, e))?;
    }
    let temp = temp_path(path);
    let outcome = write(&temp).and_then(|()| {
        fs::File::open(&temp)
            .and_then(|f| f.sync_all())
            .map_err(|e| io_error("flush", &temp, e))?;
        crate::pause::point(&format!("write:{}", file_name(path)));
        fs::rename(&temp, path).map_err(|e| io_error("rename into place", path, e))
    });
    if outcome.is_err() {
        let _ = fs::remove_file(&temp);
    }
    outcome
}

/// Writes bytes atomically (see [`write_atomically`]).
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(path, |temp| {
        let mut file = fs::File::create(temp).map_err(|e| io_error("create", temp, e))?;
        let (first, rest) = bytes.split_at(bytes.len() / 2);
        file.write_all(first)
            .and_then(|()| file.flush())
            .map_err(|e| io_error("write", temp, e))?;
        crate::pause::point(&format!("writing:{}", file_name(path)));
        file.write_all(rest).map_err(|e| io_error("write", temp, e))
    })
}

/// Serializes `value` as pretty JSON and writes it atomically.
pub fn write_json_atomically<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let json = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::invalid(format!("JSON for {}", path.display()), e.to_string()))?;
    write_bytes_atomically(path, &json)
}

/// The project's root directory (the workspace that holds `lstm_support/`).
pub fn project_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_owned()
}

/// `path` as a reader of the project sees it: relative to the project root (`runs/lstm-32-...`,
/// `../shared/data/mnist`), so that outputs do not show the absolute paths of the machine
/// that ran them. Paths elsewhere are shown as given.
pub fn display_path(path: &Path) -> String {
    let root = project_root();
    if let Ok(inside) = path.strip_prefix(&root) {
        let shown = inside.display().to_string();
        return if shown.is_empty() { ".".into() } else { shown };
    }
    if let Some(beside) = root
        .parent()
        .and_then(|parent| path.strip_prefix(parent).ok())
    {
        return Path::new("..").join(beside).display().to_string();
    }
    path.display().to_string()
}

/// Removes temporary files (see [`temp_path`]) that a killed process left in `dir`; a
/// process's own temporary files are left alone.
pub fn remove_stale_temp_files(dir: &Path) {
    let own = format!(".{}.tmp", std::process::id());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(".tmp") && !name.ends_with(&own) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

pub fn io_error(action: &str, path: &Path, error: std::io::Error) -> Error {
    Error::Io {
        action: action.to_owned(),
        path: path.to_owned(),
        source: error,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_are_shown_relative_to_the_project() {
        let root = super::project_root();
        assert_eq!(super::display_path(&root.join("runs").join("a")), "runs/a");
        assert_eq!(super::display_path(&root), ".");
        let beside = root.parent().unwrap().join("shared").join("data");
        assert_eq!(super::display_path(&beside), "../shared/data");
        assert_eq!(super::display_path(std::path::Path::new("runs")), "runs");
    }

    use super::*;

    #[test]
    fn failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        fs::write(&path, b"old").unwrap();
        let err = write_atomically(&path, |temp| {
            fs::write(temp, b"partial").unwrap();
            Err(Error::invalid("test", "injected write error"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        write_bytes_atomically(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn stale_temp_files_of_other_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(".record.json.1.tmp");
        let own = temp_path(&dir.path().join("weights"));
        let keep = dir.path().join("record.json");
        for path in [&stale, &own, &keep] {
            fs::write(path, b"x").unwrap();
        }
        remove_stale_temp_files(dir.path());
        assert!(!stale.exists());
        assert!(own.exists() && keep.exists());
    }
}
