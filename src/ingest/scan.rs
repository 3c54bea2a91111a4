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
    /// What it points at, when it is a symbolic link: never followed, recorded as unreadable.
    pub link: Option<PathBuf>,
}

/// Lists the files under `dirs` (recursively, in path order), passing over the folders in
/// `skip` (the store itself, should it lie inside a dock). Symbolic links are never followed
/// (they may lead out of the dock or loop back into it): each is an item with its `link`
/// target, to be recorded as not ingested. Folders that cannot be listed are returned as
/// errors; the files that could be listed are still returned.
pub fn scan(dirs: &[PathBuf], skip: &[PathBuf]) -> (Vec<DockItem>, Vec<Error>) {
    let skip: Vec<PathBuf> = skip.iter().filter_map(|d| d.canonicalize().ok()).collect();
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for dir in dirs {
        walk(dir, &skip, &mut files, &mut errors);
    }
    files.sort();
    files.dedup();
    let names: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
    let items = files
        .into_iter()
        .filter(|(p, _)| !is_sidecar(p, &names))
        .map(|(path, link)| {
            let sidecar = sidecar_of(&path);
            let sidecar =
                (link.is_none() && names.binary_search(&sidecar).is_ok()).then_some(sidecar);
            DockItem {
                path,
                sidecar,
                link,
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

/// Collects (path, link target if a symbolic link) under `dir`.
fn walk(
    dir: &Path,
    skip: &[PathBuf],
    files: &mut Vec<(PathBuf, Option<PathBuf>)>,
    errors: &mut Vec<Error>,
) {
    if dir.canonicalize().is_ok_and(|c| skip.contains(&c)) {
        return;
    }
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
        // The entry itself, not what a link points at. Anything that is not a folder is an
        // item (a special file then fails at the master stage with its own reason).
        match entry.file_type() {
            Ok(t) if t.is_symlink() => {
                let target = std::fs::read_link(&path).unwrap_or_default();
                files.push((path, Some(target)));
            }
            Ok(t) if t.is_dir() => walk(&path, skip, files, errors),
            Ok(_) => files.push((path, None)),
            Err(e) => errors.push(Error::io(&path, Stage::Scan, "read entry type")(e)),
        }
    }
}

/// Why a dock entry that is a symbolic link to `target` is not ingested.
pub fn not_followed(path: &Path, target: &Path) -> Error {
    Error::NotFollowed {
        path: path.to_owned(),
        reason: format!(
            "a symbolic link (to {}), not followed: bwv ingests the dock's own files",
            target.display()
        ),
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
        let (items, errors) = scan(&[d.path().to_owned()], &[]);
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

    #[test]
    fn links_are_not_followed_and_skipped_folders_not_walked() {
        let d = tempfile::tempdir().expect("tempdir");
        let (dock, outside, store) = (
            d.path().join("dock"),
            d.path().join("secret"),
            d.path().join("dock/store"),
        );
        for dir in [&dock, &outside, &store] {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        std::fs::write(outside.join("log.key"), b"key").expect("write");
        std::fs::write(store.join("index.sqlite"), b"db").expect("write");
        std::fs::write(dock.join("a.mp4"), b"x").expect("write");
        let link = |target: &Path, name: &str| {
            std::os::unix::fs::symlink(target, dock.join(name)).expect("symlink")
        };
        link(&outside.join("log.key"), "e.mp4");
        link(&outside, "out");
        link(Path::new("."), "l1");
        link(Path::new("l1"), "l2");
        link(&dock.join("a.mp4"), "again.mp4");
        let (items, errors) = scan(std::slice::from_ref(&dock), std::slice::from_ref(&store));
        assert!(errors.is_empty(), "{errors:?}");
        let found: Vec<(String, Option<PathBuf>)> = items
            .iter()
            .map(|i| {
                let name = i.path.strip_prefix(&dock).expect("in the dock");
                (name.display().to_string(), i.link.clone())
            })
            .collect();
        assert_eq!(
            found,
            [
                ("a.mp4".to_owned(), None),
                ("again.mp4".to_owned(), Some(dock.join("a.mp4"))),
                ("e.mp4".to_owned(), Some(outside.join("log.key"))),
                ("l1".to_owned(), Some(PathBuf::from("."))),
                ("l2".to_owned(), Some(PathBuf::from("l1"))),
                ("out".to_owned(), Some(outside.clone())),
            ]
        );
        let err = not_followed(&dock.join("e.mp4"), &outside.join("log.key")).to_string();
        assert!(
            err.contains("symbolic link") && err.contains("not followed"),
            "{err}"
        );
        // Without the store to skip, its files are items like any other.
        let (items, _) = scan(std::slice::from_ref(&dock), &[]);
        assert!(items.iter().any(|i| i.path == store.join("index.sqlite")));
    }
}
