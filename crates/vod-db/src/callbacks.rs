//! `CallbackConfigRepo` for `SqlStore`: table `message_callbacks`, one row per (account, app),
//! removed with its app by the foreign key's `ON DELETE CASCADE`.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use vod_core::CoreResult;
use vod_core::model::{CallbackType, MessageCallbackConfig};
use vod_core::ports::CallbackConfigRepo;

use crate::error::map;
use crate::store::{SqlStore, get, get_enum};

const COLS: &str = "account_id, app_id, callback_type, callback_url, event_type_list, auth_switch, auth_key, \
                    mns_endpoint, mns_queue_name, created_at, modified_at";

fn config_from(row: &AnyRow) -> CoreResult<MessageCallbackConfig> {
    let auth_switch: i64 = get(row, "auth_switch")?;
    Ok(MessageCallbackConfig {
        account_id: get(row, "account_id")?,
        app_id: get(row, "app_id")?,
        callback_type: get_enum(row, "callback_type", CallbackType::parse)?,
        callback_url: get(row, "callback_url")?,
        event_type_list: get(row, "event_type_list")?,
        auth_switch: auth_switch != 0,
        auth_key: get(row, "auth_key")?,
        mns_endpoint: get(row, "mns_endpoint")?,
        mns_queue_name: get(row, "mns_queue_name")?,
        created_at: get(row, "created_at")?,
        modified_at: get(row, "modified_at")?,
    })
}

#[async_trait]
impl CallbackConfigRepo for SqlStore {
    async fn get_message_callback(&self, account_id: &str, app_id: &str) -> CoreResult<Option<MessageCallbackConfig>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM message_callbacks WHERE account_id = $1 AND app_id = $2"
        )))
        .bind(account_id)
        .bind(app_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map)?;
        row.as_ref().map(config_from).transpose()
    }

    async fn put_message_callback(&self, c: &MessageCallbackConfig) -> CoreResult<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO message_callbacks ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (account_id, app_id) DO UPDATE SET callback_type = $3, callback_url = $4, \
             event_type_list = $5, auth_switch = $6, auth_key = $7, mns_endpoint = $8, mns_queue_name = $9, \
             modified_at = $11"
        )))
        .bind(&c.account_id)
        .bind(&c.app_id)
        .bind(c.callback_type.as_str())
        .bind(&c.callback_url)
        .bind(&c.event_type_list)
        .bind(i64::from(c.auth_switch))
        .bind(&c.auth_key)
        .bind(&c.mns_endpoint)
        .bind(&c.mns_queue_name)
        .bind(c.created_at)
        .bind(c.modified_at)
        .execute(&self.pool)
        .await
        .map_err(map)?;
        Ok(())
    }

    async fn delete_message_callback(&self, account_id: &str, app_id: &str) -> CoreResult<bool> {
        let done = sqlx::query("DELETE FROM message_callbacks WHERE account_id = $1 AND app_id = $2")
            .bind(account_id)
            .bind(app_id)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }
}
