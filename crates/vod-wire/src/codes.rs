//! The table of Alibaba error codes we emit: code string, HTTP status and default message.
//!
//! Sources: protocol.md §2.2 (gateway), the VOD error-code pages (business codes) and §5.5 (OSS).
//! Every error the gateway or a handler returns is built from one of these constants.

/// One entry of the error-code table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: &'static str,
    pub status: u16,
    pub message: &'static str,
}

macro_rules! codes {
    ($( $(#[$m:meta])* $name:ident = ($code:literal, $status:literal, $msg:literal); )*) => {
        $( $(#[$m])* pub const $name: ErrorCode = ErrorCode { code: $code, status: $status, message: $msg }; )*
        /// Every code in the table, for documentation and tests.
        pub const ALL: &[ErrorCode] = &[$($name),*];
    };
}

codes! {
    // ---- gateway (protocol.md §2.2)
    INVALID_ACCESS_KEY_ID_NOT_FOUND = ("InvalidAccessKeyId.NotFound", 404, "Specified access key is not found.");
    INVALID_ACCESS_KEY_ID_INACTIVE = ("InvalidAccessKeyId.Inactive", 400, "Specified access key is disabled.");
    SIGNATURE_DOES_NOT_MATCH = ("SignatureDoesNotMatch", 400, "Specified signature is not matched with our calculation.");
    INCOMPLETE_SIGNATURE = ("IncompleteSignature", 400, "The request signature does not conform to Aliyun standards.");
    INVALID_SIGNATURE_METHOD = ("InvalidSignatureMethod", 400, "Specified signature method is not valid.");
    UNSUPPORTED_SIGNATURE_VERSION = ("UnsupportedSignatureVersion", 400, "Specified signature version is not supported.");
    SIGNATURE_NONCE_USED = ("SignatureNonceUsed", 400, "Specified signature nonce was used already.");
    INVALID_TIMESTAMP_FORMAT = ("InvalidTimeStamp.Format", 400, "Specified time stamp or date value is not well formatted.");
    INVALID_TIMESTAMP_EXPIRED = ("InvalidTimeStamp.Expired", 400, "Specified time stamp or date value is expired.");
    INVALID_SECURITY_TOKEN_EXPIRED = ("InvalidSecurityToken.Expired", 400, "Specified SecurityToken is expired.");
    INVALID_SECURITY_TOKEN_MALFORMED = ("InvalidSecurityToken.Malformed", 400, "Specified SecurityToken is malformed.");
    INVALID_SECURITY_TOKEN_MISMATCH = ("InvalidSecurityToken.MismatchWithAccessKey", 400, "Specified SecurityToken mismatch with the AccessKey.");
    MISSING_SECURITY_TOKEN = ("MissingSecurityToken", 400, "SecurityToken is mandatory for this action.");
    THROTTLING_USER = ("Throttling.User", 400, "Request was denied due to user flow control.");
    THROTTLING_API = ("Throttling.Api", 400, "Request was denied due to api flow control.");
    THROTTLING = ("Throttling", 400, "Request was denied due to request throttling.");
    INVALID_ACTION_NOT_FOUND = ("InvalidAction.NotFound", 404, "Specified api is not found, please check your url and method.");
    INVALID_VERSION = ("InvalidVersion", 404, "Specified parameter Version is not valid.");
    INVALID_PARAMETER_FORMAT = ("InvalidParameter.Format", 400, "Specified parameter Format is not valid.");
    FORBIDDEN_RAM = ("Forbidden.RAM", 403, "User not authorized to operate on the specified resource, or this API doesn't support RAM.");
    // ---- generic business codes (VOD error-code page)
    MISSING_PARAMETER = ("MissingParameter", 400, "The input parameter that is mandatory for processing this request is not supplied.");
    INVALID_PARAMETER = ("InvalidParameter", 400, "The specified parameter is not valid.");
    OPERATION_DENIED = ("OperationDenied", 403, "Your account does not open VOD service yet.");
    FORBIDDEN = ("Forbidden", 403, "User not authorized to operate on the specified resource.");
    INTERNAL_ERROR = ("InternalError", 500, "The request processing has failed due to some unknown error.");
    SERVICE_UNAVAILABLE = ("ServiceUnAvailable", 503, "The request has failed due to a temporary failure of the server.");
    NOT_IMPLEMENTED = ("UnsupportedOperation", 400, "The specified action is not supported.");
    // ---- multi-app
    APP_NOT_FOUND = ("AppNotExist", 404, "The specified app does not exist.");
    APP_NAME_EXISTED = ("AppNameExisted", 400, "The specified app name already exists.");
    APP_FORBIDDEN_SYSTEM = ("Forbidden.OperateSystemApp", 403, "The system app cannot be modified or deleted.");
    APP_NOT_EMPTY = ("AppNotEmpty", 400, "The app still holds media and cannot be deleted.");
    IDENTITY_NOT_FOUND = ("IdentityNotExist", 404, "The specified identity does not exist.");
    QUOTA_EXCEEDED = ("QuotaExceeded", 400, "The quota is exceeded.");
    // ---- transcode template groups (AddTranscodeTemplateGroup & co. reference pages)
    TEMPLATE_GROUP_NOT_FOUND = ("InvalidTranscodeTemplateGroup.NotFound", 404, "The transcode template group does not exist.");
    TEMPLATE_GROUP_LOCKED = ("Forbidden.LockedTemplateGroup", 403, "The transcode template group has been locked.");
    TEMPLATE_GROUP_SPECIAL = ("Forbidden.SpecialTemplateGroup", 403, "The transcode template group is using for special purpose.");
    TEMPLATE_GROUP_DEFAULT = ("Forbidden.DefaultTemplateGroup", 403, "The transcode template group is default.");
    /// (sic: Alibaba's code is spelled `Trasncode`.)
    TEMPLATE_GROUP_EXCEEDED_MAX = ("TrasncodeTemplateGroupExceededMax", 400, "The transcode template group size exceeded maximum.");
    TEMPLATE_EXCEEDED_MAX = ("TranscodeTemplateExceededMax", 400, "The template transcode template config size exceeded maximum.");
    WATERMARK_EXCEEDED_MAX = ("WatermarkExceededMax", 400, "The watermark size exceeded maximum.");
}

/// Looks up a code by its wire string.
pub fn by_code(code: &str) -> Option<ErrorCode> {
    ALL.iter().copied().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_statuses_valid() {
        let mut seen = std::collections::HashSet::new();
        for c in ALL {
            assert!(seen.insert(c.code), "duplicate code {}", c.code);
            assert!((400..600).contains(&c.status), "{} has status {}", c.code, c.status);
            assert!(c.message.ends_with('.'), "{} message should be a sentence", c.code);
        }
        assert_eq!(by_code("Throttling.User").unwrap().status, 400);
        assert_eq!(by_code("InvalidAccessKeyId.NotFound").unwrap().status, 404);
    }
}
