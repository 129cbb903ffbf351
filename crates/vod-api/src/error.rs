//! The one mapping from domain errors (`CoreError`) to wire errors (`ApiError`).
//! Storage and internal failures become generic codes; their cause is logged here.

use vod_core::CoreError;
use vod_wire::{ApiError, codes};

/// Maps a domain error to its Alibaba code. Unknown kinds fall back to generic codes.
pub fn core_to_api(err: CoreError) -> ApiError {
    match err {
        CoreError::NotFound { kind, id } => match kind {
            "App" => ApiError::with_message(codes::APP_NOT_FOUND, format!("The specified app {id} does not exist.")),
            "User" | "Identity" => ApiError::with_message(
                codes::IDENTITY_NOT_FOUND,
                format!("The specified identity {id} does not exist."),
            ),
            _ => ApiError::custom("NotFound", 404, format!("The specified {kind} {id} does not exist.")),
        },
        CoreError::AlreadyExists { kind, id } => match kind {
            "AppName" => ApiError::with_message(codes::APP_NAME_EXISTED, format!("The app name {id} already exists.")),
            _ => ApiError::custom(
                "AlreadyExists",
                400,
                format!("The specified {kind} {id} already exists."),
            ),
        },
        CoreError::InvalidArgument { field, reason } => ApiError::invalid_because(field, &reason),
        CoreError::Forbidden(msg) => ApiError::with_message(codes::FORBIDDEN, msg),
        CoreError::InvalidState(msg) => ApiError::custom("IllegalStatus", 400, msg),
        CoreError::Unavailable(msg) => {
            tracing::warn!(error = %msg, "storage unavailable");
            ApiError::new(codes::SERVICE_UNAVAILABLE)
        }
        CoreError::Internal(msg) => {
            tracing::error!(error = %msg, "internal error");
            ApiError::internal()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(core_to_api(CoreError::not_found("App", "app-1")).code, "AppNotExist");
        assert_eq!(core_to_api(CoreError::not_found("App", "app-1")).status, 404);
        assert_eq!(
            core_to_api(CoreError::AlreadyExists {
                kind: "AppName",
                id: "x".into()
            })
            .code,
            "AppNameExisted"
        );
        assert_eq!(
            core_to_api(CoreError::invalid("AppName", "too long")).code,
            "InvalidParameter"
        );
        assert_eq!(core_to_api(CoreError::Unavailable("db".into())).status, 503);
        let internal = core_to_api(CoreError::Internal("secret detail".into()));
        assert_eq!(internal.code, "InternalError");
        assert!(!internal.message.contains("secret detail"));
    }
}
