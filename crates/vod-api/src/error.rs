//! The one mapping from domain errors (`CoreError`) to wire errors (`ApiError`).
//! Storage and internal failures become generic codes; their cause is logged here.

use vod_core::CoreError;
use vod_core::model::GroupRefusal;
use vod_core::model::template_change::{MAX_GROUPS_PER_APP, MAX_TEMPLATES_PER_GROUP};
use vod_wire::{ApiError, codes};

/// Maps a domain error to its Alibaba code. Unknown kinds fall back to generic codes.
pub fn core_to_api(err: CoreError) -> ApiError {
    match err {
        CoreError::NotFound { kind, id } => match kind {
            "App" => ApiError::with_message(codes::APP_NOT_FOUND, format!("The specified app {id} does not exist.")),
            "TranscodeTemplateGroup" => ApiError::new(codes::TEMPLATE_GROUP_NOT_FOUND),
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

/// Maps a refused template-group operation to its Alibaba code; `Invalid` and
/// `TooManyWatermarks` name the template and the problem (in `TranscodeTemplateList`).
pub fn refusal_to_api(refusal: GroupRefusal) -> ApiError {
    match refusal {
        GroupRefusal::NotFound => ApiError::new(codes::TEMPLATE_GROUP_NOT_FOUND),
        GroupRefusal::Locked => ApiError::new(codes::TEMPLATE_GROUP_LOCKED),
        GroupRefusal::Special => ApiError::new(codes::TEMPLATE_GROUP_SPECIAL),
        GroupRefusal::Default => ApiError::new(codes::TEMPLATE_GROUP_DEFAULT),
        GroupRefusal::TooManyGroups => ApiError::with_message(
            codes::TEMPLATE_GROUP_EXCEEDED_MAX,
            format!(
                "The transcode template group size exceeded maximum: an app holds at most {MAX_GROUPS_PER_APP} groups."
            ),
        ),
        GroupRefusal::TooManyTemplates => ApiError::with_message(
            codes::TEMPLATE_EXCEEDED_MAX,
            format!(
                "The template transcode template config size exceeded maximum: a group holds at most {MAX_TEMPLATES_PER_GROUP} templates."
            ),
        ),
        GroupRefusal::TooManyWatermarks(why) => ApiError::with_message(codes::WATERMARK_EXCEEDED_MAX, why),
        GroupRefusal::Invalid(why) => ApiError::invalid_because("TranscodeTemplateList", &why),
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
        let gone = core_to_api(CoreError::not_found("TranscodeTemplateGroup", "x"));
        assert_eq!(
            (gone.code.as_ref(), gone.status),
            ("InvalidTranscodeTemplateGroup.NotFound", 404)
        );
        for (refusal, code, status) in [
            (GroupRefusal::Locked, "Forbidden.LockedTemplateGroup", 403),
            (GroupRefusal::Special, "Forbidden.SpecialTemplateGroup", 403),
            (GroupRefusal::Default, "Forbidden.DefaultTemplateGroup", 403),
            (GroupRefusal::TooManyGroups, "TrasncodeTemplateGroupExceededMax", 400),
            (GroupRefusal::TooManyTemplates, "TranscodeTemplateExceededMax", 400),
            (GroupRefusal::TooManyWatermarks("x".into()), "WatermarkExceededMax", 400),
            (GroupRefusal::Invalid("why".into()), "InvalidParameter", 400),
        ] {
            let e = refusal_to_api(refusal);
            assert_eq!((e.code.as_ref(), e.status), (code, status));
        }
        let internal = core_to_api(CoreError::Internal("secret detail".into()));
        assert_eq!(internal.code, "InternalError");
        assert!(!internal.message.contains("secret detail"));
    }
}
