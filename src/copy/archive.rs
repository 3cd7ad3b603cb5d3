//! An OCI image layout as one tar file (`oci-archive:FILE`, as skopeo and podman name it):
//! the layout's files at the root of the archive, no leading directory. Packing is
//! deterministic — entries in path order, every timestamp, owner and mode fixed — so the same
//! bundle gives the same bytes. Unpacking takes regular files and directories only, under
//! relative paths without `..`; anything else (links, devices, absolute paths) is refused,
//! so an archive cannot write outside the directory it is unpacked into.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write as _};
use std::path::{Component, Path, PathBuf};

use super::layout::LayoutError;

/// Packs the layout in `dir` into `file`, through a temporary file beside it renamed over
/// it, so a reader never sees half an archive.
pub fn pack(dir: &Path, file: &Path) -> Result<(), LayoutError> {
    let fail = |problem: String| LayoutError {
        bundle: format!("oci-archive:{}", file.display()),
        problem,
    };
    let partial = tempfile::Builder::new()
        .prefix(".reimage-archive-")
        .tempfile_in(beside(file))
        .map_err(|e| fail(format!("cannot write the archive: {e}")))?;
    let mut builder = tar::Builder::new(BufWriter::new(partial.as_file()));
    builder.mode(tar::HeaderMode::Deterministic);
    builder.follow_symlinks(false);
    let mut files = Vec::new();
    walk(dir, Path::new(""), &mut files)
        .map_err(|e| fail(format!("cannot read the layout: {e}")))?;
    for (relative, is_dir) in &files {
        let result = match is_dir {
            true => builder.append_dir(relative, dir.join(relative)),
            false => builder.append_path_with_name(dir.join(relative), relative),
        };
        result.map_err(|e| fail(format!("cannot add {}: {e}", relative.display())))?;
    }
    builder
        .into_inner()
        .and_then(|mut out| out.flush())
        .and_then(|()| partial.as_file().sync_all())
        .and_then(|()| {
            // A temporary file is private (0600); the archive is readable as the files of
            // a bundle directory are under the usual umask.
            use std::os::unix::fs::PermissionsExt as _;
            partial
                .as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
        })
        .map_err(|e| fail(format!("cannot write the archive: {e}")))?;
    partial
        .persist(file)
        .map_err(|e| fail(format!("cannot write the archive: {}", e.error)))?;
    Ok(())
}

/// The directory `file` is in (`.` for a bare name): where its temporary files go, so a
/// rename replaces it and a large bundle needs no room in the temporary directory.
pub fn beside(file: &Path) -> &Path {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Every directory and regular file under `dir`, in path order, relative to the layout root.
fn walk(root: &Path, relative: &Path, out: &mut Vec<(PathBuf, bool)>) -> std::io::Result<()> {
    let mut children: Vec<_> = std::fs::read_dir(root.join(relative))?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    children.sort();
    for name in children {
        let path = relative.join(name);
        let kind = std::fs::symlink_metadata(root.join(&path))?.file_type();
        if kind.is_dir() {
            out.push((path.clone(), true));
            walk(root, &path, out)?;
        } else if kind.is_file() {
            out.push((path, false));
        }
    }
    Ok(())
}

/// Unpacks `file` into `dir` (which exists and is empty).
pub fn unpack(file: &Path, dir: &Path) -> Result<(), LayoutError> {
    let fail = |problem: String| LayoutError {
        bundle: format!("oci-archive:{}", file.display()),
        problem,
    };
    let reader = File::open(file).map_err(|e| fail(format!("cannot open the archive: {e}")))?;
    let mut archive = tar::Archive::new(BufReader::new(reader));
    let entries = archive
        .entries()
        .map_err(|e| fail(format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| fail(format!("not a tar archive: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| fail(format!("an entry has no usable name: {e}")))?
            .into_owned();
        let kind = entry.header().entry_type();
        if path.components().all(|c| c == Component::CurDir) {
            continue; // `./`, as `tar -C DIR -cf FILE .` writes it first
        }
        if !safe(&path) {
            return Err(fail(format!(
                "the entry `{}` would land outside the bundle; give an archive that `reimage mirror --to oci-archive:FILE` wrote",
                path.display()
            )));
        }
        if !(kind.is_file() || kind.is_dir()) {
            return Err(fail(format!(
                "the entry `{}` is not a file or a directory ({kind:?}); an image layout holds only those",
                path.display()
            )));
        }
        if kind.is_dir() {
            std::fs::create_dir_all(dir.join(&path))
        } else {
            let target = dir.join(&path);
            target
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| File::create(&target))
                .and_then(|mut out| std::io::copy(&mut entry, &mut out).map(drop))
        }
        .map_err(|e| fail(format!("cannot unpack `{}`: {e}", path.display())))?;
    }
    Ok(())
}

/// Whether an entry's path stays below the directory it is unpacked into.
fn safe(path: &Path) -> bool {
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        && path.components().any(|c| matches!(c, Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(dir: &Path) {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), "{}").unwrap();
        std::fs::write(dir.join("index.json"), "{\"manifests\":[]}").unwrap();
        std::fs::write(dir.join("blobs/sha256/ab"), "blob").unwrap();
    }

    #[test]
    fn packs_the_same_bytes_and_unpacks_what_it_packed() {
        let scratch = tempfile::tempdir().unwrap();
        let (a, b) = (scratch.path().join("a"), scratch.path().join("b"));
        layout(&a);
        layout(&b);
        std::fs::write(a.join("index.json"), "{\"manifests\":[]}").unwrap();
        pack(&a, &scratch.path().join("a.tar")).unwrap();
        pack(&b, &scratch.path().join("b.tar")).unwrap();
        let (ta, tb) = (
            std::fs::read(scratch.path().join("a.tar")).unwrap(),
            std::fs::read(scratch.path().join("b.tar")).unwrap(),
        );
        assert_eq!(ta, tb, "the same layout packs to the same bytes");

        let out = scratch.path().join("out");
        std::fs::create_dir(&out).unwrap();
        unpack(&scratch.path().join("a.tar"), &out).unwrap();
        assert_eq!(std::fs::read(out.join("blobs/sha256/ab")).unwrap(), b"blob");
        assert_eq!(std::fs::read(out.join("oci-layout")).unwrap(), b"{}");
    }

    fn archive_with(name: &str, kind: tar::EntryType) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(0);
        header.set_mode(0o644);
        if kind == tar::EntryType::Symlink {
            header.set_link_name("/etc/passwd").unwrap();
        }
        // Written by hand: `set_path` itself refuses `..`.
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        builder.append(&header, std::io::empty()).unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn refuses_entries_outside_the_bundle_and_links() {
        let scratch = tempfile::tempdir().unwrap();
        for (name, kind, says) in [
            ("../escape", tar::EntryType::Regular, "outside the bundle"),
            ("/etc/escape", tar::EntryType::Regular, "outside the bundle"),
            (
                "blobs/link",
                tar::EntryType::Symlink,
                "not a file or a directory",
            ),
        ] {
            let file = scratch.path().join("bad.tar");
            std::fs::write(&file, archive_with(name, kind)).unwrap();
            let out = scratch.path().join("out");
            let _ = std::fs::remove_dir_all(&out);
            std::fs::create_dir(&out).unwrap();
            let err = unpack(&file, &out).unwrap_err().to_string();
            assert!(err.contains(says), "{name}: {err}");
            assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "{name}");
        }
        assert!(!scratch.path().join("escape").exists());
    }
}
