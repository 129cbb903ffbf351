//! `TemplateRepo` for `SqlStore`: tables `template_groups` (one row per stored group, its
//! templates as a JSON array) and `template_group_defaults` (one row per app naming its
//! default group, so an app has at most one default by construction). Both go with their
//! app (`ON DELETE CASCADE`).
//!
//! Every write that depends on a group's state reads the group row with a row lock first
//! (`FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` serializes writers), so a delete
//! and a concurrent SetDefault, or two concurrent edits, never interleave.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use vod_core::model::template::is_builtin_group;
use vod_core::model::{GroupChange, GroupRefusal, TemplateGroup};
use vod_core::ports::{BackendKind, TemplateRepo};
use vod_core::{CoreError, CoreResult};

use crate::error::{exists_or, map};
use crate::store::{SqlStore, get};

const COLS: &str = "group_id, account_id, app_id, name, locked, templates, created_at, modified_at";

/// A group row; `default_id` is the app's recorded default (from a join or a second read).
fn group_from(row: &AnyRow, default_id: Option<&str>) -> CoreResult<TemplateGroup> {
    let locked: i64 = get(row, "locked")?;
    let group_id: String = get(row, "group_id")?;
    let stored: String = get(row, "templates")?;
    let templates = TemplateGroup::templates_from_json(&stored)
        .map_err(|e| CoreError::Internal(format!("template group {group_id}: {e}")))?;
    Ok(TemplateGroup {
        is_default: default_id == Some(group_id.as_str()),
        account_id: get(row, "account_id")?,
        app_id: get(row, "app_id")?,
        name: get(row, "name")?,
        locked: locked != 0,
        templates,
        created_at: get(row, "created_at")?,
        modified_at: get(row, "modified_at")?,
        group_id,
    })
}

impl SqlStore {
    /// ` FOR UPDATE` on PostgreSQL (row lock until commit); nothing on SQLite, whose write
    /// transactions are already exclusive.
    fn for_update(&self) -> &'static str {
        match self.kind {
            BackendKind::Postgres => " FOR UPDATE",
            BackendKind::Sqlite => "",
        }
    }

    /// Reads and locks a group row inside `tx`, with its app's default.
    async fn lock_group(
        &self,
        tx: &mut Transaction<'static, Any>,
        account_id: &str,
        group_id: &str,
    ) -> CoreResult<Option<TemplateGroup>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM template_groups WHERE account_id = $1 AND group_id = $2{}",
            self.for_update()
        )))
        .bind(account_id)
        .bind(group_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(map)?;
        let Some(row) = row else { return Ok(None) };
        let app_id: String = get(&row, "app_id")?;
        let default = default_in(&mut **tx, account_id, &app_id).await?;
        group_from(&row, default.as_deref()).map(Some)
    }
}

async fn default_in<'e, E>(executor: E, account_id: &str, app_id: &str) -> CoreResult<Option<String>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let row = sqlx::query("SELECT group_id FROM template_group_defaults WHERE account_id = $1 AND app_id = $2")
        .bind(account_id)
        .bind(app_id)
        .fetch_optional(executor)
        .await
        .map_err(map)?;
    row.as_ref().map(|r| get(r, "group_id")).transpose()
}

