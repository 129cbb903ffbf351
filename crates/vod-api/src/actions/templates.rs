//! Transcode template groups (VOD): AddTranscodeTemplateGroup, UpdateTranscodeTemplateGroup,
//! GetTranscodeTemplateGroup, ListTranscodeTemplateGroup, SetDefaultTranscodeTemplateGroup,
//! DeleteTranscodeTemplateGroup, and the `TemplateGroupId` check of the upload actions.
//!
//! A group belongs to an app (`AppId`, default `app-1000000`); callers need access to that
//! app. The built-in groups `VOD_DEFAULT_LADDER` and `VOD_NO_TRANSCODE` exist in every app:
//! listed first, locked, never changed or deleted (`Forbidden.SpecialTemplateGroup`), but
//! either can be made the app's default. Actions that name only a group id see a built-in
//! group from the app of the `AppId` parameter (a vodstack extension; default app otherwise).
//! Template settings (`Video`, `Audio`, `Container`, ...) are answered as JSON strings, as
//! the SDK models declare them; `WatermarkIds` as a list.

use serde_json::{Map, Value, json};
use vod_core::ids::hex_id;
use vod_core::model::template::is_builtin_group;
use vod_core::model::template_change::{
    ListedTemplate, MAX_GROUP_NAME_BYTES, MAX_GROUPS_PER_APP, check_templates, parse_template_list,
};
use vod_core::model::{GroupChange, GroupRefusal, TemplateGroup, TranscodeTemplate};
use vod_core::now_ms;
use vod_core::service::templates::{builtin_groups, find_group, resolve_group};
use vod_wire::timefmt::iso8601;
use vod_wire::{ApiError, Params, codes};

use super::media::check_app;
use super::{ActionResult, Ctx, body};
use crate::authz::can_access_app;
use crate::error::{core_to_api, refusal_to_api};

/// Most template ids one DeleteTranscodeTemplateGroup call removes.
const MAX_DELETE_IDS: usize = 10;

// ---- rendering ------------------------------------------------------------------------

/// A template as GetTranscodeTemplateGroup answers it: every field a string (objects and
/// arrays as compact JSON), `WatermarkIds` a list of strings, `Type` defaulting to `Normal`.
fn template_json(t: &TranscodeTemplate) -> Value {
    let mut out = Map::new();
    for (k, v) in &t.raw {
        let v = match (k.as_str(), v) {
            ("WatermarkIds", v) => json!(vod_core::model::template::watermark_ids(Some(v))),
            (_, Value::String(s)) => json!(s),
            (_, Value::Null) => continue,
            (_, Value::Number(_) | Value::Bool(_)) => json!(v.to_string()),
            (_, other) => json!(other.to_string()),
        };
        out.insert(k.clone(), v);
    }
    out.entry("Type").or_insert_with(|| json!("Normal"));
    Value::Object(out)
}

/// The fields ListTranscodeTemplateGroup and GetTranscodeTemplateGroup share.
fn group_json(g: &TemplateGroup) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("AppId".into(), json!(g.app_id));
    m.insert("CreationTime".into(), json!(iso8601(g.created_at)));
    m.insert(
        "IsDefault".into(),
        json!(if g.is_default { "Default" } else { "NotDefault" }),
    );
    m.insert("Locked".into(), json!(if g.locked { "Enabled" } else { "Disabled" }));
    m.insert("ModifyTime".into(), json!(iso8601(g.modified_at)));
    m.insert("Name".into(), json!(g.name));
    m.insert("TranscodeTemplateGroupId".into(), json!(g.group_id));
    m
}

// ---- shared checks --------------------------------------------------------------------

fn group_id_param(p: &Params) -> Result<String, ApiError> {
    Ok(p.required("TranscodeTemplateGroupId")?.trim().to_string())
}

/// `Name`: at most 128 bytes.
fn name_param(p: &Params) -> Result<Option<String>, ApiError> {
    match p.get("Name").map(str::trim) {
        Some(n) if n.len() > MAX_GROUP_NAME_BYTES => Err(ApiError::invalid_because(
            "Name",
            &format!("It must be at most {MAX_GROUP_NAME_BYTES} bytes."),
        )),
        n => Ok(n.map(str::to_string)),
    }
}

/// `TranscodeTemplateList`, parsed; `None` when absent.
fn template_list(p: &Params, keep_ids: bool) -> Result<Option<Vec<ListedTemplate>>, ApiError> {
    p.get("TranscodeTemplateList")
        .map(|raw| parse_template_list(raw, keep_ids, &mut hex_id).map_err(refusal_to_api))
        .transpose()
}

/// A stored group of the caller's account the caller may act on: `NotFound` when absent,
/// `Forbidden` without access to its app.
async fn load_stored(ctx: &Ctx<'_>, group_id: &str) -> Result<TemplateGroup, ApiError> {
    let group = ctx
        .state
        .store()
        .get_template_group(&ctx.caller.account_id, group_id)
        .await
        .map_err(core_to_api)?
        .ok_or_else(|| ApiError::new(codes::TEMPLATE_GROUP_NOT_FOUND))?;
    if !can_access_app(ctx.state, ctx.caller, ctx.product, ctx.action, &group.app_id).await? {
        return Err(codes::FORBIDDEN.into());
    }
    Ok(group)
}

