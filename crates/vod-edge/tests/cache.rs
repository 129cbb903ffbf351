//! The cache's life: purge (objects and directories) and preload through the signed
//! control API and `EdgeClient`, the size bound and eviction, restarts, crash leftovers.

mod common;

use std::time::Duration;

use common::{BUCKET, Harness, SECRET, bytes, disk_usage, header, settle_files};
use vod_edge::control::{PRELOAD_PATH, PURGE_PATH, sign};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_makes_the_next_fetch_a_miss_with_the_new_bytes() {
    let h = Harness::new().await;
    h.put("p/v.m3u8", b"version one".to_vec()).await;
    assert_eq!(h.fetch("p/v.m3u8").await, ("MISS".into(), "version one".into()));
    h.idle().await;
    assert_eq!(h.fetch("p/v.m3u8").await, ("HIT".into(), "version one".into()));
    // The origin changes; like a CDN the edge keeps serving its copy until refreshed.
    h.put("p/v.m3u8", b"version two!".to_vec()).await;
    assert_eq!(h.fetch("p/v.m3u8").await, ("HIT".into(), "version one".into()));
    let url = format!("{}?auth_key=ignored", h.url("p/v.m3u8"));
    let results = h
        .client()
        .purge(&h.base, std::slice::from_ref(&url), &[])
        .await
        .unwrap();
    assert_eq!(results.len(), 1);
    assert!(results[0].ok, "{results:?}");
    assert_eq!((results[0].path.as_str(), results[0].purged), (url.as_str(), 1));
    assert_eq!(h.fetch("p/v.m3u8").await, ("MISS".into(), "version two!".into()));
    h.idle().await;
    assert_eq!(h.fetch("p/v.m3u8").await, ("HIT".into(), "version two!".into()));
    // Purging what is not cached is fine; a path without a key is not.
    let results = h
        .client()
        .purge(&h.base, &[format!("/{BUCKET}/nothing.ts"), format!("/{BUCKET}")], &[])
        .await
        .unwrap();
    assert!(results[0].ok && results[0].purged == 0);
    assert!(!results[1].ok && results[1].error.is_some());
    assert_eq!(h.edge().stats().entries, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_of_a_directory_prefix() {
    let h = Harness::new().await;
    let keys = [
        "hls/a/1.ts",
        "hls/a/2.ts",
        "hls/a/sub/3.ts",
        "hls/ab/4.ts",
        "hls/b/5.ts",
    ];
    for k in keys {
        h.put(k, bytes(100, 1)).await;
        h.fetch(k).await;
    }
    h.idle().await;
    let dirs = [format!("/{BUCKET}/hls/a")];
    let results = h.client().purge(&h.base, &[], &dirs).await.unwrap();
    assert!(results[0].ok);
    assert_eq!(results[0].purged, 3, "a/ and its subdirectory, not ab/");
    for (k, want) in keys.iter().zip(["MISS", "MISS", "MISS", "HIT", "HIT"]) {
        assert_eq!(h.fetch(k).await.0, want, "{k}");
    }
    h.idle().await;
    // A whole bucket, given as a play URL.
    let results = h
        .client()
        .purge(&h.base, &[], &[format!("{}/{BUCKET}/", h.base)])
        .await
        .unwrap();
    assert_eq!(results[0].purged, 5);
    assert_eq!(h.edge().stats().entries, 0);
    assert_eq!(settle_files(&h.cache_dir(), 0).await, 0, "purged files are deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preload_makes_the_first_fetch_a_hit() {
    let h = Harness::new().await;
    h.put("pre/v.m3u8", bytes(1000, 2)).await;
    h.put("pre/seg-0.ts", bytes(400_000, 3)).await;
    let files = vec![
        format!("{}/{BUCKET}/pre/v.m3u8", h.base),
        format!("/{BUCKET}/pre/seg-0.ts"),
        format!("/{BUCKET}/pre/missing.ts"),
    ];
    let results = h.client().preload(&h.base, &files).await.unwrap();
    assert_eq!(results.len(), 3);
    assert!(results[0].ok && results[1].ok, "{results:?}");
    assert_eq!((results[0].bytes, results[1].bytes), (1000, 400_000));
    assert!(!results[0].already_cached);
    assert!(!results[2].ok);
    assert!(results[2].error.as_deref().unwrap().contains("no such object"));
    assert_eq!(h.reads(), 2);
    let (cache, got) = h.fetch("pre/seg-0.ts").await;
    assert_eq!(cache, "HIT");
    assert!(got == bytes(400_000, 3));
    assert_eq!(h.fetch("pre/v.m3u8").await.0, "HIT");
    let again = h.client().preload(&h.base, &files[..1]).await.unwrap();
    assert!(again[0].ok && again[0].already_cached);
    // Preloading a changed object replaces the cached copy.
    h.put("pre/v.m3u8", bytes(1200, 4)).await;
    let changed = h.client().preload(&h.base, &files[..1]).await.unwrap();
    assert!(changed[0].ok && !changed[0].already_cached && changed[0].bytes == 1200);
    let (cache, got) = h.fetch("pre/v.m3u8").await;
    assert_eq!((cache.as_str(), got.to_vec()), ("HIT", bytes(1200, 4)));
    assert_eq!(h.reads(), 3);
    assert_eq!(settle_files(&h.cache_dir(), 2).await, 2, "the old copy's file is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_keeps_the_cache_under_its_bound() {
    let max = 1 << 20;
    let h = Harness::with(|c| c.max_bytes = max).await;
    let n = 12;
    for i in 0..n {
        let key = format!("ev/{i}.ts");
        h.put(&key, bytes(200_000, i as u8)).await;
        let (cache, got) = h.fetch(&key).await;
        assert_eq!(cache, "MISS");
        assert!(got == bytes(200_000, i as u8));
        h.idle().await;
        let stats = h.edge().stats();
        assert!(stats.bytes <= max, "{stats:?}");
        let (_, on_disk) = disk_usage(&h.cache_dir());
        assert!(on_disk <= max, "{on_disk} bytes on disk after {i}");
    }
    let (files, _) = disk_usage(&h.cache_dir());
    assert!(files <= 5, "{files} files: at most five 200 KB objects fit in 1 MiB");
    assert_eq!(h.edge().stats().entries, files);
    assert_eq!(h.fetch(&format!("ev/{}.ts", n - 1)).await.0, "HIT", "the newest stays");
    let mut misses = 0;
    for i in 0..n - 1 {
        misses += usize::from(h.fetch(&format!("ev/{i}.ts")).await.0 == "MISS");
        h.idle().await;
    }
    assert!(misses >= n - 5, "evicted objects are fetched again ({misses} misses)");
    assert!(disk_usage(&h.cache_dir()).1 <= max);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_cached_entries() {
    let mut h = Harness::new().await;
    h.put("keep/a.mp4", bytes(300_000, 5)).await;
    h.put("keep/b.m3u8", bytes(100, 6)).await;
    h.fetch("keep/a.mp4").await;
    h.fetch("keep/b.m3u8").await;
    h.idle().await;
    let etag = header(&h.get("keep/a.mp4").await, "etag");
    let cfg = h.edge().config().clone();
    h.start(cfg).await;
    assert_eq!(h.edge().stats().entries, 2);
    let r = h.get("keep/a.mp4").await;
    assert_eq!(header(&r, "x-cache"), "HIT");
    assert_eq!(header(&r, "etag"), etag);
    assert_eq!(header(&r, "content-type"), "video/mp4");
    assert!(r.bytes().await.unwrap() == bytes(300_000, 5));
    let r = h
        .http
        .get(h.url("keep/b.m3u8"))
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!((r.status().as_u16(), header(&r, "x-cache")), (206, "HIT".into()));
    assert_eq!(r.bytes().await.unwrap(), bytes(100, 6)[10..20]);
    assert_eq!(h.reads(), 0, "nothing was read from the origin after the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_leftovers_are_ignored_on_start() {
    let mut h = Harness::new().await;
    h.put("crash/a.ts", bytes(50_000, 7)).await;
    h.put("crash/b.ts", bytes(50_000, 8)).await;
    h.fetch("crash/a.ts").await;
    h.fetch("crash/b.ts").await;
    h.idle().await;
    let cfg = h.edge().config().clone();
    h.stop().await;
    let dir = h.cache_dir();
    // A fill cut short by a crash, and a data file that lost its tail.
    std::fs::write(dir.join("tmp").join("0123abcd.part"), bytes(30_000, 9)).unwrap();
    let victim = std::fs::read_dir(dir.join("data"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .next()
        .unwrap();
    let len = std::fs::metadata(&victim).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&victim)
        .unwrap()
        .set_len(len - 100)
        .unwrap();
    std::fs::write(dir.join("data").join("stray.bin"), b"junk").unwrap();
    h.start(cfg).await;
    assert_eq!(h.edge().stats().entries, 1, "only the intact entry is kept");
    assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
    assert!(!victim.exists());
    let a = h.fetch("crash/a.ts").await;
    let b = h.fetch("crash/b.ts").await;
    assert!(a.1 == bytes(50_000, 7) && b.1 == bytes(50_000, 8));
    let mut caches = [a.0, b.0];
    caches.sort();
    assert_eq!(caches, ["HIT", "MISS"]);
    assert_eq!(h.reads(), 1);
}

async fn control(h: &Harness, path: &str, body: &str, ts: i64, secret: &str) -> reqwest::Response {
    h.http
        .post(format!("{}{path}", h.base))
        .header("x-edge-timestamp", ts.to_string())
        .header("x-edge-signature", sign(secret, ts, path, body.as_bytes()))
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_api_refuses_bad_signatures() {
    let h = Harness::new().await;
    h.put("sig/a.ts", bytes(10, 1)).await;
    h.fetch("sig/a.ts").await;
    h.idle().await;
    let body = format!(r#"{{"files":["/{BUCKET}/sig/a.ts"]}}"#);
    let now = vod_core::now_ms() / 1000;
    assert_eq!(control(&h, PURGE_PATH, &body, now, "wrong").await.status(), 403);
    assert_eq!(control(&h, PURGE_PATH, &body, now - 3600, SECRET).await.status(), 403);
    let unsigned = h
        .http
        .post(format!("{}{PURGE_PATH}", h.base))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    // The signature covers the body and the operation.
    let ts = now.to_string();
    let tampered = h
        .http
        .post(format!("{}{PURGE_PATH}", h.base))
        .header("x-edge-timestamp", &ts)
        .header("x-edge-signature", sign(SECRET, now, PURGE_PATH, br#"{"files":[]}"#))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 403);
    let replayed = h
        .http
        .post(format!("{}{PRELOAD_PATH}", h.base))
        .header("x-edge-timestamp", &ts)
        .header("x-edge-signature", sign(SECRET, now, PURGE_PATH, body.as_bytes()))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 403);
    assert_eq!(h.edge().stats().entries, 1, "nothing was purged");
    let bad = vod_edge::EdgeClient::new("wrong", Duration::from_secs(5));
    let err = bad
        .purge(&h.base, &[format!("/{BUCKET}/sig/a.ts")], &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    // A well-signed but malformed body.
    assert_eq!(control(&h, PURGE_PATH, "{not json", now, SECRET).await.status(), 400);
    let ok = control(&h, PURGE_PATH, &body, now, SECRET).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(h.edge().stats().entries, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_api_is_closed_without_a_secret() {
    let h = Harness::with(|c| c.control_secret = String::new()).await;
    let now = vod_core::now_ms() / 1000;
    let r = control(&h, PURGE_PATH, r#"{"files":[]}"#, now, "").await;
    assert_eq!(r.status(), 403);
    let health = h.http.get(format!("{}/_edge/health", h.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revalidation_notices_changed_and_deleted_objects() {
    let h = Harness::with(|c| c.revalidate_secs = 1).await;
    h.put("rv/a.m3u8", b"one".to_vec()).await;
    h.put("rv/b.m3u8", b"bee".to_vec()).await;
    h.fetch("rv/a.m3u8").await;
    h.fetch("rv/b.m3u8").await;
    h.idle().await;
    h.put("rv/a.m3u8", b"two!".to_vec()).await;
    h.objects.delete_object(BUCKET, "rv/b.m3u8").await.unwrap();
    assert_eq!(h.fetch("rv/a.m3u8").await, ("HIT".into(), "one".into()), "still fresh");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(h.fetch("rv/a.m3u8").await, ("MISS".into(), "two!".into()));
    assert_eq!(h.get("rv/b.m3u8").await.status(), 404);
    h.idle().await;
    assert_eq!(h.fetch("rv/a.m3u8").await, ("HIT".into(), "two!".into()));
    assert_eq!(h.edge().stats().entries, 1);
}
