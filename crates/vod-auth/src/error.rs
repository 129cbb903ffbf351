//! Error types shared by the parsing and verification functions of this crate.

use thiserror::Error;

/// Failure to parse an `Authorization` header (POP V3, OSS V4).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthParseError {
    /// The header value is empty or only whitespace.
    #[error("authorization header is empty")]
    Empty,
    /// The scheme / algorithm token is not the one this parser handles.
    #[error("unsupported authorization scheme `{0}`")]
    UnsupportedScheme(String),
    /// A required component (`Credential`, `SignedHeaders`, `Signature`) is absent or empty.
    #[error("authorization header is missing {0}")]
    Missing(&'static str),
    /// A component is present but does not have the expected shape.
    #[error("malformed authorization header: {0}")]
    Malformed(String),
}

/// Failure to open an STS security token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum StsError {
    /// The token is not of the `CAIS<payload>.<mac>` form or its payload does not decode.
    #[error("malformed security token")]
    Malformed,
    /// The token's MAC does not verify under the master key.
    #[error("security token signature mismatch")]
    BadSignature,
}

/// Failure to verify a CDN Type-A `auth_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum UrlAuthError {
    /// The `auth_key` is not `ts-rand-uid-md5hex`.
    #[error("malformed auth_key")]
    Malformed,
    /// The signature is valid but `now > ts + ttl`.
    #[error("auth_key expired")]
    Expired,
    /// The md5 does not match the path / key.
    #[error("auth_key signature mismatch")]
    Mismatch,
}
