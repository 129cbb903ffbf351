//! The cache directory on disk: one file per cached object, written under `tmp/` and
//! renamed into `data/` only when complete, so a crash never leaves a partial entry where
//! it could be served; the start-up scan that rebuilds the index from `data/`.
//!
//! ```text
//! <cache_dir>/lock                 flock: one edge per directory
//! <cache_dir>/tmp/<id>.part        fills in progress (all removed on start)
//! <cache_dir>/data/<xx>/<id>.bin   "VODEDGE1" | u32 LE header length | JSON header | body
//! ```
//!
//! The JSON header remembers bucket, key, size, ETag, Last-Modified, the origin's content
//! type and when the copy was stored. A data file whose length is not header + size, or
//! whose header does not parse, is deleted by the scan.

use std::fs::File;
use std::io::Read as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 8] = b"VODEDGE1";
/// Largest JSON header accepted (keys are at most 1023 bytes).
const MAX_HEADER: usize = 64 * 1024;

/// What a cache file remembers about its object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryMeta {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// When the copy was stored (milliseconds since the epoch): the `Age` of a hit.
    pub stored_at_ms: i64,
}

impl EntryMeta {
    /// The cache key: `bucket/key` (bucket names contain no `/`).
    pub fn cache_key(&self) -> String {
        cache_key(&self.bucket, &self.key)
    }
}

pub fn cache_key(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}

/// The encoded header of `meta`; the body starts right after it.
pub fn encode_header(meta: &EntryMeta) -> Vec<u8> {
    let json = serde_json::to_vec(meta).unwrap_or_default();
    let mut out = Vec::with_capacity(12 + json.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out
}

/// Reads and checks the header of a data file: the meta and the body offset, when the
/// header parses and the file holds exactly the body it announces.
pub fn read_header(path: &Path) -> Option<(EntryMeta, u64)> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let mut fixed = [0u8; 12];
    file.read_exact(&mut fixed).ok()?;
    if &fixed[..8] != MAGIC {
        return None;
    }
    let json_len = u32::from_le_bytes(fixed[8..12].try_into().ok()?) as usize;
    if json_len > MAX_HEADER {
        return None;
    }
    let mut json = vec![0u8; json_len];
    file.read_exact(&mut json).ok()?;
    let meta: EntryMeta = serde_json::from_slice(&json).ok()?;
    let offset = 12 + json_len as u64;
    (len == offset + meta.size).then_some((meta, offset))
}

/// The directories of a cache rooted at `root`.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
    pub data: PathBuf,
    pub tmp: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            data: root.join("data"),
            tmp: root.join("tmp"),
        }
    }

    /// A fresh temporary path and the data path it is renamed to when complete.
    pub fn new_paths(&self) -> (PathBuf, PathBuf) {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let tmp = self.tmp.join(format!("{id}.part"));
        let data = self.data.join(&id[..2]).join(format!("{id}.bin"));
        (tmp, data)
    }

    /// Creates the directories and takes the directory lock (held while the file lives).
    pub fn prepare(&self) -> std::io::Result<File> {
        std::fs::create_dir_all(&self.data)?;
        std::fs::create_dir_all(&self.tmp)?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join("lock"))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(|e| {
            std::io::Error::other(format!(
                "the edge cache {} is in use by another process ({e})",
                self.root.display()
            ))
        })?;
        Ok(lock)
    }
}

/// One complete entry found on disk.
#[derive(Debug)]
pub struct Found {
    pub meta: EntryMeta,
    pub path: PathBuf,
    pub body_offset: u64,
    pub file_len: u64,
}

/// What the start-up scan did.
#[derive(Debug, Default)]
pub struct Scan {
    /// Valid entries, oldest first; at most one per key (the newest).
    pub entries: Vec<Found>,
    /// Temporary files, invalid and superseded data files deleted.
    pub removed: usize,
}

/// Empties `tmp/`, reads every data file's header, deletes what is not a complete entry
/// (and older duplicates of a key), and returns the entries oldest first.
pub fn scan(layout: &Layout) -> std::io::Result<Scan> {
    let mut scan = Scan::default();
    for e in std::fs::read_dir(&layout.tmp)? {
        let path = e?.path();
        if std::fs::remove_file(&path).is_ok() {
            scan.removed += 1;
        }
    }
    let mut found: Vec<Found> = Vec::new();
    for sub in std::fs::read_dir(&layout.data)? {
        let sub = sub?.path();
        if !sub.is_dir() {
            let _ = std::fs::remove_file(&sub);
            scan.removed += 1;
            continue;
        }
        for e in std::fs::read_dir(&sub)? {
            let path = e?.path();
            match read_header(&path) {
                Some((meta, body_offset)) => found.push(Found {
                    file_len: body_offset + meta.size,
                    meta,
                    path,
                    body_offset,
                }),
                None => {
                    tracing::warn!(file = %path.display(), "removing an incomplete or unreadable edge cache file");
                    let _ = std::fs::remove_file(&path);
                    scan.removed += 1;
                }
            }
        }
    }
    // Newest first, so the first of a key wins; then oldest first for insertion.
    found.sort_by_key(|f| std::cmp::Reverse(f.meta.stored_at_ms));
    let mut seen = std::collections::HashSet::new();
    for f in found {
        if seen.insert(f.meta.cache_key()) {
            scan.entries.push(f);
        } else {
            let _ = std::fs::remove_file(&f.path);
            scan.removed += 1;
        }
    }
    scan.entries.reverse();
    Ok(scan)
}

/// Reads up to `len` bytes at `offset` (fewer only at the end of the file).
pub fn read_at(file: &File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(done);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str, size: u64, stored: i64) -> EntryMeta {
        EntryMeta {
            bucket: "b".into(),
            key: key.into(),
            size,
            etag: "E".into(),
            last_modified_ms: 1,
            content_type: None,
            stored_at_ms: stored,
        }
    }

    fn write(layout: &Layout, m: &EntryMeta, body: &[u8]) -> PathBuf {
        let (_, data) = layout.new_paths();
        std::fs::create_dir_all(data.parent().unwrap()).unwrap();
        let mut bytes = encode_header(m);
        bytes.extend_from_slice(body);
        std::fs::write(&data, bytes).unwrap();
        data
    }

    #[test]
    fn scan_keeps_complete_newest_entries() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let _lock = layout.prepare().unwrap();
        assert!(layout.prepare().is_err(), "a second edge on the same directory");
        let good = write(&layout, &meta("a", 3, 3), b"abc");
        let old = write(&layout, &meta("b", 1, 5), b"x");
        let new = write(&layout, &meta("b", 2, 6), b"yz");
        let short = write(&layout, &meta("c", 10, 7), b"abc");
        let junk = layout.data.join("zz").join("junk.bin");
        std::fs::create_dir_all(junk.parent().unwrap()).unwrap();
        std::fs::write(&junk, b"not a cache file").unwrap();
        std::fs::write(layout.tmp.join("x.part"), b"half").unwrap();
        let scan = scan(&layout).unwrap();
        let keys: Vec<_> = scan.entries.iter().map(|f| f.meta.key.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(scan.entries[1].path, new);
        assert_eq!(scan.removed, 4);
        assert!(good.exists() && !old.exists() && !short.exists() && !junk.exists());
        let file = File::open(&good).unwrap();
        let off = scan.entries[0].body_offset;
        assert_eq!(read_at(&file, off + 1, 10).unwrap(), b"bc");
    }
}
