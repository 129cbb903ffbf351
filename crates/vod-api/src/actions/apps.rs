//! Multi-app actions: CreateAppInfo, ListAppInfo, GetAppInfos, UpdateAppInfo, DeleteAppInfo,
//! AttachAppPolicyToIdentity, DetachAppPolicyFromIdentity, ListAppPoliciesForIdentity.

use serde_json::{Map, Value, json};
use vod_core::model::app::{DEFAULT_APP_ID, system_app_policy};
use vod_core::model::{AppInfo, AppPolicyAttachment, AppStatus, AppType, IdentityType};
use vod_core::ports::AppQuery;
use vod_core::{ids, now_ms};
use vod_wire::timefmt::iso8601;
use vod_wire::{ApiError, Params, codes};

use super::{ActionResult, Ctx, body};
use crate::authn::Principal;
use crate::authz::can_access_app;
use crate::error::core_to_api;

/// One app as the app actions answer it (its fields in Alibaba's order; the map is sized
/// once, as a `json!` object would grow it field by field).
fn app_json(ctx: &Ctx<'_>, app: &AppInfo, with_region: bool) -> Value {
    let region = with_region.then(|| ("RegionId", Value::from(ctx.state.config().region_id.as_str())));
    let fields: Map<String, Value> = [
        ("AppId", Value::from(app.app_id.as_str())),
        ("AppName", Value::from(app.name.as_str())),
        ("Type", Value::from(app.app_type.as_str())),
        ("Status", Value::from(app.status.as_str())),
        ("Description", Value::from(app.description.as_str())),
        ("CreationTime", Value::from(iso8601(app.created_at))),
        ("ModificationTime", Value::from(iso8601(app.modified_at))),
        ("ResourceGroupId", Value::from(app.resource_group_id.as_str())),
    ]
    .into_iter()
    .chain(region)
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Value::Object(fields)
}

fn app_name(p: &Params, required: bool) -> Result<Option<String>, ApiError> {
    let name = if required {
        Some(p.required("AppName")?)
    } else {
        p.get("AppName")
    };
    match name {
        Some(n) if n.chars().count() > 128 => Err(ApiError::invalid_because(
            "AppName",
            "It must be at most 128 characters.",
        )),
        Some(n) => Ok(Some(n.to_string())),
        None => Ok(None),
    }
}

async fn load_app(ctx: &Ctx<'_>, app_id: &str) -> Result<AppInfo, ApiError> {
    let app = ctx
        .state
        .app(&ctx.caller.account_id, app_id)
        .await
        .map_err(core_to_api)?;
    let app = app.ok_or_else(|| {
        ApiError::with_message(
            codes::APP_NOT_FOUND,
            format!("The specified app {app_id} does not exist."),
        )
    })?;
    if !can_access_app(ctx.state, ctx.caller, ctx.product, ctx.action, app_id).await? {
        return Err(codes::FORBIDDEN.into());
    }
    Ok(std::sync::Arc::unwrap_or_clone(app))
}

pub async fn create_app_info(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let name = app_name(p, true)?.unwrap_or_default();
    let description = p.opt_str_max("Description", 512)?.unwrap_or_default().to_string();
    let now = now_ms();
    let app = AppInfo {
        app_id: ids::app_id(),
        account_id: ctx.caller.account_id.clone(),
        name,
        description,
        app_type: AppType::Custom,
        status: AppStatus::Normal,
        resource_group_id: p.get("ResourceGroupId").unwrap_or_default().to_string(),
        created_at: now,
        modified_at: now,
    };
    ctx.state.store().create_app(&app).await.map_err(core_to_api)?;
    ctx.state.0.apps.forget(&ctx.caller.account_id, &app.app_id);
    Ok(body([("AppId", json!(app.app_id))]))
}

