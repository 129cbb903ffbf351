//! The cache index ([`Store`]): which objects are on disk or being filled, bounded in
//! bytes.
//!
//! The index is a `quick_cache` cache keyed by `bucket/key` whose weight is the file size on
//! disk. Its eviction policy is a Clock-PRO variant close to S3-FIFO: new entries enter a
//! small probationary queue and are promoted only when read again, so a one-off scan
//! (a crawler, a bulk preload nobody watches) cannot flush the segments players keep
//! asking for, which plain LRU would do. An object being filled is in the index as a
//! *pinned* placeholder ([`Slot::Filling`]) carrying its full size, so in-flight fills
//! reserve their bytes and the bound holds for files being written too. Evicted entries
//! are collected by the lifecycle hook and their files deleted after the index lock is
//! released ([`Evicted`]).
//!
//! Decisions that must not race (start a fill or join one, commit, purge) take one short
//! mutex; hits only read the index.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, OptionsBuilder, Weighter};
use tokio::sync::watch;

use crate::disk::{self, EntryMeta, Layout};
use crate::hot::HotTier;
use crate::http::Presented;
use crate::origin::OriginMeta;

/// A complete cached object.
#[derive(Debug)]
pub struct Entry {
    pub meta: EntryMeta,
    pub path: PathBuf,
    pub body_offset: u64,
    pub file_len: u64,
    /// When the origin last confirmed this copy (ms); starts at `stored_at_ms`.
    pub validated_at_ms: AtomicI64,
    /// Response header values, computed once.
    pub presented: Presented,
}

impl Entry {
    pub fn new(meta: EntryMeta, path: PathBuf, body_offset: u64, file_len: u64) -> Self {
        Self {
            validated_at_ms: AtomicI64::new(meta.stored_at_ms),
            presented: Presented::of(&meta),
            meta,
            path,
            body_offset,
            file_len,
        }
    }
}

/// How far a fill got.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Body bytes on disk.
    pub written: u64,
    pub state: FillState,
}

#[derive(Debug, Clone)]
pub enum FillState {
    Running,
    /// Every byte is on disk (the entry may or may not have been committed).
    Done,
    Failed(Arc<str>),
}

/// An object being copied from the origin into a temporary file. Readers follow
/// [`Fill::progress`] and read what is written from [`Fill::file`] (positional reads; the
/// descriptor stays valid across the rename).
pub struct Fill {
    pub meta: EntryMeta,
    pub origin: OriginMeta,
    pub tmp: PathBuf,
    pub data: PathBuf,
    pub file: Arc<File>,
    pub header: Vec<u8>,
    pub file_len: u64,
    pub progress: watch::Sender<Progress>,
    /// Purged or superseded while filling: the result is not committed.
    pub doomed: AtomicBool,
    /// Files of entries evicted to make room for this one: the writer deletes them before
    /// it writes, so the bytes on disk stay within the bound.
    pub evict_first: Mutex<Vec<PathBuf>>,
}

impl Fill {
    pub fn body_offset(&self) -> u64 {
        self.header.len() as u64
    }

    pub fn fail(&self, why: &str) {
        self.progress.send_modify(|p| p.state = FillState::Failed(why.into()));
    }
}

impl std::fmt::Debug for Fill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fill").field("meta", &self.meta).finish_non_exhaustive()
    }
}

/// What the index holds for a key.
#[derive(Debug, Clone)]
pub enum Slot {
    Ready(Arc<Entry>),
    Filling(Arc<Fill>),
}

