//! Category actions, identical in VOD and ICE (each product keeps its own tree):
//! AddCategory, UpdateCategory, DeleteCategory, GetCategories.

use serde_json::{Value, json};
use vod_core::model::category::MAX_CATEGORY_LEVEL;
use vod_core::model::{Category, NewCategory};
use vod_core::now_ms;
use vod_core::ports::CategoryQuery;
use vod_wire::{ApiError, Params};

use super::{ActionResult, Ctx, body};
use crate::error::core_to_api;

const TYPES: &[&str] = &["default", "material"];

/// Subcategories one category (or the top level) may hold.
const MAX_CHILDREN: u64 = 100;

/// The deepest level (0-based) of a type: three levels for media, two for materials.
fn max_level(cate_type: &str) -> i64 {
    if cate_type == "material" {
        MAX_CATEGORY_LEVEL - 1
    } else {
        MAX_CATEGORY_LEVEL
    }
}

fn scope(ctx: &Ctx<'_>) -> &'static str {
    ctx.product.ram_prefix()
}

fn not_found(id: i64) -> ApiError {
    ApiError::custom(
        "InvalidCateId.NotFound",
        404,
        format!("The specified CateId {id} does not exist."),
    )
}

fn category_json(c: &Category) -> Value {
    json!({"CateId": c.id, "CateName": c.name, "ParentId": c.parent_id, "Level": c.level, "Type": c.cate_type})
}

fn cate_name(p: &Params) -> Result<String, ApiError> {
    let name = p.required("CateName")?;
    if name.len() > 64 {
        return Err(ApiError::invalid_because("CateName", "It must be at most 64 bytes."));
    }
    Ok(name.to_string())
}

async fn load(ctx: &Ctx<'_>, id: i64) -> Result<Category, ApiError> {
    let found = ctx
        .state
        .store()
        .get_category(&ctx.caller.account_id, scope(ctx), id)
        .await
        .map_err(core_to_api)?;
    found.ok_or_else(|| not_found(id))
}

pub async fn add_category(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let name = cate_name(p)?;
    let cate_type = p
        .one_of("Type", TYPES, Some("default"))?
        .unwrap_or("default")
        .to_string();
    let (parent_id, level) = match p.opt_i64("ParentId")? {
        None | Some(-1) => (-1, 0),
        Some(pid) => {
            let parent = load(ctx, pid).await?;
            if parent.level >= max_level(&cate_type) {
                let depth = max_level(&cate_type) + 1;
                return Err(ApiError::invalid_because(
                    "ParentId",
                    &format!("Categories of type {cate_type} can be at most {depth} levels deep."),
                ));
            }
            if parent.cate_type != cate_type {
                return Err(ApiError::invalid_because(
                    "Type",
                    "A subcategory must have the type of its parent.",
                ));
            }
            (pid, parent.level + 1)
        }
    };
    let siblings = ctx
        .state
        .store()
        .count_child_categories(&ctx.caller.account_id, scope(ctx), parent_id)
        .await
        .map_err(core_to_api)?;
    if siblings >= MAX_CHILDREN {
        return Err(ApiError::custom(
            "SubCategoryExceededMax",
            400,
            format!("A category can hold at most {MAX_CHILDREN} subcategories."),
        ));
    }
    let new = NewCategory {
        account_id: ctx.caller.account_id.clone(),
        scope: scope(ctx).into(),
        name,
        parent_id,
        level,
        cate_type,
        created_at: now_ms(),
    };
    let created = ctx.state.store().create_category(&new).await.map_err(core_to_api)?;
    Ok(body([("Category", category_json(&created))]))
}

pub async fn update_category(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let id = p.opt_i64("CateId")?.ok_or_else(|| ApiError::missing("CateId"))?;
    let name = cate_name(p)?;
    if !ctx
        .state
        .store()
        .rename_category(&ctx.caller.account_id, scope(ctx), id, &name)
        .await
        .map_err(core_to_api)?
    {
        return Err(not_found(id));
    }
    Ok(body([]))
}

pub async fn delete_category(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let id = p.opt_i64("CateId")?.ok_or_else(|| ApiError::missing("CateId"))?;
    if !ctx
        .state
        .store()
        .delete_category_tree(&ctx.caller.account_id, scope(ctx), id)
        .await
        .map_err(core_to_api)?
    {
        return Err(not_found(id));
    }
    Ok(body([]))
}

pub async fn get_categories(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let id = p.opt_i64("CateId")?.unwrap_or(-1);
    let cate_type = p
        .one_of("Type", TYPES, Some("default"))?
        .unwrap_or("default")
        .to_string();
    let page_no = p.i64_in("PageNo", 1, i64::from(u32::MAX), 1)? as u32;
    let page_size = p.i64_in("PageSize", 1, 100, 10)? as u32;
    let ascending = p.one_of(
        "SortBy",
        &["CreationTime:Asc", "CreationTime:Desc"],
        Some("CreationTime:Asc"),
    )? != Some("CreationTime:Desc");
    let current = if id == -1 {
        json!({"CateId": -1, "CateName": "", "ParentId": -1, "Level": -1, "Type": cate_type})
    } else {
        category_json(&load(ctx, id).await?)
    };
    let store = ctx.state.store();
    let query = CategoryQuery {
        parent_id: id,
        cate_type,
        page_no,
        page_size,
        ascending,
    };
    let (children, total) = store
        .list_categories(&ctx.caller.account_id, scope(ctx), &query)
        .await
        .map_err(core_to_api)?;
    let mut subs = Vec::with_capacity(children.len());
    for c in &children {
        let n = store
            .count_child_categories(&ctx.caller.account_id, scope(ctx), c.id)
            .await
            .map_err(core_to_api)?;
        let mut v = category_json(c);
        v["SubTotal"] = json!(n);
        subs.push(v);
    }
    Ok(body([
        ("SubTotal", json!(total)),
        ("Category", current),
        ("SubCategories", json!({"Category": subs})),
    ]))
}