pub async fn list_app_info(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let status = match p.one_of("Status", &["Normal", "Disable"], None)? {
        Some(s) => AppStatus::parse(s),
        None => None,
    };
    let page_no = p.i64_in("PageNo", 1, i64::from(u32::MAX), 1)? as u32;
    let page_size = p.i64_in("PageSize", 1, 100, 10)? as u32;
    let resource_group_id = p.get("ResourceGroupId").map(str::to_string);
    let store = ctx.state.store();
    let (list, total) = match &ctx.caller.principal {
        // The account sees every app: let the store page.
        Principal::Root => {
            let query = AppQuery {
                status,
                resource_group_id,
                page_no,
                page_size,
            };
            let (apps, total) = store
                .list_apps(&ctx.caller.account_id, &query)
                .await
                .map_err(core_to_api)?;
            (apps.iter().map(|a| app_json(ctx, a, true)).collect::<Vec<_>>(), total)
        }
        // A RAM user sees only the apps it may access: filter, then count and page.
        Principal::User(_) => {
            let query = AppQuery {
                status,
                resource_group_id,
                page_no: 1,
                page_size: 0,
            };
            let (apps, _) = store
                .list_apps(&ctx.caller.account_id, &query)
                .await
                .map_err(core_to_api)?;
            let mut visible = Vec::new();
            for app in apps {
                if can_access_app(ctx.state, ctx.caller, ctx.product, ctx.action, &app.app_id).await? {
                    visible.push(app);
                }
            }
            let skip = (page_no as usize - 1).saturating_mul(page_size as usize);
            let page = visible
                .iter()
                .skip(skip)
                .take(page_size as usize)
                .map(|a| app_json(ctx, a, true))
                .collect();
            (page, visible.len() as u64)
        }
    };
    Ok(body([("Total", json!(total)), ("AppInfoList", Value::Array(list))]))
}

pub async fn get_app_infos(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let ids = p.list("AppIds");
    if ids.is_empty() {
        return Err(ApiError::missing("AppIds"));
    }
    if ids.len() > 10 {
        return Err(ApiError::invalid_because("AppIds", "At most 10 app ids are allowed."));
    }
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for id in ids {
        let app = ctx.state.app(&ctx.caller.account_id, &id).await.map_err(core_to_api)?;
        match app {
            Some(app) if can_access_app(ctx.state, ctx.caller, ctx.product, ctx.action, &id).await? => {
                found.push(app_json(ctx, &app, false))
            }
            _ => missing.push(json!(id)),
        }
    }
    Ok(body([
        ("NonExistAppIds", Value::Array(missing)),
        ("AppInfoList", Value::Array(found)),
    ]))
}

pub async fn update_app_info(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let app_id = p.required("AppId")?;
    let mut app = load_app(ctx, app_id).await?;
    let status = p
        .one_of("Status", &["Normal", "Disable"], None)?
        .and_then(AppStatus::parse);
    if app.app_type == AppType::System && status == Some(AppStatus::Disable) {
        return Err(ApiError::with_message(
            codes::APP_FORBIDDEN_SYSTEM,
            "The system app cannot be disabled.",
        ));
    }
    if let Some(name) = app_name(p, false)? {
        app.name = name;
    }
    if let Some(d) = p.opt_str_max("Description", 512)? {
        app.description = d.to_string();
    }
    if let Some(s) = status {
        app.status = s;
    }
    app.modified_at = now_ms();
    let updated = ctx.state.store().update_app(&app).await.map_err(core_to_api);
    ctx.state.0.apps.forget(&ctx.caller.account_id, app_id);
    if !updated? {
        return Err(codes::APP_NOT_FOUND.into());
    }
    Ok(body([]))
}

pub async fn delete_app_info(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let app_id = p.required("AppId")?;
    let app = load_app(ctx, app_id).await?;
    if app.app_type == AppType::System {
        return Err(codes::APP_FORBIDDEN_SYSTEM.into());
    }
    // An app that still holds media (VOD or ICE) cannot go.
    if ctx
        .state
        .store()
        .count_media_in_app(&ctx.caller.account_id, app_id)
        .await
        .map_err(core_to_api)?
        > 0
    {
        return Err(codes::APP_NOT_EMPTY.into());
    }
    let deleted = ctx
        .state
        .store()
        .delete_app(&ctx.caller.account_id, app_id)
        .await
        .map_err(core_to_api);
    ctx.state.0.apps.forget(&ctx.caller.account_id, app_id);
    if !deleted? {
        return Err(codes::APP_NOT_FOUND.into());
    }
    Ok(body([]))
}

