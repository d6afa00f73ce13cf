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
