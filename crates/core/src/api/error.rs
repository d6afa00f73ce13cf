//! The error every command returns, whatever the transport: a stable
//! [`ErrorCode`] the UI and scripts can branch on, and a message a person can
//! act on. Messages never carry secrets.

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
    /// Reading or writing Slipway's data directory failed.
    Io,
    /// A bug: the message says what broke.
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn unknown_command(name: &str) -> Self {
        Self::new(
            ErrorCode::UnknownCommand,
            format!(
                "unknown command `{name}`; known commands: {}",
                super::COMMANDS.join(", ")
            ),
        )
    }

    pub fn invalid_request(command: &str, err: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorCode::InvalidRequest,
            format!("invalid request for `{command}`: {err}"),
        )
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::Internal, err.to_string())
    }
}
