//! Listing dock folders: every file under them, sorted, with its sidecar if it has one.
//! `X.json` next to `X` is X's sidecar, not an item of its own.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result, Stage};

/// A file found at the dock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockItem {
    /// The file.
    pub path: PathBuf,
    /// Its `<file>.json` sidecar, if present.
    pub sidecar: Option<PathBuf>,
}

/// Lists the files under `dirs` (recursively, in path order). Folders that cannot be listed are
/// returned as errors; the files that could be listed are still returned.
pub fn scan(dirs: &[PathBuf]) -> (Vec<DockItem>, Vec<Error>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for dir in dirs {
        walk(dir, &mut files, &mut errors);
    }
    files.sort();
    files.dedup();
    let items = files
        .iter()
        .filter(|p| !is_sidecar(p, &files))
        .map(|p| {
            let sidecar = sidecar_of(p);
            DockItem {
                path: p.clone(),
                sidecar: files.binary_search(&sidecar).is_ok().then_some(sidecar),
            }
        })
        .collect();
    (items, errors)
}

fn sidecar_of(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

fn is_sidecar(p: &Path, sorted: &[PathBuf]) -> bool {
    p.extension().is_some_and(|e| e == "json")
        && sorted.binary_search(&p.with_extension("")).is_ok()
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<Error>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return errors.push(Error::io(dir, Stage::Scan, "list folder")(e)),
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                errors.push(Error::io(dir, Stage::Scan, "list folder")(e));
                continue;
            }
        };
        let path = entry.path();
        // Follow symlinks; anything that is not a folder is an item (a broken link or a
        // special file then fails at the master stage with its own reason).
        if std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
            walk(&path, files, errors);
        } else {
            files.push(path);
        }
    }
}

/// Confirms each path is a folder, so a typo is a fatal error and not an empty batch.
pub fn check_dirs(dirs: &[PathBuf]) -> Result<()> {
    for d in dirs {
        if !d.is_dir() {
            return Err(Error::Io {
                path: d.clone(),
                stage: Stage::Scan,
                op: "open dock folder",
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecars_attach_and_nested_folders_are_walked() {
        let d = tempfile::tempdir().expect("tempdir");
        let sub = d.path().join("cam7");
        std::fs::create_dir(&sub).expect("mkdir");
        for f in ["a.mp4", "a.mp4.json", "notes.json", "cam7/b.mp4"] {
            std::fs::write(d.path().join(f), b"x").expect("write");
        }
        let (items, errors) = scan(&[d.path().to_owned()]);
        assert!(errors.is_empty());
        let names: Vec<_> = items
            .iter()
            .map(|i| i.path.strip_prefix(d.path()).expect("prefix").to_owned())
            .collect();
        assert_eq!(
            names,
            [
                PathBuf::from("a.mp4"),
                "cam7/b.mp4".into(),
                "notes.json".into()
            ]
        );
        assert_eq!(items[0].sidecar, Some(d.path().join("a.mp4.json")));
        assert_eq!(items[1].sidecar, None);
    }
}