#[async_trait]
impl TemplateRepo for SqlStore {
    async fn create_template_group(&self, g: &TemplateGroup, max_groups: u64) -> CoreResult<Result<(), GroupRefusal>> {
        let mut tx = self.begin_write().await?;
        // Concurrent creates in one app queue on the app row, so the count stays exact.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT app_id FROM apps WHERE account_id = $1 AND app_id = $2{}",
            self.for_update()
        )))
        .bind(&g.account_id)
        .bind(&g.app_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map)?;
        let row = sqlx::query("SELECT COUNT(*) AS total FROM template_groups WHERE account_id = $1 AND app_id = $2")
            .bind(&g.account_id)
            .bind(&g.app_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(map)?;
        let total: i64 = get(&row, "total")?;
        if u64::try_from(total).unwrap_or(0) >= max_groups {
            tx.rollback().await.map_err(map)?;
            return Ok(Err(GroupRefusal::TooManyGroups));
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO template_groups ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )))
        .bind(&g.group_id)
        .bind(&g.account_id)
        .bind(&g.app_id)
        .bind(&g.name)
        .bind(i64::from(g.locked))
        .bind(g.templates_json())
        .bind(g.created_at)
        .bind(g.modified_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| exists_or(e, "TemplateGroup", &g.group_id))?;
        tx.commit().await.map_err(map)?;
        Ok(Ok(()))
    }

    async fn get_template_group(&self, account_id: &str, group_id: &str) -> CoreResult<Option<TemplateGroup>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS}, (SELECT d.group_id FROM template_group_defaults d \
             WHERE d.account_id = g.account_id AND d.app_id = g.app_id) AS default_id \
             FROM template_groups g WHERE g.account_id = $1 AND g.group_id = $2"
        )))
        .bind(account_id)
        .bind(group_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map)?;
        match row {
            None => Ok(None),
            Some(row) => {
                let default: Option<String> = get(&row, "default_id")?;
                group_from(&row, default.as_deref()).map(Some)
            }
        }
    }

    async fn list_template_groups(&self, account_id: &str, app_id: &str) -> CoreResult<Vec<TemplateGroup>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM template_groups WHERE account_id = $1 AND app_id = $2 \
             ORDER BY created_at, group_id"
        )))
        .bind(account_id)
        .bind(app_id)
        .fetch_all(&self.pool)
        .await
        .map_err(map)?;
        let default = default_in(&self.pool, account_id, app_id).await?;
        rows.iter().map(|r| group_from(r, default.as_deref())).collect()
    }

    async fn default_template_group_id(&self, account_id: &str, app_id: &str) -> CoreResult<Option<String>> {
        default_in(&self.pool, account_id, app_id).await
    }

    async fn set_default_template_group(
        &self,
        account_id: &str,
        app_id: &str,
        group_id: &str,
        now_ms: i64,
    ) -> CoreResult<bool> {
        let mut tx = self.begin_write().await?;
        if !is_builtin_group(group_id) {
            match self.lock_group(&mut tx, account_id, group_id).await? {
                Some(g) if g.app_id == app_id => {}
                _ => {
                    tx.rollback().await.map_err(map)?;
                    return Ok(false);
                }
            }
        }
        sqlx::query(
            "INSERT INTO template_group_defaults (account_id, app_id, group_id, modified_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, app_id) DO UPDATE SET group_id = $3, modified_at = $4",
        )
        .bind(account_id)
        .bind(app_id)
        .bind(group_id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(map)?;
        tx.commit().await.map_err(map)?;
        Ok(true)
    }

    async fn update_template_group(
        &self,
        account_id: &str,
        group_id: &str,
        change: &GroupChange,
        now_ms: i64,
    ) -> CoreResult<Result<(TemplateGroup, Vec<String>), GroupRefusal>> {
        let mut tx = self.begin_write().await?;
        let Some(mut group) = self.lock_group(&mut tx, account_id, group_id).await? else {
            tx.rollback().await.map_err(map)?;
            return Ok(Err(GroupRefusal::NotFound));
        };
        let missing = match group.apply(change, now_ms) {
            Ok(m) => m,
            Err(refusal) => {
                tx.rollback().await.map_err(map)?;
                return Ok(Err(refusal));
            }
        };
        sqlx::query(
            "UPDATE template_groups SET name = $1, locked = $2, templates = $3, modified_at = $4 \
             WHERE account_id = $5 AND group_id = $6",
        )
        .bind(&group.name)
        .bind(i64::from(group.locked))
        .bind(group.templates_json())
        .bind(group.modified_at)
        .bind(account_id)
        .bind(group_id)
        .execute(&mut *tx)
        .await
        .map_err(map)?;
        tx.commit().await.map_err(map)?;
        Ok(Ok((group, missing)))
    }

    async fn delete_template_group(
        &self,
        account_id: &str,
        group_id: &str,
    ) -> CoreResult<Result<TemplateGroup, GroupRefusal>> {
        let mut tx = self.begin_write().await?;
        let refusal = match self.lock_group(&mut tx, account_id, group_id).await? {
            None => GroupRefusal::NotFound,
            Some(g) if g.locked => GroupRefusal::Locked,
            Some(g) if g.is_default => GroupRefusal::Default,
            Some(g) => {
                sqlx::query("DELETE FROM template_groups WHERE account_id = $1 AND group_id = $2")
                    .bind(account_id)
                    .bind(group_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                tx.commit().await.map_err(map)?;
                return Ok(Ok(g));
            }
        };
        tx.rollback().await.map_err(map)?;
        Ok(Err(refusal))
    }
}
