//! `SettingsRepo` for `SqlStore`: tables `settings` and `daily_counters`.

use async_trait::async_trait;
use vod_core::CoreResult;
use vod_core::ports::SettingsRepo;

use crate::error::map;
use crate::store::{SqlStore, get};

#[async_trait]
impl SettingsRepo for SqlStore {
    async fn get_setting(&self, key: &str) -> CoreResult<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(map)?;
        row.as_ref().map(|r| get(r, "value")).transpose()
    }

    /// Settings are never updated or deleted, so after the conflict-free insert the stored
    /// value is the first writer's for every caller, in any process.
    async fn put_setting_if_absent(&self, key: &str, value: &str) -> CoreResult<String> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_one(&self.pool)
            .await
            .map_err(map)?;
        get(&row, "value")
    }

    async fn bump_daily_counter(&self, name: &str, day: &str) -> CoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO daily_counters (name, day, value) VALUES ($1, $2, 1) \
             ON CONFLICT (name, day) DO UPDATE SET value = daily_counters.value + 1 \
             RETURNING value",
        )
        .bind(name)
        .bind(day)
        .fetch_one(&self.pool)
        .await
        .map_err(map)?;
        get(&row, "value")
    }
}
