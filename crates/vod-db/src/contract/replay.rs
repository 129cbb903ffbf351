//! Contract cases of `NonceRepo` (replay protection, including concurrency across tasks and
//! across two stores on one database) and `SettingsRepo` (first writer wins, daily counters).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use vod_core::ports::MetaStore;

use super::unique;

fn batch(nonces: &[&String], expires_at: i64) -> Vec<(String, i64)> {
    nonces.iter().map(|n| ((*n).clone(), expires_at)).collect()
}

pub async fn nonces_new_vs_replay(store: Arc<dyn MetaStore>) {
    let (a, b) = (unique("nonce"), unique("nonce"));
    assert_eq!(store.record_nonces(&batch(&[&a], 1_000)).await.unwrap(), vec![true]);
    assert_eq!(store.record_nonces(&batch(&[&a], 1_000)).await.unwrap(), vec![false]);
    // A different expiry does not make a nonce new.
    assert_eq!(store.record_nonces(&batch(&[&a], 9_000)).await.unwrap(), vec![false]);
    assert_eq!(
        store.record_nonces(&batch(&[&b, &a], 1_000)).await.unwrap(),
        vec![true, false]
    );
    assert_eq!(store.record_nonces(&[]).await.unwrap(), Vec::<bool>::new());
}

pub async fn nonces_batch_duplicates(store: Arc<dyn MetaStore>) {
    let (a, b, c, d) = (unique("nonce"), unique("nonce"), unique("nonce"), unique("nonce"));
    // Names sorted differently from batch order, to catch implementations that reorder.
    let z = format!("zz-{}", unique("nonce"));
    let got = store
        .record_nonces(&batch(&[&z, &a, &b, &a, &c, &b, &z], 1_000))
        .await
        .unwrap();
    assert_eq!(got, vec![true, true, true, false, true, false, false]);
    let got = store.record_nonces(&batch(&[&c, &d, &d], 1_000)).await.unwrap();
    assert_eq!(got, vec![false, true, false]);
}

pub async fn nonces_purge(store: Arc<dyn MetaStore>) {
    let (n1, n2, n3) = (unique("nonce"), unique("nonce"), unique("nonce"));
    let items = vec![(n1.clone(), 100), (n2.clone(), 200), (n3.clone(), 300)];
    assert_eq!(store.record_nonces(&items).await.unwrap(), vec![true; 3]);
    // Strictly before now_ms.
    assert_eq!(store.purge_nonces(100).await.unwrap(), 0);
    assert_eq!(store.purge_nonces(200).await.unwrap(), 1);
    assert_eq!(store.purge_nonces(200).await.unwrap(), 0);
    // Expired but not yet purged still counts as a replay; purged ones are new again.
    assert_eq!(
        store.record_nonces(&batch(&[&n1, &n2], 500)).await.unwrap(),
        vec![true, false]
    );
    assert_eq!(store.purge_nonces(10_000).await.unwrap(), 3);
    assert_eq!(store.record_nonces(&batch(&[&n3], 500)).await.unwrap(), vec![true]);
}

/// Two tasks record 200 nonces each, 100 of them shared. Both start on the shared ones at
/// the same time, in batches of 10 holding the same nonces in opposite orders (a store that
/// locks rows in batch order would deadlock here); every nonce must be reported new exactly once.
async fn concurrent_nonces(a: Arc<dyn MetaStore>, b: Arc<dyn MetaStore>) {
    let prefix = unique("race");
    let names: Vec<String> = (0..300).map(|i| format!("{prefix}-{i:03}")).collect();
    let (own_a, shared, own_b) = (&names[0..100], &names[100..200], &names[200..300]);
    let first: Vec<String> = shared.iter().chain(own_a).cloned().collect();
    let second: Vec<String> = shared
        .chunks(10)
        .flat_map(|c| c.iter().rev())
        .chain(own_b)
        .cloned()
        .collect();
    let run = |store: Arc<dyn MetaStore>, mine: Vec<String>| {
        tokio::spawn(async move {
            let mut new = Vec::new();
            for chunk in mine.chunks(10) {
                let items: Vec<(String, i64)> = chunk.iter().map(|n| (n.clone(), i64::MAX)).collect();
                let flags = store.record_nonces(&items).await.expect("record_nonces");
                assert_eq!(flags.len(), chunk.len());
                new.extend(chunk.iter().zip(flags).filter(|(_, f)| *f).map(|(n, _)| n.clone()));
            }
            new
        })
    };
    let (t1, t2) = (run(a.clone(), first), run(b.clone(), second));
    let (new1, new2) = (t1.await.unwrap(), t2.await.unwrap());
    let mut seen: HashMap<&String, u32> = HashMap::new();
    for n in new1.iter().chain(&new2) {
        *seen.entry(n).or_default() += 1;
    }
    for n in &names {
        assert_eq!(
            seen.get(n).copied().unwrap_or(0),
            1,
            "nonce {n} reported new {:?} times",
            seen.get(n)
        );
    }
    assert_eq!(new1.len() + new2.len(), 300);
    // Everything is recorded now.
    let again: Vec<(String, i64)> = names.iter().map(|n| (n.clone(), 0)).collect();
    assert!(a.record_nonces(&again).await.unwrap().iter().all(|f| !f));
}

