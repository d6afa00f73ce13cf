//! File-system operations whose form differs by OS.

use std::path::Path;

/// Creates a symbolic link at `link` pointing to `target`.
#[cfg(unix)]
pub fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// Windows tells file and directory links apart; a snapshot's link target
/// may not exist yet, so file links are the default, as git for Windows does.
#[cfg(windows)]
pub fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    if link
        .parent()
        .map(|p| p.join(target).is_dir())
        .unwrap_or(false)
    {
        std::os::windows::fs::symlink_dir(target, link)
    } else {
        std::os::windows::fs::symlink_file(target, link)
    }
}

/// Marks a file executable by everyone who may read it (git's 0755).
#[cfg(unix)]
pub fn set_executable(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o755))
}

/// Windows has no executable bit: scripts run by their extension.
#[cfg(windows)]
pub fn set_executable(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

/// A file's permission bits (`0o755`), where the OS keeps them.
#[cfg(unix)]
pub fn mode(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(meta.permissions().mode())
}

/// Windows keeps no permission bits.
#[cfg(windows)]
pub fn mode(_meta: &std::fs::Metadata) -> Option<u32> {
    None
}

/// Sets a path's permission bits (`0o755`).
#[cfg(unix)]
pub fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Windows keeps no permission bits: nothing to set.
#[cfg(windows)]
pub fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Whether a file can be run directly: any of its executable bits is set.
/// Windows has none (scripts run by their extension): always false.
pub fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .ok()
        .and_then(|m| mode(&m))
        .is_some_and(|m| m & 0o111 != 0)
}
