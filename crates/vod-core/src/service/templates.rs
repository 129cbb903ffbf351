//! Transcode template groups as the rest of the system sees them: [`resolve_group`] (which
//! group a media of an app transcodes with) and [`find_group`] (a group by id, built-in or
//! stored, as the template-group actions show it).
//!
//! Built-in groups (`VOD_DEFAULT_LADDER`, `VOD_NO_TRANSCODE`) exist in every app; they are
//! not stored. An app's default group is the group recorded by
//! SetDefaultTranscodeTemplateGroup, else the built-in default ladder.

use crate::CoreResult;
use crate::model::TemplateGroup;
use crate::model::template::{DEFAULT_TEMPLATE_GROUP, builtin_group, is_builtin_group};
use crate::ports::MetaStore;

/// The template group a media of `app_id` transcodes with.
///
/// * `group_id` empty (or blank): the app's default group, i.e. the stored group set with
///   SetDefaultTranscodeTemplateGroup, else the built-in `VOD_DEFAULT_LADDER`. Always `Some`.
/// * `VOD_DEFAULT_LADDER` / `VOD_NO_TRANSCODE`: the built-in group (`is_no_transcode()`
///   tells the caller to publish the source instead of transcoding).
/// * any other id: the account's stored group of that id when it belongs to `app_id`;
///   `None` when there is no such group in this app (deleted, another app, never existed).
///
/// A group may hold no templates (created without a TranscodeTemplateList): nothing is
/// transcoded then. `is_default` is set on the returned group when it is the app's default.
pub async fn resolve_group(
    store: &dyn MetaStore,
    account_id: &str,
    app_id: &str,
    group_id: &str,
) -> CoreResult<Option<TemplateGroup>> {
    let group_id = group_id.trim();
    if group_id.is_empty() {
        let default = store.default_template_group_id(account_id, app_id).await?;
        if let Some(id) = default.as_deref().filter(|id| !is_builtin_group(id))
            && let Some(g) = store.get_template_group(account_id, id).await?
            && g.app_id == app_id
        {
            return Ok(Some(g));
        }
        let id = default
            .filter(|id| is_builtin_group(id))
            .unwrap_or_else(|| DEFAULT_TEMPLATE_GROUP.to_string());
        return builtin(store, account_id, app_id, &id).await;
    }
    if is_builtin_group(group_id) {
        return builtin(store, account_id, app_id, group_id).await;
    }
    Ok(store
        .get_template_group(account_id, group_id)
        .await?
        .filter(|g| g.app_id == app_id))
}

/// A group of the account by id, as GetTranscodeTemplateGroup shows it: a stored group of
/// any app, or a built-in id seen from `app_for_builtin` (its default flag and its times
/// come from that app). `None` when there is no such group.
pub async fn find_group(
    store: &dyn MetaStore,
    account_id: &str,
    group_id: &str,
    app_for_builtin: &str,
) -> CoreResult<Option<TemplateGroup>> {
    if is_builtin_group(group_id) {
        return builtin(store, account_id, app_for_builtin, group_id).await;
    }
    store.get_template_group(account_id, group_id).await
}

/// The built-in groups of an app, as listed first by ListTranscodeTemplateGroup.
pub async fn builtin_groups(store: &dyn MetaStore, account_id: &str, app_id: &str) -> CoreResult<Vec<TemplateGroup>> {
    let mut out = Vec::new();
    for id in [
        DEFAULT_TEMPLATE_GROUP,
        crate::model::template::NO_TRANSCODE_TEMPLATE_GROUP,
    ] {
        out.extend(builtin(store, account_id, app_id, id).await?);
    }
    Ok(out)
}

/// A built-in group of an app: default when the app records it as default (the ladder also
/// when the app records nothing), created and modified when the app was created.
async fn builtin(
    store: &dyn MetaStore,
    account_id: &str,
    app_id: &str,
    group_id: &str,
) -> CoreResult<Option<TemplateGroup>> {
    let Some(mut g) = builtin_group(account_id, app_id, group_id) else {
        return Ok(None);
    };
    let default = store.default_template_group_id(account_id, app_id).await?;
    g.is_default = match default.as_deref() {
        Some(id) => id == group_id,
        None => group_id == DEFAULT_TEMPLATE_GROUP,
    };
    if let Some(app) = store.get_app(account_id, app_id).await? {
        g.created_at = app.created_at;
        g.modified_at = app.created_at;
    }
    Ok(Some(g))
}
