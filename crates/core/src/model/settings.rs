//! The names of the person's settings, as the store keeps them.

/// Notify when an execution succeeds (failures, approvals and automatic
/// rollbacks always notify). Off by default.
pub const NOTIFY_SUCCESS: &str = "notify_success";
/// Commits, tags and schedules trigger nothing while set.
pub const WATCHING_PAUSED: &str = "watching_paused";
