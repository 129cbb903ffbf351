//! `AppRepo` for `SqlStore`: tables `apps` and `app_policy_attachments`.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use vod_core::model::{AppInfo, AppPolicyAttachment, AppStatus, AppType, IdentityType};
use vod_core::ports::{AppQuery, AppRepo};
use vod_core::{CoreError, CoreResult};

use crate::error::{exists_or, map, violation_text};
use crate::store::{SqlStore, get, get_enum, select};

const APP_COLS: &str =
    "app_id, account_id, name, description, app_type, status, resource_group_id, created_at, modified_at";
const ATTACHMENT_COLS: &str = "account_id, identity_type, identity_name, app_id, policy_name, created_at";

fn app_from(row: &AnyRow) -> CoreResult<AppInfo> {
    Ok(AppInfo {
        app_id: get(row, "app_id")?,
        account_id: get(row, "account_id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        app_type: get_enum(row, "app_type", AppType::parse)?,
        status: get_enum(row, "status", AppStatus::parse)?,
        resource_group_id: get(row, "resource_group_id")?,
        created_at: get(row, "created_at")?,
        modified_at: get(row, "modified_at")?,
    })
}

fn attachment_from(row: &AnyRow) -> CoreResult<AppPolicyAttachment> {
    Ok(AppPolicyAttachment {
        account_id: get(row, "account_id")?,
        identity_type: get_enum(row, "identity_type", IdentityType::parse)?,
        identity_name: get(row, "identity_name")?,
        app_id: get(row, "app_id")?,
        policy_name: get(row, "policy_name")?,
        created_at: get(row, "created_at")?,
    })
}

/// A unique violation of `apps` becomes `AlreadyExists` with kind "AppName" when the
/// (account, name) constraint fired and kind "App" when the (account, app_id) key did.
fn app_conflict(e: sqlx::Error, app: &AppInfo) -> CoreError {
    let text = violation_text(&e);
    if text.contains("apps.name") || text.contains("apps_account_name_uq") {
        exists_or(e, "AppName", &app.name)
    } else {
        exists_or(e, "App", &app.app_id)
    }
}

#[async_trait]
impl AppRepo for SqlStore {
    async fn create_app(&self, app: &AppInfo) -> CoreResult<()> {
        sqlx::query(
            "INSERT INTO apps (app_id, account_id, name, description, app_type, status, resource_group_id, \
             created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&app.app_id)
        .bind(&app.account_id)
        .bind(&app.name)
        .bind(&app.description)
        .bind(app.app_type.as_str())
        .bind(app.status.as_str())
        .bind(&app.resource_group_id)
        .bind(app.created_at)
        .bind(app.modified_at)
        .execute(&self.pool)
        .await
        .map_err(|e| app_conflict(e, app))?;
        Ok(())
    }

    async fn get_app(&self, account_id: &str, app_id: &str) -> CoreResult<Option<AppInfo>> {
        let row = sqlx::query(select!(APP_COLS, "apps", "WHERE account_id = $1 AND app_id = $2"))
            .bind(account_id)
            .bind(app_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map)?;
        row.as_ref().map(app_from).transpose()
    }

    /// `page_no` 0 counts as 1; `page_size` 0 means "no limit" (every matching app).
    async fn list_apps(&self, account_id: &str, query: &AppQuery) -> CoreResult<(Vec<AppInfo>, u64)> {
        // The WHERE clause is assembled from constant fragments only; values are bound.
        let mut filter = String::from("WHERE account_id = $1");
        let mut n = 1;
        if query.status.is_some() {
            n += 1;
            filter.push_str(&format!(" AND status = ${n}"));
        }
        if query.resource_group_id.is_some() {
            n += 1;
            filter.push_str(&format!(" AND resource_group_id = ${n}"));
        }
        let mut page_sql = format!("SELECT {APP_COLS} FROM apps {filter} ORDER BY created_at, app_id");
        let page_size = i64::from(query.page_size);
        let offset = i64::from(query.page_no.max(1) - 1) * page_size;
        if page_size > 0 {
            page_sql.push_str(&format!(" LIMIT ${} OFFSET ${}", n + 1, n + 2));
        }
        let count_sql = format!("SELECT COUNT(*) AS total FROM apps {filter}");

        let mut count_q = sqlx::query(sqlx::AssertSqlSafe(count_sql)).bind(account_id);
        let mut page_q = sqlx::query(sqlx::AssertSqlSafe(page_sql)).bind(account_id);
        if let Some(status) = query.status {
            count_q = count_q.bind(status.as_str());
            page_q = page_q.bind(status.as_str());
        }
        if let Some(rg) = &query.resource_group_id {
            count_q = count_q.bind(rg.clone());
            page_q = page_q.bind(rg.clone());
        }
        if page_size > 0 {
            page_q = page_q.bind(page_size).bind(offset);
        }
        let total: i64 = get(&count_q.fetch_one(&self.pool).await.map_err(map)?, "total")?;
        let rows = page_q.fetch_all(&self.pool).await.map_err(map)?;
        let apps = rows.iter().map(app_from).collect::<CoreResult<Vec<_>>>()?;
        Ok((apps, u64::try_from(total).unwrap_or_default()))
    }

    async fn update_app(&self, app: &AppInfo) -> CoreResult<bool> {
        let done = sqlx::query(
            "UPDATE apps SET name = $1, description = $2, status = $3, modified_at = $4 \
             WHERE account_id = $5 AND app_id = $6",
        )
        .bind(&app.name)
        .bind(&app.description)
        .bind(app.status.as_str())
        .bind(app.modified_at)
        .bind(&app.account_id)
        .bind(&app.app_id)
        .execute(&self.pool)
        .await
        .map_err(|e| app_conflict(e, app))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_app(&self, account_id: &str, app_id: &str) -> CoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM apps WHERE account_id = $1 AND app_id = $2")
            .bind(account_id)
            .bind(app_id)
            .execute(&mut *tx)
            .await
            .map_err(map)?;
        if done.rows_affected() == 0 {
            tx.rollback().await.map_err(map)?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM app_policy_attachments WHERE account_id = $1 AND app_id = $2")
            .bind(account_id)
            .bind(app_id)
            .execute(&mut *tx)
            .await
            .map_err(map)?;
        tx.commit().await.map_err(map)?;
        Ok(true)
    }

    async fn attach_app_policy(&self, a: &AppPolicyAttachment) -> CoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO app_policy_attachments \
             (account_id, identity_type, identity_name, app_id, policy_name, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (account_id, identity_type, identity_name, app_id, policy_name) DO NOTHING",
        )
        .bind(&a.account_id)
        .bind(a.identity_type.as_str())
        .bind(&a.identity_name)
        .bind(&a.app_id)
        .bind(&a.policy_name)
        .bind(a.created_at)
        .execute(&self.pool)
        .await
        .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn detach_app_policy(
        &self,
        account_id: &str,
        identity_type: IdentityType,
        identity_name: &str,
        app_id: &str,
        policy_name: &str,
    ) -> CoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM app_policy_attachments WHERE account_id = $1 AND identity_type = $2 \
             AND identity_name = $3 AND app_id = $4 AND policy_name = $5",
        )
        .bind(account_id)
        .bind(identity_type.as_str())
        .bind(identity_name)
        .bind(app_id)
        .bind(policy_name)
        .execute(&self.pool)
        .await
        .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_app_policies(
        &self,
        account_id: &str,
        identity_type: IdentityType,
        identity_name: &str,
        app_id: Option<&str>,
    ) -> CoreResult<Vec<AppPolicyAttachment>> {
        let rows = match app_id {
            None => {
                sqlx::query(select!(
                    ATTACHMENT_COLS,
                    "app_policy_attachments",
                    "WHERE account_id = $1 AND identity_type = $2 AND identity_name = $3 \
                     ORDER BY created_at, app_id, policy_name"
                ))
                .bind(account_id)
                .bind(identity_type.as_str())
                .bind(identity_name)
                .fetch_all(&self.pool)
                .await
            }
            Some(app_id) => {
                sqlx::query(select!(
                    ATTACHMENT_COLS,
                    "app_policy_attachments",
                    "WHERE account_id = $1 AND identity_type = $2 AND identity_name = $3 AND app_id = $4 \
                     ORDER BY created_at, app_id, policy_name"
                ))
                .bind(account_id)
                .bind(identity_type.as_str())
                .bind(identity_name)
                .bind(app_id)
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(map)?;
        rows.iter().map(attachment_from).collect()
    }
}
