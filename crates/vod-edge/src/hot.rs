//! The memory tier: whole bodies of small cached objects that players keep asking for
//! (HLS playlists and segments, snapshots), so a hit on them is answered from RAM without
//! a trip to the blocking pool, as Varnish's malloc storage does.
//!
//! It is bounded in bytes (`memory_bytes`, 0 turns it off) and only holds objects up to
//! `memory_object_bytes`, so memory never grows with an object's size: larger objects
//! always stream from their file. It is a read-through copy of the disk tier and never
//! the authority: a body is served only while the disk index still holds the very entry
//! it was read from (pointer equality), so a purge or a replacement cannot be outlived by
//! a stale copy here; purges also drop the copy at once. Eviction: `quick_cache`'s
//! S3-FIFO-like policy, a one-off read does not displace the hot set.

use std::sync::Arc;

use bytes::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

use crate::cache::Entry;

#[derive(Debug, Clone)]
pub struct HotBody {
    entry: Arc<Entry>,
    body: Bytes,
}

#[derive(Debug, Clone, Copy)]
struct BodyBytes;

impl Weighter<String, HotBody> for BodyBytes {
    fn weight(&self, key: &String, v: &HotBody) -> u64 {
        (v.body.len() + key.len() + 256) as u64
    }
}

/// The memory tier (possibly disabled).
pub struct HotTier {
    cache: Option<Cache<String, HotBody, BodyBytes>>,
    max_object: u64,
}

impl std::fmt::Debug for HotTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotTier")
            .field("bytes", &self.cache.as_ref().map_or(0, |c| c.weight()))
            .field("max_object", &self.max_object)
            .finish()
    }
}

impl HotTier {
    /// A tier of `capacity` bytes holding objects up to `max_object` bytes (either 0: off).
    pub fn new(capacity: u64, max_object: u64) -> Self {
        let max_object = max_object.min(capacity / 4);
        let cache = (capacity > 0 && max_object > 0).then(|| {
            let items = (capacity / (256 * 1024)).clamp(64, 1 << 20) as usize;
            Cache::with_weighter(items, capacity, BodyBytes)
        });
        Self { cache, max_object }
    }

    /// Whether an object of `size` bytes is kept in memory.
    pub fn admits(&self, size: u64) -> bool {
        self.cache.is_some() && size <= self.max_object
    }

    /// The body of `entry`, when this very entry's body is in memory.
    pub fn get(&self, key: &str, entry: &Arc<Entry>) -> Option<Bytes> {
        let hot = self.cache.as_ref()?.get(key)?;
        Arc::ptr_eq(&hot.entry, entry).then_some(hot.body)
    }

    pub fn insert(&self, key: String, entry: Arc<Entry>, body: Bytes) {
        if let Some(c) = &self.cache
            && body.len() as u64 <= self.max_object
        {
            c.insert(key, HotBody { entry, body });
        }
    }

    pub fn remove(&self, key: &str) {
        if let Some(c) = &self.cache {
            c.remove(key);
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.cache.as_ref().map_or(0, |c| c.weight())
    }
}
