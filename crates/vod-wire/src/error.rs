//! `ApiError`: one Alibaba error as it goes on the wire (code, HTTP status, message).

use std::borrow::Cow;

use crate::codes::{self, ErrorCode};

/// An error answer of the RPC gateway. Rendered once, by [`crate::render::render_error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: Cow<'static, str>,
    pub status: u16,
    pub message: String,
}

impl ApiError {
    /// The code with its default message.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code: Cow::Borrowed(code.code),
            status: code.status,
            message: code.message.to_string(),
        }
    }

    /// The code with a specific message.
    pub fn with_message(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code: Cow::Borrowed(code.code),
            status: code.status,
            message: message.into(),
        }
    }

    /// A code that is not in the static table (handlers of business families add their own).
    pub fn custom(code: impl Into<Cow<'static, str>>, status: u16, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            status,
            message: message.into(),
        }
    }

    /// `Missing<Name>` for a missing common parameter (e.g. `MissingSignatureNonce`).
    pub fn missing_common(name: &str) -> Self {
        Self::custom(
            format!("Missing{name}"),
            400,
            format!("{name} is mandatory for this action."),
        )
    }

    /// `MissingParameter` naming the parameter, as VOD words it.
    pub fn missing(name: &str) -> Self {
        Self::with_message(
            codes::MISSING_PARAMETER,
            format!("The input parameter \"{name}\" that is mandatory for processing this request is not supplied."),
        )
    }

    /// `InvalidParameter` naming the parameter, as VOD words it.
    pub fn invalid(name: &str) -> Self {
        Self::with_message(
            codes::INVALID_PARAMETER,
            format!("The specified parameter \"{name}\" is not valid."),
        )
    }

    /// `InvalidParameter` naming the parameter with a reason appended.
    pub fn invalid_because(name: &str, reason: &str) -> Self {
        Self::with_message(
            codes::INVALID_PARAMETER,
            format!("The specified parameter \"{name}\" is not valid. {reason}"),
        )
    }

    /// The generic internal error; the cause must be logged by the caller, never shown.
    pub fn internal() -> Self {
        Self::new(codes::INTERNAL_ERROR)
    }

    /// `SignatureDoesNotMatch` whose message ends in the server's string to sign. The legacy
    /// Python SDK splits the message on ':' and compares the rest with its own string to sign.
    pub fn signature_mismatch(string_to_sign: &str) -> Self {
        Self::with_message(
            codes::SIGNATURE_DOES_NOT_MATCH,
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
            ),
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        Self::new(code)
    }
}
