//! Everything that differs between macOS, Windows and Linux, each concern in
//! one small function with every platform's variant written out, so the rest
//! of the core never needs a `cfg(target_os)`. Only Linux is built and tested
//! in CI; the other variants are written to the platforms' documented
//! conventions and compiled by their own builds.

pub mod fs;
pub mod orphans;
pub mod process;

use std::path::{Path, PathBuf};

/// The environment variable that overrides the data directory for the CLI
/// and the desktop app alike.
pub const HOME_ENV: &str = "SLIPWAY_HOME";

/// Where Slipway keeps its database, workspaces and instance directories.
///
/// Precedence: an explicit directory (the CLI's `--data-dir`), then
/// `SLIPWAY_HOME`, then the OS's per-user data directory.
pub fn data_dir(explicit: Option<&Path>) -> Result<PathBuf, DataDirError> {
    if let Some(dir) = explicit {
        return Ok(absolute(dir));
    }
    if let Some(dir) = std::env::var_os(HOME_ENV).filter(|v| !v.is_empty()) {
        return Ok(absolute(Path::new(&dir)));
    }
    os_data_dir().ok_or(DataDirError::NoHome)
}

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error(
        "cannot tell where to keep Slipway's data: no home directory is set; \
         pass --data-dir DIR or set SLIPWAY_HOME"
    )]
    NoHome,
}

fn absolute(dir: &Path) -> PathBuf {
    if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(dir))
            .unwrap_or_else(|_| dir.to_path_buf())
    }
}

fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

/// Linux and the BSDs: the XDG base directory specification.
#[cfg(all(unix, not(target_os = "macos")))]
fn os_data_dir() -> Option<PathBuf> {
    env_dir("XDG_DATA_HOME")
        .or_else(|| env_dir("HOME").map(|h| h.join(".local").join("share")))
        .map(|d| d.join("slipway"))
}

/// macOS: `~/Library/Application Support/<bundle identifier>`, the same
/// directory Tauri's `app_data_dir` uses, so app and CLI share it.
#[cfg(target_os = "macos")]
fn os_data_dir() -> Option<PathBuf> {
    env_dir("HOME").map(|h| {
        h.join("Library")
            .join("Application Support")
            .join(crate::model::BUNDLE_IDENTIFIER)
    })
}

/// Windows: the roaming application data folder (`%APPDATA%`).
#[cfg(windows)]
fn os_data_dir() -> Option<PathBuf> {
    env_dir("APPDATA").map(|d| d.join("Slipway"))
}

/// Who is at the keyboard, for records such as "approved by".
#[cfg(unix)]
pub fn user_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(windows)]
pub fn user_name() -> String {
    std::env::var("USERNAME").unwrap_or_else(|_| "unknown".into())
}

/// What to do when the OS keychain cannot be reached, in the words of the
/// keychain this OS has.
pub fn keychain_hint() -> &'static str {
    KEYCHAIN_HINT
}

#[cfg(target_os = "linux")]
const KEYCHAIN_HINT: &str = "Slipway keeps credentials only in a Secret Service keychain: \
    install and start one (gnome-keyring or KeePassXC with Secret Service enabled) in your \
    desktop session and unlock it. Headless: run Slipway inside `dbus-run-session` after \
    `gnome-keyring-daemon --unlock --components=secrets` (see tests/with-keyring.sh)";
#[cfg(target_os = "macos")]
const KEYCHAIN_HINT: &str = "Slipway keeps credentials only in the macOS Keychain: unlock your \
    login keychain (Keychain Access) and try again";
#[cfg(target_os = "windows")]
const KEYCHAIN_HINT: &str = "Slipway keeps credentials only in the Windows Credential Manager: \
    make sure the Credential Manager service is running";
#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
const KEYCHAIN_HINT: &str = "Slipway keeps credentials only in an OS keychain, and none is \
    supported on this operating system";

/// Where the desktop app looks for its UI files is not a platform concern;
/// but which platform this build runs on is reported by `status`.
pub fn os_name() -> &'static str {
    std::env::consts::OS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_directory_wins_and_is_made_absolute() {
        let dir = data_dir(Some(Path::new("relative/dir"))).unwrap();
        assert!(dir.is_absolute());
        assert!(dir.ends_with("relative/dir"));
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn linux_default_follows_xdg() {
        // Read-only check of the rule, without mutating the process env
        // (tests run in parallel threads).
        let got = os_data_dir();
        if let Some(xdg) = env_dir("XDG_DATA_HOME") {
            assert_eq!(got, Some(xdg.join("slipway")));
        } else if let Some(home) = env_dir("HOME") {
            assert_eq!(got, Some(home.join(".local/share/slipway")));
        }
    }
}