struct PolicyTarget {
    identity_type: IdentityType,
    identity_name: String,
    app_id: String,
    policy_names: Vec<String>,
}

async fn policy_target(ctx: &Ctx<'_>, p: &Params, need_policies: bool) -> Result<PolicyTarget, ApiError> {
    let identity_type =
        IdentityType::parse(p.required("IdentityType")?).ok_or_else(|| ApiError::invalid("IdentityType"))?;
    let identity_name = p.required("IdentityName")?.to_string();
    if identity_type == IdentityType::RamUser {
        let user = ctx
            .state
            .store()
            .get_user_by_name(&ctx.caller.account_id, &identity_name)
            .await
            .map_err(core_to_api)?;
        if user.is_none() {
            return Err(ApiError::with_message(
                codes::IDENTITY_NOT_FOUND,
                format!("The specified identity {identity_name} does not exist."),
            ));
        }
    }
    let app_id = p.get("AppId").unwrap_or(DEFAULT_APP_ID).to_string();
    let policy_names = p.list("PolicyNames");
    if need_policies && policy_names.is_empty() {
        return Err(ApiError::missing("PolicyNames"));
    }
    Ok(PolicyTarget {
        identity_type,
        identity_name,
        app_id,
        policy_names,
    })
}

pub async fn attach_app_policy_to_identity(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let t = policy_target(ctx, p, true).await?;
    load_app(ctx, &t.app_id).await?;
    let mut non_exist = Vec::new();
    for name in &t.policy_names {
        if system_app_policy(name).is_none() {
            non_exist.push(name.clone());
            continue;
        }
        let attachment = AppPolicyAttachment {
            account_id: ctx.caller.account_id.clone(),
            identity_type: t.identity_type,
            identity_name: t.identity_name.clone(),
            app_id: t.app_id.clone(),
            policy_name: name.clone(),
            created_at: now_ms(),
        };
        ctx.state
            .store()
            .attach_app_policy(&attachment)
            .await
            .map_err(core_to_api)?;
    }
    Ok(body([
        ("NonExistPolicyNames", json!(non_exist)),
        ("FailedPolicyNames", json!([])),
    ]))
}

pub async fn detach_app_policy_from_identity(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let t = policy_target(ctx, p, true).await?;
    load_app(ctx, &t.app_id).await?;
    let mut non_exist = Vec::new();
    for name in &t.policy_names {
        if system_app_policy(name).is_none() {
            non_exist.push(name.clone());
            continue;
        }
        let store = ctx.state.store();
        store
            .detach_app_policy(
                &ctx.caller.account_id,
                t.identity_type,
                &t.identity_name,
                &t.app_id,
                name,
            )
            .await
            .map_err(core_to_api)?;
    }
    Ok(body([
        ("NonExistPolicyNames", json!(non_exist)),
        ("FailedPolicyNames", json!([])),
    ]))
}

pub async fn list_app_policies_for_identity(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let t = policy_target(ctx, p, false).await?;
    let app_filter = p.get("AppId");
    let store = ctx.state.store();
    let attached = store
        .list_app_policies(&ctx.caller.account_id, t.identity_type, &t.identity_name, app_filter)
        .await
        .map_err(core_to_api)?;
    let list: Vec<Value> = attached
        .iter()
        .take(100)
        .map(|a| {
            let sys = system_app_policy(&a.policy_name);
            json!({
                "AppId": a.app_id,
                "PolicyName": a.policy_name,
                "PolicyType": "System",
                "PolicyValue": sys.map(|s| s.value).unwrap_or_default(),
                "Description": sys.map(|s| s.description).unwrap_or_default(),
                "CreationTime": iso8601(a.created_at),
                "ModificationTime": iso8601(a.created_at),
            })
        })
        .collect();
    Ok(body([("AppPolicyList", Value::Array(list))]))
}
