//! `CategoryRepo` for `SqlStore`: table `categories` (ids from a sequence starting at
//! 1000000001 on both backends).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use vod_core::CoreResult;
use vod_core::model::{Category, NewCategory};
use vod_core::ports::{CategoryQuery, CategoryRepo};

use crate::error::map;
use crate::store::{SqlStore, get};

const COLS: &str = "id, account_id, scope, name, parent_id, level, cate_type, created_at";

fn category_from(row: &AnyRow) -> CoreResult<Category> {
    Ok(Category {
        id: get(row, "id")?,
        account_id: get(row, "account_id")?,
        scope: get(row, "scope")?,
        name: get(row, "name")?,
        parent_id: get(row, "parent_id")?,
        level: get(row, "level")?,
        cate_type: get(row, "cate_type")?,
        created_at: get(row, "created_at")?,
    })
}

#[async_trait]
impl CategoryRepo for SqlStore {
    async fn create_category(&self, c: &NewCategory) -> CoreResult<Category> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO categories (account_id, scope, name, parent_id, level, cate_type, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLS}"
        )))
        .bind(&c.account_id)
        .bind(&c.scope)
        .bind(&c.name)
        .bind(c.parent_id)
        .bind(c.level)
        .bind(&c.cate_type)
        .bind(c.created_at)
        .fetch_one(&self.pool)
        .await
        .map_err(map)?;
        category_from(&row)
    }

    async fn get_category(&self, account_id: &str, scope: &str, id: i64) -> CoreResult<Option<Category>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM categories WHERE account_id = $1 AND scope = $2 AND id = $3"
        )))
        .bind(account_id)
        .bind(scope)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map)?;
        row.as_ref().map(category_from).transpose()
    }

    async fn list_categories(
        &self,
        account_id: &str,
        scope: &str,
        q: &CategoryQuery,
    ) -> CoreResult<(Vec<Category>, u64)> {
        let order = if q.ascending { "ASC" } else { "DESC" };
        let page_size = i64::from(q.page_size.max(1));
        let offset = i64::from(q.page_no.max(1) - 1) * page_size;
        let filter = "WHERE account_id = $1 AND scope = $2 AND parent_id = $3 AND cate_type = $4";
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM categories {filter} ORDER BY created_at {order}, id {order} LIMIT $5 OFFSET $6"
        )))
        .bind(account_id)
        .bind(scope)
        .bind(q.parent_id)
        .bind(&q.cate_type)
        .bind(page_size)
        .bind(offset)
        .fetch_all(&self.pool)
        .await
        .map_err(map)?;
        let total: i64 = get(
            &sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) AS total FROM categories {filter}"
            )))
            .bind(account_id)
            .bind(scope)
            .bind(q.parent_id)
            .bind(&q.cate_type)
            .fetch_one(&self.pool)
            .await
            .map_err(map)?,
            "total",
        )?;
        let list = rows.iter().map(category_from).collect::<CoreResult<Vec<_>>>()?;
        Ok((list, total.max(0) as u64))
    }

    async fn count_child_categories(&self, account_id: &str, scope: &str, id: i64) -> CoreResult<u64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS total FROM categories WHERE account_id = $1 AND scope = $2 AND parent_id = $3",
        )
        .bind(account_id)
        .bind(scope)
        .bind(id)
        .fetch_one(&self.pool)
        .await
        .map_err(map)?;
        let total: i64 = get(&row, "total")?;
        Ok(total.max(0) as u64)
    }

    async fn rename_category(&self, account_id: &str, scope: &str, id: i64, name: &str) -> CoreResult<bool> {
        let done = sqlx::query("UPDATE categories SET name = $1 WHERE account_id = $2 AND scope = $3 AND id = $4")
            .bind(name)
            .bind(account_id)
            .bind(scope)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_category_tree(&self, account_id: &str, scope: &str, id: i64) -> CoreResult<bool> {
        let mut tx = self.begin_write().await?;
        // Three levels at most: the category, its children and its grandchildren.
        let done = sqlx::query(
            "DELETE FROM categories WHERE account_id = $1 AND scope = $2 AND (id = $3 OR parent_id = $3 \
             OR parent_id IN (SELECT id FROM categories WHERE account_id = $1 AND scope = $2 AND parent_id = $3))",
        )
        .bind(account_id)
        .bind(scope)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(map)?;
        tx.commit().await.map_err(map)?;
        Ok(done.rows_affected() > 0)
    }
}
