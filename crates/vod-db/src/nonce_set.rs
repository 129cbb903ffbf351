//! The in-memory set of nonce digests the SQLite nonce journal checks against, split into
//! shards so that growing it never rehashes more than a slice at once (one table of millions
//! of nonces stalls every request waiting on that batch for tens of milliseconds when it
//! doubles).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};

const SHARDS: usize = 64;

/// Digest of a nonce key → its `expires_at_ms`, for every nonce recorded and not yet purged.
#[derive(Debug)]
pub(crate) struct NonceSet {
    shards: Box<[HashMap<u128, i64, BuildHasherDefault<DigestHasher>>]>,
}

impl NonceSet {
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| HashMap::default()).collect(),
        }
    }

    /// The shard of a digest: picked by its high half, while the table inside hashes by
    /// its low half, so the two choices stay independent.
    fn shard(&mut self, digest: u128) -> &mut HashMap<u128, i64, BuildHasherDefault<DigestHasher>> {
        &mut self.shards[(digest >> 64) as usize % SHARDS]
    }

    /// Adds `digest` unless it is there; `true` when it was new (an existing entry keeps its
    /// expiry).
    pub(crate) fn insert_new(&mut self, digest: u128, expires_at: i64) -> bool {
        match self.shard(digest).entry(digest) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(expires_at);
                true
            }
        }
    }

    pub(crate) fn remove(&mut self, digest: u128) {
        self.shard(digest).remove(&digest);
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(HashMap::len).sum()
    }

    /// Forgets the entries that expired before `now_ms`.
    pub(crate) fn retain_unexpired(&mut self, now_ms: i64) {
        for shard in self.shards.iter_mut() {
            shard.retain(|_, expires_at| *expires_at >= now_ms);
        }
    }
}

/// Hashes a digest to its low 64 bits: a digest is keyed SipHash output already, uniformly
/// spread, so hashing it again would only cost time.
#[derive(Debug, Default)]
pub(crate) struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only reached by keys other than u128 (there are none); still a usable hash.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_once_removes_and_purges_by_expiry() {
        let mut set = NonceSet::new();
        // Digests that share a shard, and ones that share their low half.
        let digests: Vec<u128> = (0..1000u128)
            .map(|i| (i << 64) | (i % 7))
            .chain((0..1000u128).map(|i| (7 << 64) | ((1000 + i) * 0x9E37_79B9)))
            .collect();
        for (i, d) in digests.iter().enumerate() {
            assert!(set.insert_new(*d, i as i64), "{i}");
        }
        assert_eq!(set.len(), digests.len());
        for d in &digests {
            assert!(!set.insert_new(*d, -1), "a repeat is not new");
        }
        set.remove(digests[0]);
        assert!(set.insert_new(digests[0], 0), "new again once removed");
        set.retain_unexpired(1500);
        assert_eq!(set.len(), digests.len() - 1500);
        assert!(!set.insert_new(digests[1999], 0), "unexpired ones stay");
        assert!(set.insert_new(digests[5], 0), "expired ones are gone");
    }
}
