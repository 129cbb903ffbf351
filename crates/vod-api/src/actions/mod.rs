//! The action table: which (product, Action) pairs the gateway implements and the thin
//! handler each one delegates to. Handlers return a JSON object body or an `ApiError`.

mod apps;
mod callbacks;
mod categories;
mod cdn_cache;
mod ice_media;
mod media;
mod play;
mod processing;
mod refresh;
mod search;
mod templates;
mod upload;
mod url_upload;

use serde_json::{Map, Value};
use vod_wire::{ApiError, Params, codes};

use crate::authn::Caller;
use crate::catalog::Product;
use crate::state::AppState;

/// A success body (without RequestId; the renderer adds it first).
pub type Body = Map<String, Value>;
pub type ActionResult = Result<Body, ApiError>;

/// What a handler sees of its request.
pub struct Ctx<'a> {
    pub state: &'a AppState,
    pub caller: &'a Caller,
    pub request_id: &'a str,
    pub product: Product,
    pub action: &'a str,
}

macro_rules! action_table {
    ($( ($product:ident, $name:literal) => $handler:path, )*) => {
        /// Every implemented (product, action) pair.
        pub const IMPLEMENTED: &[(Product, &str)] = &[$((Product::$product, $name)),*];

        /// Runs the handler of `ctx.action`. Each handler's future is boxed: unboxed, every
        /// request's future would be as large as the largest handler's (kilobytes, copied
        /// and zeroed per request); boxed, it costs one allocation of the chosen one's size.
        pub async fn dispatch(ctx: &Ctx<'_>, params: &Params) -> ActionResult {
            match (ctx.product, ctx.action) {
                $((Product::$product, $name) => Box::pin($handler(ctx, params)).await,)*
                _ => Err(codes::INVALID_ACTION_NOT_FOUND.into()),
            }
        }
    };
}

action_table! {
    (Vod, "CreateAppInfo") => apps::create_app_info,
    (Vod, "ListAppInfo") => apps::list_app_info,
    (Vod, "GetAppInfos") => apps::get_app_infos,
    (Vod, "UpdateAppInfo") => apps::update_app_info,
    (Vod, "DeleteAppInfo") => apps::delete_app_info,
    (Vod, "AttachAppPolicyToIdentity") => apps::attach_app_policy_to_identity,
    (Vod, "DetachAppPolicyFromIdentity") => apps::detach_app_policy_from_identity,
    (Vod, "ListAppPoliciesForIdentity") => apps::list_app_policies_for_identity,
    (Vod, "AddCategory") => categories::add_category,
    (Vod, "UpdateCategory") => categories::update_category,
    (Vod, "DeleteCategory") => categories::delete_category,
    (Vod, "GetCategories") => categories::get_categories,
    (Ice, "AddCategory") => categories::add_category,
    (Ice, "UpdateCategory") => categories::update_category,
    (Ice, "DeleteCategory") => categories::delete_category,
    (Ice, "GetCategories") => categories::get_categories,
    (Vod, "SetMessageCallback") => callbacks::set_message_callback,
    (Vod, "GetMessageCallback") => callbacks::get_message_callback,
    (Vod, "DeleteMessageCallback") => callbacks::delete_message_callback,
    (Vod, "CreateUploadVideo") => upload::create_upload_video,
    (Vod, "RefreshUploadVideo") => upload::refresh_upload_video,
    (Vod, "UploadMediaByURL") => url_upload::upload_media_by_url,
    (Vod, "GetURLUploadInfos") => url_upload::get_url_upload_infos,
    (Vod, "CancelUrlUploadJobs") => url_upload::cancel_url_upload_jobs,
    (Vod, "GetVideoInfo") => media::get_video_info,
    (Vod, "GetVideoInfos") => media::get_video_infos,
    (Vod, "UpdateVideoInfo") => media::update_video_info,
    (Vod, "DeleteVideo") => media::delete_video,
    (Vod, "GetMezzanineInfo") => media::get_mezzanine_info,
    (Vod, "GetPlayInfo") => play::get_play_info,
    (Vod, "RefreshMediaPlayUrls") => refresh::refresh_media_play_urls,
    (Vod, "GetMediaRefreshJobs") => refresh::get_media_refresh_jobs,
    (Vod, "RefreshVodObjectCaches") => cdn_cache::refresh_vod_object_caches,
    (Vod, "PreloadVodObjectCaches") => cdn_cache::preload_vod_object_caches,
    (Vod, "DescribeVodRefreshTasks") => cdn_cache::describe_vod_refresh_tasks,
    (Vod, "DescribeVodRefreshQuota") => cdn_cache::describe_vod_refresh_quota,
    (Vod, "SubmitTranscodeJobs") => processing::submit_transcode_jobs,
    (Vod, "SubmitSnapshotJob") => processing::submit_snapshot_job,
    (Vod, "ListSnapshots") => processing::list_snapshots,
    (Vod, "DeleteStream") => processing::delete_stream,
    (Vod, "SearchMedia") => search::search_media,
    (Ice, "CreateUploadMedia") => upload::create_upload_media,
    (Ice, "RefreshUploadMedia") => upload::refresh_upload_media,
    (Ice, "GetMediaInfo") => ice_media::get_media_info,
    (Ice, "RegisterMediaInfo") => ice_media::register_media_info,
    (Vod, "AddTranscodeTemplateGroup") => templates::add_transcode_template_group,
    (Vod, "UpdateTranscodeTemplateGroup") => templates::update_transcode_template_group,
    (Vod, "GetTranscodeTemplateGroup") => templates::get_transcode_template_group,
    (Vod, "ListTranscodeTemplateGroup") => templates::list_transcode_template_group,
    (Vod, "SetDefaultTranscodeTemplateGroup") => templates::set_default_transcode_template_group,
    (Vod, "DeleteTranscodeTemplateGroup") => templates::delete_transcode_template_group,
}

/// Arrays Alibaba wraps in an item element in XML only: (action, field, item element).
/// GetURLUploadInfos follows the user's seed page (`<URLUploadInfoList><UrlUploadJobInfoDTO>`).
pub const XML_ITEMS: &[(&str, &str, &str)] = &[("GetURLUploadInfos", "URLUploadInfoList", "UrlUploadJobInfoDTO")];

/// The XML item names of `action` for [`vod_wire::render::render_success_with`].
pub fn xml_items(action: &str) -> Vec<(&'static str, &'static str)> {
    XML_ITEMS
        .iter()
        .filter(|(a, _, _)| *a == action)
        .map(|(_, f, i)| (*f, *i))
        .collect()
}

/// The implemented action's name as a `'static` string; `None` when the gateway does not
/// implement `action` of `product`.
pub fn static_name(product: Product, action: &str) -> Option<&'static str> {
    IMPLEMENTED
        .iter()
        .find(|(p, a)| *p == product && *a == action)
        .map(|(_, a)| *a)
}

/// Builds a body from `(key, value)` pairs, keeping their order.
pub fn body<const N: usize>(fields: [(&str, Value); N]) -> Body {
    fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}
