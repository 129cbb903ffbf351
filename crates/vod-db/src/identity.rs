//! `IdentityRepo` for `SqlStore`: tables `accounts`, `access_keys` and `users`.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use vod_core::model::{AccessKey, Account, IdentityType, KeyStatus, User};
use vod_core::policy::PolicyDocument;
use vod_core::ports::IdentityRepo;
use vod_core::{CoreError, CoreResult};

use crate::error::{exists_or, map};
use crate::store::{SqlStore, get, get_enum, select};

const ACCOUNT_COLS: &str = "id, name, created_at";
const KEY_COLS: &str = "id, secret, account_id, user_id, status, created_at";
const USER_COLS: &str = "id, account_id, name, policy, created_at";

fn account_from(row: &AnyRow) -> CoreResult<Account> {
    Ok(Account {
        id: get(row, "id")?,
        name: get(row, "name")?,
        created_at: get(row, "created_at")?,
    })
}

fn key_from(row: &AnyRow) -> CoreResult<AccessKey> {
    Ok(AccessKey {
        id: get(row, "id")?,
        secret: get(row, "secret")?,
        account_id: get(row, "account_id")?,
        user_id: get(row, "user_id")?,
        status: get_enum(row, "status", KeyStatus::parse)?,
        created_at: get(row, "created_at")?,
    })
}

fn user_from(row: &AnyRow) -> CoreResult<User> {
    let policy: String = get(row, "policy")?;
    Ok(User {
        id: get(row, "id")?,
        account_id: get(row, "account_id")?,
        name: get(row, "name")?,
        policy: PolicyDocument::parse(&policy)
            .map_err(|e| CoreError::Internal(format!("stored policy of user is unreadable: {e}")))?,
        created_at: get(row, "created_at")?,
    })
}

#[async_trait]
impl IdentityRepo for SqlStore {
    async fn create_account(&self, account: &Account) -> CoreResult<()> {
        sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&account.id)
            .bind(&account.name)
            .bind(account.created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| exists_or(e, "Account", &account.id))?;
        Ok(())
    }

    async fn get_account(&self, id: &str) -> CoreResult<Option<Account>> {
        let row = sqlx::query(select!(ACCOUNT_COLS, "accounts", "WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map)?;
        row.as_ref().map(account_from).transpose()
    }

    async fn first_account(&self) -> CoreResult<Option<Account>> {
        let row = sqlx::query(select!(ACCOUNT_COLS, "accounts", "ORDER BY created_at, id LIMIT 1"))
            .fetch_optional(&self.pool)
            .await
            .map_err(map)?;
        row.as_ref().map(account_from).transpose()
    }

    async fn create_access_key(&self, key: &AccessKey) -> CoreResult<()> {
        sqlx::query(
            "INSERT INTO access_keys (id, secret, account_id, user_id, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.id)
        .bind(&key.secret)
        .bind(&key.account_id)
        .bind(key.user_id.as_deref())
        .bind(key.status.as_str())
        .bind(key.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| exists_or(e, "AccessKey", &key.id))?;
        Ok(())
    }

    async fn get_access_key(&self, id: &str) -> CoreResult<Option<AccessKey>> {
        let row = sqlx::query(select!(KEY_COLS, "access_keys", "WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map)?;
        row.as_ref().map(key_from).transpose()
    }

    async fn list_access_keys(&self, account_id: &str, user_id: Option<&str>) -> CoreResult<Vec<AccessKey>> {
        let rows = match user_id {
            None => {
                sqlx::query(select!(
                    KEY_COLS,
                    "access_keys",
                    "WHERE account_id = $1 ORDER BY created_at, id"
                ))
                .bind(account_id)
                .fetch_all(&self.pool)
                .await
            }
            Some(user_id) => {
                sqlx::query(select!(
                    KEY_COLS,
                    "access_keys",
                    "WHERE account_id = $1 AND user_id = $2 ORDER BY created_at, id"
                ))
                .bind(account_id)
                .bind(user_id)
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(map)?;
        rows.iter().map(key_from).collect()
    }

    async fn set_access_key_status(&self, id: &str, status: KeyStatus) -> CoreResult<bool> {
        let done = sqlx::query("UPDATE access_keys SET status = $1 WHERE id = $2")
            .bind(status.as_str())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_access_key(&self, id: &str) -> CoreResult<bool> {
        let done = sqlx::query("DELETE FROM access_keys WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_user(&self, user: &User) -> CoreResult<()> {
        sqlx::query("INSERT INTO users (id, account_id, name, policy, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&user.id)
            .bind(&user.account_id)
            .bind(&user.name)
            .bind(user.policy.to_json())
            .bind(user.created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                let text = crate::error::violation_text(&e);
                let by_name = text.contains("users.name") || text.contains("users_account_name_uq");
                exists_or(e, "User", if by_name { &user.name } else { &user.id })
            })?;
        Ok(())
    }

    async fn get_user(&self, id: &str) -> CoreResult<Option<User>> {
        let row = sqlx::query(select!(USER_COLS, "users", "WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map)?;
        row.as_ref().map(user_from).transpose()
    }

    async fn get_user_by_name(&self, account_id: &str, name: &str) -> CoreResult<Option<User>> {
        let row = sqlx::query(select!(USER_COLS, "users", "WHERE account_id = $1 AND name = $2"))
            .bind(account_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(map)?;
        row.as_ref().map(user_from).transpose()
    }

    async fn list_users(&self, account_id: &str) -> CoreResult<Vec<User>> {
        let rows = sqlx::query(select!(USER_COLS, "users", "WHERE account_id = $1 ORDER BY name"))
            .bind(account_id)
            .fetch_all(&self.pool)
            .await
            .map_err(map)?;
        rows.iter().map(user_from).collect()
    }

    async fn set_user_policy(&self, id: &str, policy: &PolicyDocument) -> CoreResult<bool> {
        let done = sqlx::query("UPDATE users SET policy = $1 WHERE id = $2")
            .bind(policy.to_json())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user(&self, id: &str) -> CoreResult<bool> {
        let mut tx = self.begin_write().await?;
        // Keys reference the user row, so they go first; the RETURNING of the user delete
        // names the identity whose app-policy attachments go with it.
        sqlx::query("DELETE FROM access_keys WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map)?;
        let row = sqlx::query("DELETE FROM users WHERE id = $1 RETURNING account_id, name")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map)?;
        let Some(row) = row else {
            tx.rollback().await.map_err(map)?;
            return Ok(false);
        };
        let account_id: String = get(&row, "account_id")?;
        let name: String = get(&row, "name")?;
        sqlx::query(
            "DELETE FROM app_policy_attachments \
             WHERE account_id = $1 AND identity_type = $2 AND identity_name = $3",
        )
        .bind(&account_id)
        .bind(IdentityType::RamUser.as_str())
        .bind(&name)
        .execute(&mut *tx)
        .await
        .map_err(map)?;
        tx.commit().await.map_err(map)?;
        Ok(true)
    }
}
