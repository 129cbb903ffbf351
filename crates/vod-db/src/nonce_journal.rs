//! The SQLite backend's replay log: request nonces in append-only files next to the database
//! (`<database>-nonces/`), shared by every process that opens the same database.
//!
//! A nonce in a B-tree with a random key dirties a page per request; here a batch of nonces
//! is one `write(2)` of a few hundred bytes, durable against a killed process as soon as the
//! call returns (the page cache outlives the process; like the database's WAL with
//! `synchronous=NORMAL`, a power cut may lose the last moments). Each process keeps every
//! recorded nonce in memory and, holding an exclusive `flock` on `lock`, first reads what the
//! others appended since it last looked, then appends its new ones: check-and-record is
//! atomic across processes. Files are per expiry window (`<window>.log`, [`WINDOW_MS`] wide),
//! so purging deletes whole files. A record is a line `<expires_at_ms> <key>$`, the key
//! percent-encoded; every append starts with a newline, so a line torn by a crash is closed
//! by the next writer and then ignored (it lacks its `$`).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, RandomState};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use vod_core::{CoreError, CoreResult};

use crate::nonce_set::NonceSet;

/// Width of one file's expiry window.
pub const WINDOW_MS: i64 = 10 * 60 * 1000;

/// The replay log of one database, as seen by this process.
#[derive(Debug)]
pub struct NonceJournal {
    dir: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    lock: File,
    /// The directory itself, open for `fstat` (its mtime) without a path lookup.
    dir_handle: File,
    digest: KeyDigest,
    /// Every nonce recorded and not yet purged.
    seen: NonceSet,
    /// Open window files and how far this process has read each.
    files: BTreeMap<i64, Tail>,
    /// The directory's mtime at the last listing, if that listing can be trusted to have
    /// seen every file up to that mtime (see [`State::catch_up`]).
    listed: Option<SystemTime>,
}

/// A directory listing is skipped while the directory's mtime is unchanged, but only once
/// that mtime is older than this at listing time: timestamps are coarse (a clock tick), so
/// two changes within one tick can share an mtime.
const DIR_MTIME_SETTLED: Duration = Duration::from_secs(1);

/// A 128-bit digest of a key, SipHash under two random keys of this process: the set holds
/// fixed 24-byte entries rather than strings (no allocation per nonce, cheap growth). Unlike
/// a plain 64-bit hash, a collision (which could only refuse a request as a replay) is out of
/// reach, by chance or by design.
#[derive(Debug)]
struct KeyDigest(RandomState, RandomState);

impl KeyDigest {
    fn new() -> Self {
        Self(RandomState::new(), RandomState::new())
    }

    fn of(&self, key: &str) -> u128 {
        (u128::from(self.0.hash_one(key)) << 64) | u128::from(self.1.hash_one(key))
    }
}

#[derive(Debug)]
struct Tail {
    file: File,
    read_to: u64,
    /// The file's size when this process last looked (or after its own append).
    size: u64,
}