/// A group by id as Get/SetDefault see it: built-in ids in the app of `AppId` (checked like
/// any app parameter), stored groups through [`load_stored`].
async fn load_any(ctx: &Ctx<'_>, p: &Params, group_id: &str) -> Result<TemplateGroup, ApiError> {
    if !is_builtin_group(group_id) {
        return load_stored(ctx, group_id).await;
    }
    let app_id = check_app(ctx, p).await?;
    find_group(ctx.state.store(), &ctx.caller.account_id, group_id, &app_id)
        .await
        .map_err(core_to_api)?
        .ok_or_else(|| ApiError::new(codes::TEMPLATE_GROUP_NOT_FOUND))
}

/// Applies `change` to a stored group, mapping refusals to their codes.
async fn update(ctx: &Ctx<'_>, group_id: &str, change: &GroupChange) -> Result<Vec<String>, ApiError> {
    let outcome = ctx
        .state
        .store()
        .update_template_group(&ctx.caller.account_id, group_id, change, now_ms())
        .await
        .map_err(core_to_api)?;
    outcome.map(|(_, missing)| missing).map_err(refusal_to_api)
}

/// The `TemplateGroupId` of an upload: empty, or a group `resolve_group` finds in the app
/// (`InvalidTranscodeTemplateGroup.NotFound` otherwise).
pub(super) async fn check_template_group(ctx: &Ctx<'_>, app_id: &str, group_id: &str) -> Result<(), ApiError> {
    if group_id.trim().is_empty() {
        return Ok(());
    }
    let found = resolve_group(ctx.state.store(), &ctx.caller.account_id, app_id, group_id)
        .await
        .map_err(core_to_api)?;
    match found {
        Some(_) => Ok(()),
        None => Err(ApiError::new(codes::TEMPLATE_GROUP_NOT_FOUND)),
    }
}

// ---- actions --------------------------------------------------------------------------

pub async fn add_transcode_template_group(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let name = name_param(p)?;
    let templates: Vec<TranscodeTemplate> = template_list(p, false)?
        .unwrap_or_default()
        .into_iter()
        .map(|l| l.template)
        .collect();
    let group_id = match p.get("TranscodeTemplateGroupId").map(str::trim) {
        Some(id) => {
            if is_builtin_group(id) {
                return Err(refusal_to_api(GroupRefusal::Special));
            }
            load_stored(ctx, id).await?;
            let change = GroupChange {
                name,
                add: templates,
                ..Default::default()
            };
            update(ctx, id, &change).await?;
            id.to_string()
        }
        None => {
            let name = name.ok_or_else(|| ApiError::missing("Name"))?;
            check_templates(&templates).map_err(refusal_to_api)?;
            let app_id = check_app(ctx, p).await?;
            let now = now_ms();
            let group = TemplateGroup {
                account_id: ctx.caller.account_id.clone(),
                group_id: hex_id(),
                app_id,
                name,
                is_default: false,
                locked: false,
                templates,
                created_at: now,
                modified_at: now,
            };
            ctx.state
                .store()
                .create_template_group(&group, MAX_GROUPS_PER_APP)
                .await
                .map_err(core_to_api)?
                .map_err(refusal_to_api)?;
            group.group_id
        }
    };
    Ok(body([("TranscodeTemplateGroupId", json!(group_id))]))
}

pub async fn update_transcode_template_group(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let group_id = group_id_param(p)?;
    // Given Locked, only the lock changes (the reference page: name and templates stay).
    let locked = match p.get("Locked").map(str::trim) {
        None => None,
        Some(l) if l.eq_ignore_ascii_case("Enabled") => Some(true),
        Some(l) if l.eq_ignore_ascii_case("Disabled") => Some(false),
        Some(_) => {
            return Err(ApiError::invalid_because("Locked", "It must be Enabled or Disabled."));
        }
    };
    let change = match locked {
        Some(l) => GroupChange {
            locked: Some(l),
            ..Default::default()
        },
        None => {
            let mut change = GroupChange {
                name: name_param(p)?,
                ..Default::default()
            };
            for listed in template_list(p, true)?.unwrap_or_default() {
                if listed.had_id {
                    change.replace.push(listed.template);
                } else {
                    change.add.push(listed.template);
                }
            }
            change
        }
    };
    if is_builtin_group(&group_id) {
        return Err(refusal_to_api(GroupRefusal::Special));
    }
    load_stored(ctx, &group_id).await?;
    update(ctx, &group_id, &change).await?;
    Ok(body([("TranscodeTemplateGroupId", json!(group_id))]))
}

pub async fn get_transcode_template_group(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let group_id = group_id_param(p)?;
    let group = load_any(ctx, p, &group_id).await?;
    let mut g = group_json(&group);
    g.insert("TranscodeMode".into(), json!("FastTranscode"));
    g.insert(
        "TranscodeTemplateList".into(),
        Value::Array(group.templates.iter().map(template_json).collect()),
    );
    Ok(body([("TranscodeTemplateGroup", Value::Object(g))]))
}

