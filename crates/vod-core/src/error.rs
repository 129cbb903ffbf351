//! `CoreError`: what the domain and its storage ports can fail with. Mapped to wire codes
//! in exactly one place (`vod-api/src/error.rs`).

/// Errors of the domain layer and its ports.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("{kind} {id} already exists")]
    AlreadyExists { kind: &'static str, id: String },
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("invalid state: {0}")]
    InvalidState(String),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound { kind, id: id.into() }
    }

    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field,
            reason: reason.into(),
        }
    }

    /// True when retrying later may succeed (connection loss, pool timeout, busy database).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}