impl NonceJournal {
    /// Opens (creating) the journal of the SQLite database at `database`; reads every record.
    pub fn open(database: &Path) -> CoreResult<Arc<Self>> {
        let mut name = database.as_os_str().to_owned();
        name.push("-nonces");
        let dir = PathBuf::from(name);
        std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_error(&lock_path, e))?;
        let dir_handle = File::open(&dir).map_err(|e| io_error(&dir, e))?;
        let journal = Self {
            dir,
            state: Mutex::new(State {
                lock,
                dir_handle,
                digest: KeyDigest::new(),
                seen: NonceSet::new(),
                files: BTreeMap::new(),
                listed: None,
            }),
        };
        journal.with_lock(|dir, state| state.catch_up(dir))?;
        Ok(Arc::new(journal))
    }

    /// Where the files live.
    #[cfg(test)]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records each `(key, expires_at_ms)`; per item `true` when it was new (its first
    /// occurrence in `items`, never recorded before by any process, or purged since).
    pub fn record(&self, items: &[(String, i64)]) -> CoreResult<Vec<bool>> {
        self.with_lock(|dir, state| state.record(dir, items))
    }

    /// [`record`](Self::record) without waiting: `None` (nothing done) when another thread
    /// of this process or another process holds the journal. Cheap enough (a few syscalls
    /// and one `write(2)`) to run on an async worker when it does not wait.
    pub fn try_record(&self, items: &[(String, i64)]) -> Option<CoreResult<Vec<bool>>> {
        let mut state = match self.state.try_lock() {
            Ok(s) => s,
            Err(std::sync::TryLockError::WouldBlock) => return None,
            Err(std::sync::TryLockError::Poisoned(_)) => {
                return Some(Err(CoreError::Internal("nonce journal state poisoned".into())));
            }
        };
        match state.lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return None,
            Err(std::fs::TryLockError::Error(e)) => return Some(Err(io_error(&self.dir, e))),
        }
        let out = state.record(&self.dir, items);
        let unlocked = state.lock.unlock().map_err(|e| io_error(&self.dir, e));
        Some(out.and_then(|r| unlocked.map(|()| r)))
    }

    /// Forgets nonces that expired before `now_ms` and deletes the files whose whole window
    /// has passed; returns how many this process forgot.
    pub fn purge(&self, now_ms: i64) -> CoreResult<u64> {
        self.with_lock(|dir, state| {
            state.catch_up(dir)?;
            let before = state.seen.len();
            state.seen.retain_unexpired(now_ms);
            let done: Vec<i64> = state
                .files
                .keys()
                .copied()
                .filter(|w| window_end(*w) <= now_ms)
                .collect();
            for window in done {
                state.files.remove(&window);
                let path = window_path(dir, window);
                if let Err(e) = std::fs::remove_file(&path)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    return Err(io_error(&path, e));
                }
            }
            Ok((before - state.seen.len()) as u64)
        })
    }

    /// Runs `f` holding this process's state and the cross-process lock.
    fn with_lock<T>(&self, f: impl FnOnce(&Path, &mut State) -> CoreResult<T>) -> CoreResult<T> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| CoreError::Internal("nonce journal state poisoned".into()))?;
        state.lock.lock().map_err(|e| io_error(&self.dir, e))?;
        let out = f(&self.dir, &mut state);
        let unlocked = state.lock.unlock().map_err(|e| io_error(&self.dir, e));
        let out = out?;
        unlocked?;
        Ok(out)
    }
}