pub async fn nonces_concurrent(store: Arc<dyn MetaStore>) {
    concurrent_nonces(store.clone(), store).await;
}

/// The same race between two stores (two connection pools) on one database, as two
/// processes sharing it would run it.
pub async fn nonces_concurrent_two_stores(a: Arc<dyn MetaStore>, b: Arc<dyn MetaStore>) {
    concurrent_nonces(a, b).await;
}

pub async fn settings_first_writer_wins(store: Arc<dyn MetaStore>) {
    let key = unique("setting");
    assert_eq!(store.get_setting(&key).await.unwrap(), None);
    assert_eq!(store.put_setting_if_absent(&key, "first").await.unwrap(), "first");
    assert_eq!(store.put_setting_if_absent(&key, "second").await.unwrap(), "first");
    assert_eq!(store.get_setting(&key).await.unwrap().as_deref(), Some("first"));
    // Values are opaque text.
    let other = unique("setting");
    let odd = "line1\nline2 'quoted' \"dq\" ünïcödé ✓";
    assert_eq!(store.put_setting_if_absent(&other, odd).await.unwrap(), odd);
    assert_eq!(store.get_setting(&other).await.unwrap().as_deref(), Some(odd));
    race_settings(store.clone(), store).await;
}

pub async fn settings_first_writer_wins_two_stores(a: Arc<dyn MetaStore>, b: Arc<dyn MetaStore>) {
    race_settings(a, b).await;
}

/// Eight writers race on one key: all must get the same value, one of theirs.
async fn race_settings(a: Arc<dyn MetaStore>, b: Arc<dyn MetaStore>) {
    let key = unique("race");
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let key = key.clone();
            tokio::spawn(async move { store.put_setting_if_absent(&key, &format!("value-{i}")).await.unwrap() })
        })
        .collect();
    let mut winners = HashSet::new();
    for t in tasks {
        winners.insert(t.await.unwrap());
    }
    assert_eq!(winners.len(), 1, "writers saw different values: {winners:?}");
    let winner = winners.into_iter().next().unwrap();
    assert!(winner.starts_with("value-"));
    assert_eq!(b.get_setting(&key).await.unwrap(), Some(winner));
}

pub async fn daily_counter_increments(store: Arc<dyn MetaStore>) {
    let name = unique("counter");
    assert_eq!(store.bump_daily_counter(&name, "20250101").await.unwrap(), 1);
    assert_eq!(store.bump_daily_counter(&name, "20250101").await.unwrap(), 2);
    assert_eq!(store.bump_daily_counter(&name, "20250101").await.unwrap(), 3);
    assert_eq!(store.bump_daily_counter(&name, "20250102").await.unwrap(), 1);
    assert_eq!(
        store.bump_daily_counter(&unique("counter"), "20250101").await.unwrap(),
        1
    );
    // Concurrent bumps never lose an increment and never return the same value twice.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (store, name) = (store.clone(), name.clone());
            tokio::spawn(async move { store.bump_daily_counter(&name, "20250101").await.unwrap() })
        })
        .collect();
    let mut values = Vec::new();
    for t in tasks {
        values.push(t.await.unwrap());
    }
    values.sort_unstable();
    assert_eq!(values, (4..24).collect::<Vec<i64>>());
    assert_eq!(store.bump_daily_counter(&name, "20250101").await.unwrap(), 24);
}
