//! The error every command returns, whatever the transport: a stable
//! [`ErrorCode`] the UI and scripts can branch on, and a message a person can
//! act on. Messages never carry secrets.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use crate::model::ErrorCode;

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
        ApiError::new(err.code(), err.to_string())
    }
}

impl From<crate::engine::EngineError> for ApiError {
    fn from(err: crate::engine::EngineError) -> Self {
        ApiError::new(err.code(), err.to_string())
    }
}