impl State {
    /// Catches up with the other processes, then records the new items (see
    /// [`NonceJournal::record`]); the caller holds the lock.
    fn record(&mut self, dir: &Path, items: &[(String, i64)]) -> CoreResult<Vec<bool>> {
        self.catch_up(dir)?;
        let mut result = Vec::with_capacity(items.len());
        // Per window: the bytes to append and the keys they record.
        let mut appends: BTreeMap<i64, (Vec<u8>, Vec<u128>)> = BTreeMap::new();
        for (key, expires_at) in items {
            let digest = self.digest.of(key);
            if !self.seen.insert_new(digest, *expires_at) {
                result.push(false);
                continue;
            }
            let (buf, keys) = appends
                .entry(expires_at.div_euclid(WINDOW_MS))
                .or_insert_with(|| (vec![b'\n'], Vec::new()));
            encode_record(buf, key, *expires_at);
            keys.push(digest);
            result.push(true);
        }
        let mut failure = None;
        for (window, (buf, keys)) in appends {
            if failure.is_some() {
                forget(self, &keys);
            } else if let Err(e) = self.append(dir, window, &buf) {
                // Not durable: forget them, so a retry is not taken for a replay.
                forget(self, &keys);
                failure = Some(e);
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(result),
        }
    }

    /// Reads what any process appended since this one last looked (and files it never saw).
    fn catch_up(&mut self, dir: &Path) -> CoreResult<()> {
        self.find_new_files(dir)?;
        self.read_new_records(dir)
    }

    /// Opens window files this process has not seen: lists the directory unless its mtime
    /// shows that nothing was created (or deleted) since the last trusted listing.
    fn find_new_files(&mut self, dir: &Path) -> CoreResult<()> {
        let listing_at = SystemTime::now();
        let mtime = self
            .dir_handle
            .metadata()
            .and_then(|m| m.modified())
            .map_err(|e| io_error(dir, e))?;
        if self.listed == Some(mtime) {
            return Ok(());
        }
        let entries = std::fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error(dir, e))?;
            let name = entry.file_name();
            let Some(window) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".log"))
                .and_then(|n| n.parse::<i64>().ok())
            else {
                continue;
            };
            if let std::collections::btree_map::Entry::Vacant(slot) = self.files.entry(window) {
                let path = entry.path();
                match OpenOptions::new().read(true).append(true).open(&path) {
                    Ok(file) => {
                        slot.insert(Tail {
                            file,
                            read_to: 0,
                            size: 0,
                        });
                    }
                    // Purged by another process since the listing.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io_error(&path, e)),
                }
            }
        }
        let settled = listing_at
            .duration_since(mtime)
            .is_ok_and(|age| age >= DIR_MTIME_SETTLED);
        self.listed = settled.then_some(mtime);
        Ok(())
    }

    /// Reads the records appended to known files since this process last looked.
    fn read_new_records(&mut self, dir: &Path) -> CoreResult<()> {
        for (window, tail) in &mut self.files {
            let len = tail.file.metadata().map_err(|e| io_error(dir, e))?.len();
            tail.size = len;
            if len <= tail.read_to {
                continue;
            }
            let mut buf = Vec::with_capacity((len - tail.read_to) as usize);
            tail.file
                .seek(SeekFrom::Start(tail.read_to))
                .and_then(|_| (&tail.file).take(len - tail.read_to).read_to_end(&mut buf))
                .map_err(|e| io_error(&window_path(dir, *window), e))?;
            // Only complete lines; a torn tail is read again once a writer has closed it.
            let complete = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            for line in buf[..complete].split(|b| *b == b'\n') {
                if let Some((key, expires_at)) = decode_record(line) {
                    self.seen.insert_new(self.digest.of(&key), expires_at);
                }
            }
            tail.read_to += complete as u64;
        }
        Ok(())
    }

    /// Appends `buf` to the file of `window` (creating it) and moves past it.
    fn append(&mut self, dir: &Path, window: i64, buf: &[u8]) -> CoreResult<()> {
        let path = window_path(dir, window);
        let tail = match self.files.entry(window) {
            std::collections::btree_map::Entry::Occupied(slot) => slot.into_mut(),
            std::collections::btree_map::Entry::Vacant(slot) => {
                let file = OpenOptions::new()
                    .read(true)
                    .append(true)
                    .create(true)
                    .open(&path)
                    .map_err(|e| io_error(&path, e))?;
                let size = file.metadata().map_err(|e| io_error(&path, e))?.len();
                slot.insert(Tail { file, read_to: 0, size })
            }
        };
        (&tail.file).write_all(buf).map_err(|e| io_error(&path, e))?;
        // Nothing else was appended since this process looked (the lock is held): all of it
        // has been seen.
        tail.size += buf.len() as u64;
        tail.read_to = tail.size;
        Ok(())
    }
}

fn forget(state: &mut State, digests: &[u128]) {
    for digest in digests {
        state.seen.remove(*digest);
    }
}

fn window_path(dir: &Path, window: i64) -> PathBuf {
    dir.join(format!("{window}.log"))
}

/// First instant after the window (saturating for far-future expiries).
fn window_end(window: i64) -> i64 {
    window.saturating_add(1).saturating_mul(WINDOW_MS)
}

/// Bytes a key keeps as they are; everything else is `%XX`.
fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':')
}

fn encode_record(out: &mut Vec<u8>, key: &str, expires_at: i64) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(itoa::Buffer::new().format(expires_at).as_bytes());
    out.push(b' ');
    for &b in key.as_bytes() {
        if plain(b) {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
    out.extend_from_slice(b"$\n");
}

fn decode_record(line: &[u8]) -> Option<(String, i64)> {
    let line = line.strip_suffix(b"$")?;
    let space = line.iter().position(|b| *b == b' ')?;
    let expires_at = std::str::from_utf8(&line[..space]).ok()?.parse::<i64>().ok()?;
    let mut key = Vec::with_capacity(line.len() - space);
    let mut rest = &line[space + 1..];
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            key.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else if plain(b) {
            key.push(b);
            rest = tail;
        } else {
            return None;
        }
    }
    Some((String::from_utf8(key).ok()?, expires_at))
}

