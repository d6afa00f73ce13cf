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

impl From<crate::repos::RepoError> for ApiError {
    fn from(err: crate::repos::RepoError) -> Self {
        use crate::repos::RepoError as E;
        let code = match err {
            E::Store(inner) => return inner.into(),
            E::NoSuchPath { .. } | E::NotARepository { .. } | E::Bare { .. } => {
                ErrorCode::NotARepository
            }
            E::BadName(_) => ErrorCode::InvalidInput,
            E::NotFound(_) => ErrorCode::NotFound,
            E::AlreadyAdded { .. } => ErrorCode::AlreadyExists,
        };
        ApiError::new(code, err.to_string())
    }
}

impl From<crate::creds::CredsError> for ApiError {
    fn from(err: crate::creds::CredsError) -> Self {
        use crate::creds::CredsError as E;
        let code = match err {
            E::Store(inner) => return inner.into(),
            E::UnknownProfile(_) | E::UnknownSecret(_) => ErrorCode::NotFound,
            E::DuplicateProfile(_) => ErrorCode::AlreadyExists,
            E::InvalidProfile { .. }
            | E::ProfileInUse { .. }
            | E::MissingKeys(_)
            | E::ChainLoop(_)
            | E::InvalidMfaCode
            | E::InvalidSecretName(_) => ErrorCode::InvalidInput,
            E::MfaRequired { .. } => ErrorCode::MfaRequired,
            E::KeychainUnavailable { .. } | E::Keychain { .. } | E::Sts { .. } => {
                ErrorCode::Credentials
            }
            E::ReadFile { .. } => ErrorCode::Io,
        };
        ApiError::new(code, err.to_string())
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        let code = match &err {
            crate::store::StoreError::DuplicateRepository(_) => ErrorCode::AlreadyExists,
            _ => ErrorCode::Io,
        };
        ApiError::new(code, err.to_string())
    }
}

impl From<crate::engine::EngineError> for ApiError {
    fn from(err: crate::engine::EngineError) -> Self {
        use crate::engine::EngineError as E;
        let code = match err {
            E::Store(inner) => return inner.into(),
            E::NoSuchPipeline(_) | E::NoSuchExecution(_) | E::NoPendingApproval { .. } => {
                ErrorCode::NotFound
            }
            E::Ambiguous { .. } | E::InvalidPipeline { .. } | E::Unsupported { .. } => {
                ErrorCode::InvalidInput
            }
            E::Untrusted(_) => ErrorCode::Untrusted,
            E::Missing { .. } => ErrorCode::NotARepository,
            E::Finished(_) => ErrorCode::AlreadyFinished,
            E::NotRetryable { .. } => ErrorCode::InvalidInput,
            E::Source(_) | E::Workspace(_) => ErrorCode::Io,
            E::Rejected(_) => ErrorCode::InvalidInput,
            E::NoEngine => ErrorCode::NoEngine,
        };
        ApiError::new(code, err.to_string())
    }
}