impl Slot {
    fn file_len(&self) -> u64 {
        match self {
            Slot::Ready(e) => e.file_len,
            Slot::Filling(f) => f.file_len,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct FileBytes;

impl Weighter<String, Slot> for FileBytes {
    fn weight(&self, _: &String, slot: &Slot) -> u64 {
        // Zero-weight entries would never be evicted.
        slot.file_len().max(1)
    }
}

#[derive(Debug, Clone, Copy)]
struct Hooks;

/// Entries evicted during one index operation; their files are deleted when it drops.
#[derive(Debug, Default)]
pub struct Evicted(Vec<Slot>);

impl Lifecycle<String, Slot> for Hooks {
    type RequestState = Evicted;

    fn is_pinned(&self, _: &String, slot: &Slot) -> bool {
        matches!(slot, Slot::Filling(_))
    }

    fn on_evict(&self, state: &mut Evicted, _: String, slot: Slot) {
        state.0.push(slot);
    }
}

impl Evicted {
    /// The files of the evicted entries (counted as evictions), to delete.
    fn take_files(&mut self) -> Vec<PathBuf> {
        self.0
            .drain(..)
            .filter_map(|s| match s {
                Slot::Ready(e) => {
                    metrics::counter!("vod_edge_evictions_total").increment(1);
                    metrics::counter!("vod_edge_evicted_bytes_total").increment(e.file_len);
                    Some(e.path.clone())
                }
                Slot::Filling(_) => None,
            })
            .collect()
    }
}

impl Drop for Evicted {
    fn drop(&mut self) {
        let files = self.take_files();
        remove_files(files);
    }
}

/// Deletes files, off the async threads when called from one.
pub fn remove_files(files: Vec<PathBuf>) {
    if files.is_empty() {
        return;
    }
    let work = move || {
        for f in files {
            if let Err(e) = std::fs::remove_file(&f)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(file = %f.display(), error = %e, "cannot delete an edge cache file");
            }
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(rt) if rt.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread => {
            drop(rt.spawn_blocking(work));
        }
        _ => work(),
    }
}

/// What a cache miss should do.
#[derive(Debug)]
pub enum Claim {
    /// The current version is cached after all (committed meanwhile).
    Ready(Arc<Entry>),
    /// A fill of the current version is running: follow it.
    Join(Arc<Fill>),
    /// A new fill was registered: the caller starts it.
    Started(Arc<Fill>),
    /// Not cacheable now (too big, or reservations would overflow the bound): stream from
    /// the origin.
    Pass,
}

/// Figures of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Entries, complete or filling.
    pub entries: usize,
    /// Bytes on disk (complete entries plus reservations of fills).
    pub bytes: u64,
    pub filling_bytes: u64,
    pub capacity: u64,
}

/// The cache index plus the directory it describes.
pub struct Store {
    pub layout: Layout,
    /// Small hot bodies in memory, in front of the files.
    pub hot: HotTier,
    index: Cache<String, Slot, FileBytes, DefaultHashBuilder, Hooks>,
    decide: Mutex<()>,
    filling_bytes: AtomicU64,
    capacity: u64,
    object_limit: u64,
    _dir_lock: File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.layout.root)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Average entry size assumed to size the index (HLS segments and renditions).
const TYPICAL_ENTRY: u64 = 1 << 20;

impl Store {
    /// Opens (creating) the cache directory and rebuilds the index from the files in it.
    /// Blocking: call from a blocking context.
    pub fn open(root: &std::path::Path, capacity: u64, object_limit: u64, hot: HotTier) -> std::io::Result<Self> {
        let layout = Layout::new(root);
        let dir_lock = layout.prepare()?;
        let scan = disk::scan(&layout)?;
        let capacity = capacity.max(1);
        let items = (capacity / TYPICAL_ENTRY).clamp(64, 1 << 22) as usize;
        let options = OptionsBuilder::new()
            .estimated_items_capacity(items)
            .weight_capacity(capacity)
            // One shard: the bound is global and an object may take half of it.
            .shards(1)
            .build()
            .map_err(std::io::Error::other)?;
        let index = Cache::with_options(options, FileBytes, DefaultHashBuilder::default(), Hooks);
        let store = Self {
            layout,
            hot,
            index,
            decide: Mutex::new(()),
            filling_bytes: AtomicU64::new(0),
            capacity,
            object_limit,
            _dir_lock: dir_lock,
        };
        let restored = scan.entries.len();
        let mut evicted = Evicted::default();
        for f in scan.entries {
            let entry = Entry::new(f.meta, f.path, f.body_offset, f.file_len);
            store
                .index
                .insert_with_lifecycle(entry.meta.cache_key(), Slot::Ready(Arc::new(entry)), &mut evicted);
        }
        drop(evicted);
        tracing::info!(root = %root.display(), restored, removed = scan.removed, "edge cache opened");
        store.publish_gauges();
        Ok(store)
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.decide.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The slot of `key`, counting as an access for the eviction policy.
    pub fn get(&self, key: &str) -> Option<Slot> {
        self.index.get(key)
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.index.len(),
            bytes: self.index.weight(),
            filling_bytes: self.filling_bytes.load(Ordering::Relaxed),
            capacity: self.capacity,
        }
    }

    fn publish_gauges(&self) {
        metrics::gauge!("vod_edge_cache_bytes").set(self.index.weight() as f64);
        metrics::gauge!("vod_edge_cache_entries").set(self.index.len() as f64);
    }

    /// Takes a slot out of the index (caller holds the lock); a filling one is doomed.
    fn take(&self, key: &str, files: &mut Vec<PathBuf>) -> bool {
        self.hot.remove(key);
        match self.index.remove(key) {
            Some((_, Slot::Ready(e))) => {
                files.push(e.path.clone());
                true
            }
            Some((_, Slot::Filling(f))) => {
                f.doomed.store(true, Ordering::SeqCst);
                self.filling_bytes.fetch_sub(f.file_len, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// Decides what a miss for the object `origin` describes does: use the copy another
    /// request just completed, join a running fill of the same version, or register a new
    /// fill (replacing any copy of another version).
    pub fn claim(&self, meta: EntryMeta, origin: &OriginMeta) -> std::io::Result<Claim> {
        let key = meta.cache_key();
        let header = disk::encode_header(&meta);
        let file_len = header.len() as u64 + meta.size;
        if file_len > self.object_limit {
            return Ok(Claim::Pass);
        }
        let mut files = Vec::new();
        let mut evicted = Evicted::default();
        let claim = {
            let _guard = self.lock();
            let same = |m: &EntryMeta| m.etag == meta.etag && m.size == meta.size;
            match self.index.peek(key.as_str()) {
                Some(Slot::Ready(e)) if same(&e.meta) => return Ok(Claim::Ready(e)),
                Some(Slot::Filling(f)) if same(&f.meta) && !f.doomed.load(Ordering::SeqCst) => {
                    return Ok(Claim::Join(f));
                }
                Some(_) => {
                    self.take(&key, &mut files);
                }
                None => {}
            }
            let reserved = self.filling_bytes.load(Ordering::SeqCst);
            if reserved + file_len > self.capacity {
                Claim::Pass
            } else {
                let (tmp, data) = self.layout.new_paths();
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .open(&tmp)?;
                let (progress, _) = watch::channel(Progress {
                    written: 0,
                    state: FillState::Running,
                });
                let fill = Arc::new(Fill {
                    meta,
                    origin: origin.clone(),
                    tmp,
                    data,
                    file: Arc::new(file),
                    header,
                    file_len,
                    progress,
                    doomed: AtomicBool::new(false),
                    evict_first: Mutex::new(Vec::new()),
                });
                self.filling_bytes.fetch_add(file_len, Ordering::SeqCst);
                self.index
                    .insert_with_lifecycle(key, Slot::Filling(fill.clone()), &mut evicted);
                *fill.evict_first.lock().unwrap_or_else(|p| p.into_inner()) = evicted.take_files();
                Claim::Started(fill)
            }
        };
        drop(evicted);
        remove_files(files);
        self.publish_gauges();
        Ok(claim)
    }

    /// Makes a finished fill the cached entry (its file is already renamed into `data/`),
    /// unless it was purged or superseded meanwhile: then the file is deleted. Returns
    /// whether the entry was committed.
    pub fn commit(&self, fill: &Arc<Fill>) -> bool {
        let key = fill.meta.cache_key();
        let mut evicted = Evicted::default();
        let committed = {
            let _guard = self.lock();
            let ours = matches!(self.index.peek(key.as_str()), Some(Slot::Filling(f)) if Arc::ptr_eq(&f, fill));
            if ours && !fill.doomed.load(Ordering::SeqCst) {
                self.filling_bytes.fetch_sub(fill.file_len, Ordering::SeqCst);
                let entry = Entry::new(fill.meta.clone(), fill.data.clone(), fill.body_offset(), fill.file_len);
                self.index
                    .insert_with_lifecycle(key, Slot::Ready(Arc::new(entry)), &mut evicted);
                true
            } else {
                false
            }
        };
        drop(evicted);
        if !committed {
            remove_files(vec![fill.data.clone()]);
        }
        self.publish_gauges();
        committed
    }

    /// Forgets a failed fill (if still registered) and deletes its temporary file.
    pub fn abandon(&self, fill: &Arc<Fill>) {
        let key = fill.meta.cache_key();
        {
            let _guard = self.lock();
            if matches!(self.index.peek(key.as_str()), Some(Slot::Filling(f)) if Arc::ptr_eq(&f, fill)) {
                let mut ignored = Vec::new();
                self.take(&key, &mut ignored);
            }
        }
        remove_files(vec![fill.tmp.clone()]);
        self.publish_gauges();
    }

    /// Drops a cached copy when it is still `entry` (a stale copy found by revalidation, or
    /// a file that vanished).
    pub fn drop_entry(&self, entry: &Arc<Entry>) {
        let key = entry.meta.cache_key();
        let mut files = Vec::new();
        {
            let _guard = self.lock();
            if matches!(self.index.peek(key.as_str()), Some(Slot::Ready(e)) if Arc::ptr_eq(&e, entry)) {
                self.take(&key, &mut files);
            }
        }
        remove_files(files);
        self.publish_gauges();
    }

    /// Purges one object; true when something was cached or filling.
    pub fn purge_key(&self, key: &str) -> bool {
        let mut files = Vec::new();
        let found = {
            let _guard = self.lock();
            self.take(key, &mut files)
        };
        remove_files(files);
        self.publish_gauges();
        found
    }

    /// Purges every object whose cache key starts with `prefix`; returns how many.
    pub fn purge_prefix(&self, prefix: &str) -> usize {
        let mut files = Vec::new();
        let mut n = 0;
        {
            let _guard = self.lock();
            let keys: Vec<String> = self
                .index
                .iter()
                .map(|(k, _)| k)
                .filter(|k| k.starts_with(prefix))
                .collect();
            for k in keys {
                if self.take(&k, &mut files) {
                    n += 1;
                }
            }
        }
        remove_files(files);
        self.publish_gauges();
        n
    }
}