fn io_error(path: &Path, e: std::io::Error) -> CoreError {
    CoreError::Unavailable(format!("nonce journal {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_the_line_format() {
        for key in ["LTAI:abc-123", "ak:with space", "ak:new\nline$%", "ak:ünï"] {
            let mut buf = Vec::new();
            encode_record(&mut buf, key, 1_700_000_000_123);
            assert_eq!(buf.iter().filter(|b| **b == b'\n').count(), 1, "{key:?}");
            let line = buf.strip_suffix(b"\n").unwrap();
            assert_eq!(decode_record(line), Some((key.to_string(), 1_700_000_000_123)));
        }
        assert_eq!(decode_record(b"123 ak:torn"), None, "no terminator");
        assert_eq!(decode_record(b"12x ak:a$"), None);
        assert_eq!(decode_record(b""), None);
        assert_eq!(decode_record(b"1 bad key$"), None);
    }

    #[test]
    fn a_torn_line_is_ignored_and_the_next_append_still_counts() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("meta.db");
        let a = NonceJournal::open(&db).unwrap();
        assert_eq!(a.record(&[("k:1".into(), 5)]).unwrap(), vec![true]);
        // A process killed in the middle of its write left half a record.
        let file = window_path(a.dir(), 0);
        OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap()
            .write_all(b"\n5 k:2-half")
            .unwrap();
        let b = NonceJournal::open(&db).unwrap();
        assert_eq!(b.record(&[("k:3".into(), 5)]).unwrap(), vec![true]);
        let c = NonceJournal::open(&db).unwrap();
        assert_eq!(
            c.record(&[("k:1".into(), 5), ("k:2-half".into(), 5), ("k:3".into(), 5)])
                .unwrap(),
            vec![false, true, false]
        );
        assert_eq!(a.record(&[("k:3".into(), 5)]).unwrap(), vec![false], "a catches up");
    }

    #[test]
    fn try_record_does_nothing_while_another_process_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("m.db");
        let a = NonceJournal::open(&db).unwrap();
        let b = NonceJournal::open(&db).unwrap();
        let item = vec![("ak:n1".to_string(), 4_000_000_000_000)];
        {
            // b (another open file description, as another process would have) holds it.
            let held = b.state.lock().unwrap();
            held.lock.lock().unwrap();
            assert!(a.try_record(&item).is_none(), "would have waited for the lock");
            held.lock.unlock().unwrap();
        }
        assert_eq!(a.try_record(&item).unwrap().unwrap(), vec![true]);
        assert_eq!(b.try_record(&item).unwrap().unwrap(), vec![false], "b catches up first");
        assert_eq!(a.record(&item).unwrap(), vec![false]);
    }

    #[test]
    fn a_file_created_after_a_trusted_listing_is_still_found() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("m.db");
        let a = NonceJournal::open(&db).unwrap();
        let b = NonceJournal::open(&db).unwrap();
        let window = |w: i64| w * WINDOW_MS + 1;
        assert_eq!(a.record(&[("ak:1".into(), window(7000))]).unwrap(), vec![true]);
        // The directory last changed long ago: b's next listing is trusted, later batches
        // skip listing while the mtime stays the same.
        let old = SystemTime::now() - Duration::from_secs(60);
        File::open(a.dir()).unwrap().set_modified(old).unwrap();
        assert_eq!(b.record(&[("ak:1".into(), window(7000))]).unwrap(), vec![false]);
        assert_eq!(b.state.lock().unwrap().listed, Some(old));
        assert_eq!(b.record(&[("ak:2".into(), window(7000))]).unwrap(), vec![true]);
        // a creates a new window file: the mtime moves, so b lists again and finds it.
        assert_eq!(a.record(&[("ak:3".into(), window(7001))]).unwrap(), vec![true]);
        assert_eq!(b.record(&[("ak:3".into(), window(7001))]).unwrap(), vec![false]);
        assert_eq!(a.record(&[("ak:2".into(), window(7000))]).unwrap(), vec![false]);
    }

    #[test]
    fn purge_deletes_passed_windows_only() {
        let dir = tempfile::tempdir().unwrap();
        let j = NonceJournal::open(&dir.path().join("m.db")).unwrap();
        let later = 3 * WINDOW_MS + 7;
        j.record(&[("k:old".into(), 10), ("k:new".into(), later)]).unwrap();
        assert!(window_path(j.dir(), 0).exists());
        assert_eq!(j.purge(WINDOW_MS).unwrap(), 1);
        assert!(!window_path(j.dir(), 0).exists());
        assert!(window_path(j.dir(), 3).exists());
        let again = NonceJournal::open(&dir.path().join("m.db")).unwrap();
        assert_eq!(
            again.record(&[("k:old".into(), 10), ("k:new".into(), later)]).unwrap(),
            vec![true, false]
        );
    }
}
