//! `NonceRepo` for `SqlStore` (replay protection): on SQLite the [`NonceJournal`] beside the
//! database file, on PostgreSQL the `nonces` table.
//!
//! [`NonceJournal`]: crate::nonce_journal::NonceJournal

use std::collections::HashSet;

use async_trait::async_trait;
use vod_core::ports::NonceRepo;
use vod_core::{CoreError, CoreResult};

use crate::error::map;
use crate::store::{SqlStore, get};

/// Nonces per statement (the look-up after a partial insert binds one value each).
const CHUNK: usize = 400;

/// One statement text whatever the batch size (prepared once per connection): `$1` the batch
/// token, `$2` a JSON array of `[nonce, expires_at]` pairs in nonce order.
const INSERT_SQL: &str = "INSERT INTO nonces (nonce, expires_at, batch) \
     SELECT e ->> 0, (e ->> 1)::BIGINT, $1 \
     FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(e, i) ORDER BY i \
     ON CONFLICT (nonce) DO NOTHING";

#[async_trait]
impl NonceRepo for SqlStore {
    async fn record_nonces(&self, items: &[(String, i64)]) -> CoreResult<Vec<bool>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        match &self.journal {
            Some(journal) => {
                // Inline when nothing holds the journal (the usual case: one writer task
                // per process); a blocking thread waits for the lock otherwise.
                if let Some(done) = journal.try_record(items) {
                    return done;
                }
                let (journal, items) = (journal.clone(), items.to_vec());
                tokio::task::spawn_blocking(move || journal.record(&items))
                    .await
                    .map_err(|e| CoreError::Internal(format!("nonce journal task: {e}")))?
            }
            None => self.record_nonces_in_table(items).await,
        }
    }

    async fn purge_nonces(&self, now_ms: i64) -> CoreResult<u64> {
        if let Some(journal) = &self.journal {
            let journal = journal.clone();
            return tokio::task::spawn_blocking(move || journal.purge(now_ms))
                .await
                .map_err(|e| CoreError::Internal(format!("nonce journal task: {e}")))?;
        }
        let done = sqlx::query("DELETE FROM nonces WHERE expires_at < $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(done.rows_affected())
    }
}

impl SqlStore {
    /// One `INSERT … ON CONFLICT DO NOTHING` per chunk, tagged with a batch token: when fewer
    /// rows than nonces went in, the rows carrying the token are the new ones. The unique key
    /// makes this atomic across connections and processes (a concurrent insert of the same
    /// nonce waits for the first and inserts nothing). Rows go in nonce order so overlapping
    /// batches take their locks in the same order and cannot deadlock. Within a batch, only a
    /// nonce's first occurrence can be new.
    async fn record_nonces_in_table(&self, items: &[(String, i64)]) -> CoreResult<Vec<bool>> {
        let mut result = vec![false; items.len()];
        let mut first: Vec<usize> = Vec::with_capacity(items.len());
        let mut seen = HashSet::with_capacity(items.len());
        for (i, (nonce, _)) in items.iter().enumerate() {
            if seen.insert(nonce.as_str()) {
                first.push(i);
            }
        }
        first.sort_by(|&a, &b| items[a].0.cmp(&items[b].0));
        for chunk in first.chunks(CHUNK) {
            // Common case: no replay, the affected-row count alone says every nonce was new.
            let token = vod_core::ids::hex_id();
            let rows: Vec<(&str, i64)> = chunk.iter().map(|&i| (items[i].0.as_str(), items[i].1)).collect();
            let rows = serde_json::to_string(&rows).map_err(|e| CoreError::Internal(e.to_string()))?;
            let done = sqlx::query(INSERT_SQL)
                .bind(token.as_str())
                .bind(rows)
                .execute(&self.pool)
                .await
                .map_err(map)?;
            if done.rows_affected() as usize == chunk.len() {
                for &i in chunk {
                    result[i] = true;
                }
                continue;
            }
            // Through the primary key: the rows carrying this chunk's token went in now.
            let list: Vec<String> = (0..chunk.len()).map(|n| format!("${}", n + 1)).collect();
            let sql = format!("SELECT nonce, batch FROM nonces WHERE nonce IN ({})", list.join(", "));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for &i in chunk {
                q = q.bind(items[i].0.as_str());
            }
            let mut inserted: HashSet<String> = HashSet::with_capacity(chunk.len());
            for row in q.fetch_all(&self.pool).await.map_err(map)? {
                let batch: Option<String> = get(&row, "batch")?;
                if batch.as_deref() == Some(token.as_str()) {
                    inserted.insert(get::<String>(&row, "nonce")?);
                }
            }
            for &i in chunk {
                result[i] = inserted.contains(&items[i].0);
            }
        }
        Ok(result)
    }
}