pub async fn list_transcode_template_group(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let app_id = check_app(ctx, p).await?;
    let store = ctx.state.store();
    let mut groups = builtin_groups(store, &ctx.caller.account_id, &app_id)
        .await
        .map_err(core_to_api)?;
    groups.extend(
        store
            .list_template_groups(&ctx.caller.account_id, &app_id)
            .await
            .map_err(core_to_api)?,
    );
    // PageNo / PageSize come from the older reference page; without them, everything.
    if p.get("PageNo").is_some() || p.get("PageSize").is_some() {
        let page_no = p.i64_in("PageNo", 1, i64::from(u32::MAX), 1)? as usize;
        let page_size = p.i64_in("PageSize", 1, 100, 10)? as usize;
        groups = groups
            .into_iter()
            .skip((page_no - 1).saturating_mul(page_size))
            .take(page_size)
            .collect();
    }
    let list: Vec<Value> = groups.iter().map(|g| Value::Object(group_json(g))).collect();
    Ok(body([("TranscodeTemplateGroupList", Value::Array(list))]))
}

pub async fn set_default_transcode_template_group(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let group_id = group_id_param(p)?;
    let group = load_any(ctx, p, &group_id).await?;
    let set = ctx
        .state
        .store()
        .set_default_template_group(&ctx.caller.account_id, &group.app_id, &group_id, now_ms())
        .await
        .map_err(core_to_api)?;
    if !set {
        return Err(ApiError::new(codes::TEMPLATE_GROUP_NOT_FOUND));
    }
    Ok(body([]))
}

/// `TranscodeTemplateIds`: comma-separated, or a JSON array as the reference page's example.
fn template_ids(p: &Params) -> Result<Vec<String>, ApiError> {
    let raw = p.required("TranscodeTemplateIds")?.trim();
    let ids: Vec<String> = match serde_json::from_str::<Value>(raw) {
        Ok(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(|s| s.trim().to_string()))
            .collect(),
        _ => p.list("TranscodeTemplateIds"),
    };
    let mut unique: Vec<String> = Vec::new();
    for id in ids.into_iter().filter(|s| !s.is_empty()) {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    if unique.is_empty() {
        return Err(ApiError::missing("TranscodeTemplateIds"));
    }
    if unique.len() > MAX_DELETE_IDS {
        return Err(ApiError::invalid_because(
            "TranscodeTemplateIds",
            &format!("At most {MAX_DELETE_IDS} ids can be given."),
        ));
    }
    Ok(unique)
}

pub async fn delete_transcode_template_group(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let group_id = group_id_param(p)?;
    let force = p.opt_bool("ForceDelGroup")?.unwrap_or(false);
    let ids = if force { Vec::new() } else { template_ids(p)? };
    if is_builtin_group(&group_id) {
        return Err(refusal_to_api(GroupRefusal::Special));
    }
    load_stored(ctx, &group_id).await?;
    let missing = if force {
        ctx.state
            .store()
            .delete_template_group(&ctx.caller.account_id, &group_id)
            .await
            .map_err(core_to_api)?
            .map_err(refusal_to_api)?;
        Vec::new()
    } else {
        let change = GroupChange {
            remove: ids,
            ..Default::default()
        };
        update(ctx, &group_id, &change).await?
    };
    Ok(body([("NonExistTranscodeTemplateIds", json!(missing))]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_as_strings() {
        let t = TranscodeTemplate::from_json(
            &json!({"Definition":"SD","Container":{"Format":"m3u8"},"Video":"{\"Bitrate\":\"800\"}",
                    "Rotate": 90, "WatermarkIds": "a,b", "TemplateName": "x"}),
            || "f".repeat(32),
        )
        .unwrap();
        let v = template_json(&t);
        assert_eq!(v["Container"], json!("{\"Format\":\"m3u8\"}"));
        assert_eq!(v["Video"], json!("{\"Bitrate\":\"800\"}"));
        assert_eq!(v["Rotate"], json!("90"));
        assert_eq!(v["WatermarkIds"], json!(["a", "b"]));
        assert_eq!(v["Type"], json!("Normal"));
        assert_eq!(v["TranscodeTemplateId"], json!("f".repeat(32)));
        assert_eq!(
            (v["Definition"].clone(), v["TemplateName"].clone()),
            (json!("SD"), json!("x"))
        );
    }

    #[test]
    fn delete_ids() {
        let p = |v: &str| Params::new(vec![("TranscodeTemplateIds".into(), v.into())]);
        assert_eq!(template_ids(&p("a, b,a")).unwrap(), ["a", "b"]);
        assert_eq!(template_ids(&p("[\"a\",\"b\"]")).unwrap(), ["a", "b"]);
        assert_eq!(template_ids(&p(" ")).unwrap_err().code, "MissingParameter");
        let many: Vec<String> = (0..11).map(|i| i.to_string()).collect();
        assert_eq!(template_ids(&p(&many.join(","))).unwrap_err().code, "InvalidParameter");
    }
}
