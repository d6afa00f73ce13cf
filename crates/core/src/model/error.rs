//! The stable codes errors carry across every boundary (the command table,
//! the engine's mailbox, `--json` output), so the UI and scripts branch on
//! a code, never on a message.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No command of that name exists in the table.
    UnknownCommand,
    /// The request body does not fit the command's request type.
    InvalidRequest,
    /// An HTTP call without the `serve` token (or with a wrong one).
    Unauthorized,
    /// An HTTP call from a page of another origin.
    ForbiddenOrigin,
    /// No repository, pipeline or execution of that name or id.
    NotFound,
    /// Something of that name already exists.
    AlreadyExists,
    /// The path is not a git repository with a work tree.
    NotARepository,
    /// The repository is not trusted, so its pipelines do not run.
    Untrusted,
    /// The execution already ended.
    AlreadyFinished,
    /// A request needs a running engine and none answered.
    NoEngine,
    /// A value the user gave is not usable (the message says which and why).
    InvalidInput,
    /// The profile's chain names an MFA device: ask for its current code and
    /// call again with `mfa_code`.
    MfaRequired,
    /// The keychain or STS refused (the message says which and why).
    Credentials,
    /// Reading or writing Slipway's data directory or database failed.
    Io,
    /// An operation was carried out and failed (the message says why).
    Failed,
    /// A bug: the message says what broke.
    Internal,
}
