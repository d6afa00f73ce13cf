//! The code a Lambda deployment uploads: the `package:` zip from the input
//! artifact, or the artifact's files zipped in memory. The zip is
//! deterministic (sorted entries, a fixed date, normalised modes), so the
//! same files give the same bytes and the same CodeSha256.

use std::io::{Cursor, Write};
use std::path::{Component, Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipWriter};

use crate::platform;

/// The most UpdateFunctionCode takes as `ZipFile` (50 MB); bigger packages
/// go through S3, which this provider does not do yet.
pub const MAX_DIRECT_UPLOAD: usize = 50 * 1024 * 1024;

/// The zip to upload for the revision in `files`: `package` (a path inside
/// it) as it is, else every file zipped.
pub fn bytes(files: &Path, package: Option<&str>) -> Result<Vec<u8>, String> {
    let zip = match package {
        Some(name) => {
            let path = inside(files, name)?;
            let data = std::fs::read(&path)
                .map_err(|e| format!("cannot read the package `{name}` in the artifact: {e}"))?;
            if !data.starts_with(b"PK") {
                return Err(format!(
                    "the package `{name}` is not a zip file (Lambda takes a .zip)"
                ));
            }
            data
        }
        None => zip_dir(files)
            .map_err(|e| format!("cannot zip the artifact's files ({}): {e}", files.display()))?,
    };
    if zip.len() > MAX_DIRECT_UPLOAD {
        return Err(format!(
            "the package is {:.1} MB; Lambda takes at most {} MB uploaded directly \
             (uploads through S3 are not supported yet)",
            zip.len() as f64 / 1e6,
            MAX_DIRECT_UPLOAD / (1024 * 1024)
        ));
    }
    Ok(zip)
}

/// `name` under `root`, refusing absolute paths and `..`.
fn inside(root: &Path, name: &str) -> Result<PathBuf, String> {
    let rel = Path::new(name);
    if rel
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "`package: {name}` must be a path inside the input artifact (no `..`, not absolute)"
        ));
    }
    Ok(root.join(rel))
}

/// Every regular file under `dir` (symlinks to files followed, symlinked
/// directories not), as a zip: entries sorted by path, dated 1980-01-01,
/// mode 755 for executables and 644 for the rest, deflated.
pub fn zip_dir(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, path) in files {
        let mode = if platform::fs::is_executable(&path) {
            0o755
        } else {
            0o644
        };
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(6))
            .system(System::Unix)
            .last_modified_time(DateTime::default())
            .unix_permissions(mode);
        zip.start_file(name, options)
            .map_err(std::io::Error::other)?;
        zip.write_all(&std::fs::read(&path)?)?;
    }
    Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
}

/// `(name in the zip with / separators, path on disk)` of the files under
/// `dir`.
fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        let is_dir = kind.is_dir();
        let is_file = kind.is_file() || (kind.is_symlink() && path.is_file());
        if is_dir {
            collect(root, &path, out)?;
        } else if is_file {
            let rel = path.strip_prefix(root).map_err(std::io::Error::other)?;
            let name = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((name, path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lib/deep")).unwrap();
        std::fs::write(
            dir.path().join("handler.py"),
            "def handler(e, c): return 1\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("lib/deep/util.py"), "X = 1\n").unwrap();
        std::fs::write(dir.path().join("bootstrap"), "#!/bin/sh\n").unwrap();
        platform::fs::set_mode(&dir.path().join("bootstrap"), 0o700).unwrap();
        dir
    }

    #[test]
    fn a_directory_zips_to_the_same_bytes_with_every_file() {
        let dir = tree();
        let first = zip_dir(dir.path()).unwrap();
        // Another file time (a later checkout's): the zip must not change.
        let f = std::fs::File::options()
            .write(true)
            .open(dir.path().join("handler.py"))
            .unwrap();
        let later =
            f.metadata().unwrap().modified().unwrap() + std::time::Duration::from_secs(3600);
        f.set_modified(later).unwrap();
        drop(f);
        assert_eq!(first, zip_dir(dir.path()).unwrap(), "deterministic");

        let mut archive = zip::ZipArchive::new(Cursor::new(first)).unwrap();
        let names: Vec<String> = archive
            .file_names()
            .map(|n| n.unwrap().to_string())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(
            sorted,
            vec!["bootstrap", "handler.py", "lib/deep/util.py"],
            "files only, with / separators"
        );
        let mut text = String::new();
        archive
            .by_name("lib/deep/util.py")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "X = 1\n");
        // Where the OS keeps modes, the executable bit survives (Lambda
        // runs a custom runtime's `bootstrap` only if it is executable).
        let on_disk = platform::fs::mode(&std::fs::metadata(dir.path().join("bootstrap")).unwrap());
        let want = if on_disk.is_some() { 0o755 } else { 0o644 };
        assert_eq!(
            archive.by_name("bootstrap").unwrap().unix_mode().unwrap() & 0o777,
            want
        );
        assert_eq!(
            archive.by_name("handler.py").unwrap().unix_mode().unwrap() & 0o777,
            0o644
        );
    }

    #[test]
    fn a_named_package_is_taken_as_it_is_and_must_be_a_zip_inside_the_artifact() {
        let dir = tree();
        let zip = zip_dir(dir.path()).unwrap();
        std::fs::write(dir.path().join("function.zip"), &zip).unwrap();
        assert_eq!(bytes(dir.path(), Some("function.zip")).unwrap(), zip);
        let e = bytes(dir.path(), Some("handler.py")).unwrap_err();
        assert!(e.contains("`handler.py` is not a zip file"), "{e}");
        let e = bytes(dir.path(), Some("../etc/passwd")).unwrap_err();
        assert!(e.contains("inside the input artifact"), "{e}");
        let e = bytes(dir.path(), Some("missing.zip")).unwrap_err();
        assert!(e.contains("cannot read the package `missing.zip`"), "{e}");
        assert_eq!(bytes(dir.path(), None).unwrap()[..2], *b"PK");
    }
}
