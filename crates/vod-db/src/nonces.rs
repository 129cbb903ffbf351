//! `NonceRepo` for `SqlStore`: table `nonces` (replay protection).

use std::collections::HashSet;

use async_trait::async_trait;
use vod_core::CoreResult;
use vod_core::ports::NonceRepo;

use crate::error::map;
use crate::store::{SqlStore, get};

/// Rows per INSERT statement (two bound values each; far below SQLite's variable limit).
const CHUNK: usize = 400;

#[async_trait]
impl NonceRepo for SqlStore {
    /// One multi-row `INSERT … ON CONFLICT DO NOTHING` per chunk, tagged with a batch token:
    /// when fewer rows than nonces went in, the rows carrying the token are the new ones.
    /// The unique key makes this atomic across connections and
    /// processes (a concurrent insert of the same nonce waits for the first and inserts
    /// nothing). Rows go in nonce order so overlapping batches take their locks in the same
    /// order and cannot deadlock. Within a batch, only a nonce's first occurrence can be new.
    async fn record_nonces(&self, items: &[(String, i64)]) -> CoreResult<Vec<bool>> {
        let mut result = vec![false; items.len()];
        let mut first: Vec<usize> = Vec::with_capacity(items.len());
        let mut seen = HashSet::with_capacity(items.len());
        for (i, (nonce, _)) in items.iter().enumerate() {
            if seen.insert(nonce.as_str()) {
                first.push(i);
            }
        }
        first.sort_by(|&a, &b| items[a].0.cmp(&items[b].0));
        let mut inserted: HashSet<String> = HashSet::with_capacity(first.len());
        for chunk in first.chunks(CHUNK) {
            // Common case: no replay, the affected-row count alone says every nonce was new.
            // Otherwise the rows tagged with this chunk's token are the new ones.
            let token = vod_core::ids::hex_id();
            let values: Vec<String> = (0..chunk.len())
                .map(|n| format!("(${}, ${}, $1)", 2 * n + 2, 2 * n + 3))
                .collect();
            let sql = format!(
                "INSERT INTO nonces (nonce, expires_at, batch) VALUES {} ON CONFLICT (nonce) DO NOTHING",
                values.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(token.as_str());
            for &i in chunk {
                q = q.bind(items[i].0.as_str()).bind(items[i].1);
            }
            let done = q.execute(&self.pool).await.map_err(map)?;
            if done.rows_affected() as usize == chunk.len() {
                inserted.extend(chunk.iter().map(|&i| items[i].0.clone()));
                continue;
            }
            // Through the primary key: the rows carrying this chunk's token went in now.
            let list: Vec<String> = (0..chunk.len()).map(|n| format!("${}", n + 1)).collect();
            let sql = format!("SELECT nonce, batch FROM nonces WHERE nonce IN ({})", list.join(", "));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for &i in chunk {
                q = q.bind(items[i].0.as_str());
            }
            for row in q.fetch_all(&self.pool).await.map_err(map)? {
                let batch: Option<String> = get(&row, "batch")?;
                if batch.as_deref() == Some(token.as_str()) {
                    inserted.insert(get::<String>(&row, "nonce")?);
                }
            }
        }
        for i in first {
            result[i] = inserted.contains(&items[i].0);
        }
        Ok(result)
    }

    async fn purge_nonces(&self, now_ms: i64) -> CoreResult<u64> {
        let done = sqlx::query("DELETE FROM nonces WHERE expires_at < $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(done.rows_affected())
    }
}
