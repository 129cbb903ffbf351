//! OSS errors on the wire (protocol.md §5.5): an XML `<Error>` body with Code, Message,
//! RequestId, HostId and per-code extra elements; for HEAD (no body) the same document
//! base64-encoded in the `x-oss-err` header. `x-oss-request-id` is on every response.

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use vod_blob::ObjectError;

use crate::xml::escape;

/// One OSS error: HTTP status, code, message and extra `<Name>value</Name>` elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OssError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub extra: Vec<(&'static str, String)>,
    /// `x-oss-ec` / `<EC>`, when known.
    pub ec: Option<&'static str>,
}

impl OssError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            extra: Vec::new(),
            ec: None,
        }
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    pub fn with_ec(mut self, ec: &'static str) -> Self {
        self.ec = Some(ec);
        self
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "AccessDenied", message)
    }

    pub fn invalid_access_key_id(ak: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "The OSS Access Key Id you provided does not exist in our records.",
        )
        .with("OSSAccessKeyId", ak)
    }

    /// An STS access key id without a security token.
    pub fn security_token_lost(ak: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "The OSS Access Key Id you provided does not exist in our records. The Security Token may be lost to \
             specify that it is a STS Access Id.",
        )
        .with("OSSAccessKeyId", ak)
    }

    pub fn security_token_expired(token: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "SecurityTokenExpired",
            "The security token you provided has expired.",
        )
        .with("SecurityToken", token)
        .with_ec("0002-00000007")
    }

    pub fn invalid_security_token(token: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "InvalidSecurityToken",
            "The security token you provided is invalid.",
        )
        .with("SecurityToken", token)
    }

    pub fn token_key_mismatch(ak: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "AccessKeyIdAndSecurityTokenNotMatch",
            "The OSS access key id and security token you provided does not match",
        )
        .with("OSSAccessKeyId", ak)
    }

    pub fn signature_mismatch(ak: &str, provided: &str, string_to_sign: &str) -> Self {
        let bytes: Vec<String> = string_to_sign.bytes().map(|b| format!("{b:02x}")).collect();
        Self::new(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and \
             signing method.",
        )
        .with("OSSAccessKeyId", ak)
        .with("SignatureProvided", provided)
        .with("StringToSign", string_to_sign)
        .with("StringToSignBytes", bytes.join(" "))
        .with_ec("0002-00000040")
    }

    pub fn time_skewed(request_time: &str, server_time: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        )
        .with("RequestTime", request_time)
        .with("ServerTime", server_time)
        .with("MaxAllowedSkewMilliseconds", "900000")
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }

    pub fn malformed_xml() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        )
    }

    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist.",
        )
        .with("BucketName", bucket)
    }

    pub fn no_such_key(key: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist.").with("Key", key)
    }

    pub fn no_such_upload(upload_id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchUpload",
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or \
             completed.",
        )
        .with("UploadId", upload_id)
    }

    pub fn not_implemented(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            format!("{what} is not implemented by vodstack."),
        )
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!(error = %message, "OSS request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    }

    pub fn unavailable(message: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %message, "OSS request failed: storage unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "Please reduce your request rate.",
        )
    }

    /// The `<Error>` document.
    pub fn to_xml(&self, request_id: &str, host_id: &str) -> String {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n");
        let mut el = |name: &str, value: &str| {
            s.push_str(&format!("  <{name}>{}</{name}>\n", escape(value)));
        };
        el("Code", self.code);
        el("Message", &self.message);
        el("RequestId", request_id);
        el("HostId", host_id);
        for (k, v) in &self.extra {
            el(k, v);
        }
        if let Some(ec) = self.ec {
            el("EC", ec);
            el("RecommendDoc", &format!("https://api.aliyun.com/troubleshoot?q={ec}"));
        }
        s.push_str("</Error>\n");
        s
    }

    /// The HTTP response (body omitted for HEAD, where `x-oss-err` carries it instead).
    pub fn into_response(self, request_id: &str, host_id: &str, head: bool) -> Response<Body> {
        let xml = self.to_xml(request_id, host_id);
        let mut builder = Response::builder()
            .status(self.status)
            .header("content-type", "application/xml")
            .header("x-oss-request-id", request_id)
            .header("server", "AliyunOSS");
        if let Some(ec) = self.ec {
            builder = builder.header("x-oss-ec", ec);
        }
        let body = if head {
            if let Ok(v) = HeaderValue::from_str(&STANDARD.encode(xml.as_bytes())) {
                builder = builder.header("x-oss-err", v);
            }
            Body::empty()
        } else {
            builder = builder.header("content-length", xml.len());
            Body::from(xml)
        };
        builder.body(body).unwrap_or_else(|_| Response::new(Body::empty()))
    }
}

impl From<ObjectError> for OssError {
    fn from(e: ObjectError) -> Self {
        match e {
            ObjectError::NoSuchKey => {
                Self::new(StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist.")
            }
            ObjectError::NoSuchUpload => Self::new(
                StatusCode::NOT_FOUND,
                "NoSuchUpload",
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been \
                 aborted or completed.",
            ),
            ObjectError::InvalidPart(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "InvalidPart",
                "One or more of the specified parts could not be found or the specified entity tag might not have \
                 matched the part's entity tag.",
            ),
            ObjectError::InvalidPartOrder => Self::new(
                StatusCode::BAD_REQUEST,
                "InvalidPartOrder",
                "The list of parts was not in ascending order. Parts list must specified in order by part number.",
            ),
            ObjectError::EntityTooSmall { part_number, size, min } => Self::new(
                StatusCode::BAD_REQUEST,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed size.",
            )
            .with("PartNumber", part_number.to_string())
            .with("ProposedSize", size.to_string())
            .with("MinSizeAllowed", min.to_string()),
            ObjectError::EntityTooLarge(max) => Self::new(
                StatusCode::BAD_REQUEST,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size.",
            )
            .with("MaxSizeAllowed", max.to_string()),
            ObjectError::BadDigest => Self::new(
                StatusCode::BAD_REQUEST,
                "InvalidDigest",
                "The Content-MD5 you specified did not match what we received.",
            ),
            ObjectError::InvalidArgument(m) => Self::invalid_argument(m),
            ObjectError::Body(m) => Self::new(
                StatusCode::BAD_REQUEST,
                "IncompleteBody",
                format!("The request body terminated unexpectedly: {m}"),
            ),
            ObjectError::Blob(e) => Self::internal(e),
            ObjectError::Meta(e) if e.is_retryable() => Self::unavailable(e),
            ObjectError::Meta(e) => Self::internal(e),
        }
    }
}
