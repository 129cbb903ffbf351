//! Serving play URLs through a real edge over a real object store: miss then hit, ranges,
//! HEAD, conditional requests, content types, CORS, 404s, URL authentication, coalesced
//! misses and objects too large to cache.

mod common;

use common::{BUCKET, Harness, bytes, header};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miss_then_hit_serves_identical_bytes() {
    let h = Harness::new().await;
    let body = bytes(300_000, 1);
    h.put("video/a/v.mp4", body.clone()).await;
    let r = h.get("video/a/v.mp4").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-cache"), "MISS");
    assert_eq!(header(&r, "content-length"), "300000");
    assert_eq!(header(&r, "content-type"), "video/mp4");
    assert_eq!(header(&r, "accept-ranges"), "bytes");
    assert_eq!(header(&r, "age"), "0");
    let etag = header(&r, "etag");
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
    assert!(!header(&r, "last-modified").is_empty());
    assert_eq!(r.bytes().await.unwrap(), body);
    h.idle().await;
    let r = h.get("video/a/v.mp4").await;
    assert_eq!(header(&r, "x-cache"), "HIT");
    assert_eq!(header(&r, "etag"), etag);
    assert!(header(&r, "age").parse::<u64>().is_ok());
    assert_eq!(r.bytes().await.unwrap(), body);
    assert_eq!(h.reads(), 1, "the origin is read once");
    let stats = h.edge().stats();
    assert_eq!(stats.entries, 1);
    assert!(stats.bytes > 300_000 && stats.bytes < 301_000, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_give_206_and_416_on_miss_and_hit() {
    let h = Harness::new().await;
    let body = bytes(100_000, 2);
    h.put("r.mp4", body.clone()).await;
    for expect in ["MISS", "HIT"] {
        let r = h
            .http
            .get(h.url("r.mp4"))
            .header("range", "bytes=1000-1999")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 206);
        assert_eq!(header(&r, "x-cache"), expect);
        assert_eq!(header(&r, "content-range"), "bytes 1000-1999/100000");
        assert_eq!(header(&r, "content-length"), "1000");
        assert_eq!(r.bytes().await.unwrap(), body[1000..2000]);
        h.idle().await;
    }
    let r = h
        .http
        .get(h.url("r.mp4"))
        .header("range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(header(&r, "content-range"), "bytes 99990-99999/100000");
    assert_eq!(r.bytes().await.unwrap(), body[99_990..]);
    let r = h
        .http
        .get(h.url("r.mp4"))
        .header("range", "bytes=99999-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap(), body[99_999..]);
    let r = h
        .http
        .get(h.url("r.mp4"))
        .header("range", "bytes=100000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(header(&r, "content-range"), "bytes */100000");
    // A range on a miss of another object, far into it.
    h.put("r2.mp4", body.clone()).await;
    let r = h
        .http
        .get(h.url("r2.mp4"))
        .header("range", "bytes=200000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    // If-Range with another validator: the whole object.
    let r = h
        .http
        .get(h.url("r.mp4"))
        .header("range", "bytes=0-9")
        .header("if-range", "\"OTHER\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), 100_000);
    assert_eq!(h.reads(), 1, "only r.mp4 was read (416 on a miss reads nothing)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_answers_headers_without_a_body_or_a_fill() {
    let h = Harness::new().await;
    h.put("h/a.m3u8", bytes(5000, 3)).await;
    let r = h.http.head(h.url("h/a.m3u8")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-cache"), "MISS");
    assert_eq!(header(&r, "content-length"), "5000");
    assert_eq!(header(&r, "content-type"), "application/vnd.apple.mpegurl");
    assert!(r.bytes().await.unwrap().is_empty());
    assert_eq!(h.reads(), 0, "HEAD on a miss does not fill");
    h.fetch("h/a.m3u8").await;
    h.idle().await;
    let r = h.http.head(h.url("h/a.m3u8")).send().await.unwrap();
    assert_eq!(header(&r, "x-cache"), "HIT");
    assert_eq!(header(&r, "content-length"), "5000");
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_requests_get_304() {
    let h = Harness::new().await;
    h.put("c.ts", bytes(2000, 4)).await;
    let r = h.get("c.ts").await;
    let etag = header(&r, "etag");
    let last_modified = header(&r, "last-modified");
    r.bytes().await.unwrap();
    h.idle().await;
    for (name, value) in [
        ("if-none-match", etag.clone()),
        ("if-none-match", format!("W/{etag}")),
        ("if-modified-since", last_modified.clone()),
    ] {
        let r = h.http.get(h.url("c.ts")).header(name, &value).send().await.unwrap();
        assert_eq!(r.status(), 304, "{name}: {value}");
        assert_eq!(header(&r, "etag"), etag);
        assert!(r.bytes().await.unwrap().is_empty());
    }
    let r = h
        .http
        .get(h.url("c.ts"))
        .header("if-none-match", "\"nope\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let old = "Mon, 01 Jan 2001 00:00:00 GMT";
    let r = h
        .http
        .get(h.url("c.ts"))
        .header("if-modified-since", old)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // On a miss as well (nothing is fetched for a 304).
    h.put("c2.ts", bytes(2000, 4)).await;
    let r = h
        .http
        .get(h.url("c2.ts"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(header(&r, "x-cache"), "MISS");
    assert_eq!(h.reads(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_types_follow_the_extension() {
    let h = Harness::new().await;
    let cases = [
        ("t/v.mp4", "video/mp4"),
        ("t/p.m3u8", "application/vnd.apple.mpegurl"),
        ("t/s-1.ts", "video/mp2t"),
        ("t/a.mp3", "audio/mpeg"),
        ("t/snap.jpg", "image/jpeg"),
        ("t/v.flv", "video/x-flv"),
        ("t/v.webm", "video/webm"),
        ("t/m.mpd", "application/dash+xml"),
    ];
    for (key, _) in cases {
        h.put(key, bytes(10, 5)).await;
    }
    h.put_typed("t/noext", bytes(10, 5), "text/x-stored").await;
    for (key, want) in cases.into_iter().chain([("t/noext", "text/x-stored")]) {
        let r = h.get(key).await;
        assert_eq!(header(&r, "content-type"), want, "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_and_exposed_headers() {
    let h = Harness::new().await;
    h.put("cors.m3u8", bytes(10, 6)).await;
    let r = h
        .http
        .request(reqwest::Method::OPTIONS, h.url("cors.m3u8"))
        .header("origin", "https://player.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "range")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(header(&r, "access-control-allow-origin"), "*");
    assert!(header(&r, "access-control-allow-methods").contains("GET"));
    assert_eq!(header(&r, "access-control-allow-headers"), "range");
    let r = h
        .http
        .get(h.url("cors.m3u8"))
        .header("origin", "https://player.example")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "access-control-allow-origin"), "*");
    let exposed = header(&r, "access-control-expose-headers");
    for name in ["Content-Length", "Content-Range", "ETag"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    // Errors carry CORS too, so players can read the status.
    let r = h.get("missing.m3u8").await;
    assert_eq!(header(&r, "access-control-allow-origin"), "*");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_objects_are_404_and_not_cached() {
    let h = Harness::new().await;
    assert_eq!(h.get("later.mp4").await.status(), 404);
    assert_eq!(h.get("later.mp4").await.status(), 404);
    let r = h.http.get(format!("{}/{BUCKET}", h.base)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = h.http.post(h.url("later.mp4")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(h.edge().stats().entries, 0);
    h.put("later.mp4", bytes(10, 7)).await;
    let (cache, got) = h.fetch("later.mp4").await;
    assert_eq!((cache.as_str(), got.to_vec()), ("MISS", bytes(10, 7)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percent_encoded_keys_with_slashes() {
    let h = Harness::new().await;
    h.put("dir one/sub/名前 x.mp4", bytes(50, 8)).await;
    let url = format!("{}/{BUCKET}/dir%20one/sub/%E5%90%8D%E5%89%8D%20x.mp4", h.base);
    let r = h.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), bytes(50, 8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_configured_buckets_are_served() {
    let h = Harness::with(|c| c.buckets = vec!["other".into()]).await;
    h.put("a.mp4", bytes(10, 9)).await;
    assert_eq!(h.get("a.mp4").await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_read_the_origin_once() {
    let h = Harness::new().await;
    let body = bytes(6 << 20, 10);
    h.put("big/seg.ts", body.clone()).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, url) = (h.http.clone(), h.url("big/seg.ts"));
        tasks.push(tokio::spawn(async move {
            let r = http.get(url).send().await.unwrap();
            let cache = header(&r, "x-cache");
            (cache, r.bytes().await.unwrap())
        }));
    }
    let mut misses = 0;
    for t in tasks {
        let (cache, got) = t.await.unwrap();
        assert!(got == body, "every player gets the whole object");
        misses += usize::from(cache == "MISS");
    }
    assert!(misses >= 1);
    assert_eq!(h.read_bytes(), 6 << 20, "eight concurrent misses read the object once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_above_the_limit_stream_through_uncached() {
    let h = Harness::with(|c| c.max_object_bytes = 64 * 1024).await;
    let body = bytes(200_000, 11);
    h.put("huge.mp4", body.clone()).await;
    for _ in 0..2 {
        let (cache, got) = h.fetch("huge.mp4").await;
        assert_eq!(cache, "MISS");
        assert!(got == body);
    }
    let r = h
        .http
        .get(h.url("huge.mp4"))
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap(), body[10..20]);
    assert_eq!(h.edge().stats().entries, 0);
    assert_eq!(h.reads(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_a_url_authentication() {
    let key = "aliyun-private-key";
    let h = Harness::with(|c| {
        c.auth_key = Some(key.into());
        c.auth_ttl_secs = 1800;
    })
    .await;
    h.put("auth/v.mp4", bytes(1000, 12)).await;
    let path = format!("/{BUCKET}/auth/v.mp4");
    let now = vod_core::now_ms() / 1000;
    let signed = |ts: i64, rand: &str, k: &str| {
        let auth = vod_auth::url_auth::sign_type_a(&path, ts, rand, "0", k);
        format!("{}{path}?auth_key={auth}", h.base)
    };
    let r = h.http.get(signed(now, "0", key)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-cache"), "MISS");
    r.bytes().await.unwrap();
    h.idle().await;
    // Another auth_key for the same object: the same cache entry.
    let r = h
        .http
        .get(signed(now, "477b3bbc253f467b8def6711128c7bec", key))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-cache"), "HIT");
    let expired = h.http.get(signed(now - 3600, "0", key)).send().await.unwrap();
    assert_eq!(expired.status(), 403);
    assert!(expired.text().await.unwrap().contains("expired"));
    let wrong = h.http.get(signed(now, "0", "other-key")).send().await.unwrap();
    assert_eq!(wrong.status(), 403);
    let missing = h.http.get(h.url("auth/v.mp4")).send().await.unwrap();
    assert_eq!(missing.status(), 403);
    let malformed = h
        .http
        .get(format!("{}?auth_key=nonsense", h.url("auth/v.mp4")))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 403);
    // A signature for another path does not open this one.
    h.put("auth/other.mp4", bytes(10, 13)).await;
    let auth = vod_auth::url_auth::sign_type_a(&path, now, "0", "0", key);
    let r = h
        .http
        .get(format!("{}?auth_key={auth}", h.url("auth/other.mp4")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(h.reads(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_tier_streams_hits_without_the_memory_tier() {
    let h = Harness::with(|c| c.memory_bytes = 0).await;
    let body = bytes(1_500_000, 14);
    h.put("disk/seg.ts", body.clone()).await;
    h.fetch("disk/seg.ts").await;
    h.idle().await;
    let (cache, got) = h.fetch("disk/seg.ts").await;
    assert_eq!(cache, "HIT");
    assert!(got == body);
    for (start, end) in [(0, 524_287), (524_280, 1_100_000), (1_499_000, 1_499_999)] {
        let r = h
            .http
            .get(h.url("disk/seg.ts"))
            .header("range", format!("bytes={start}-{end}"))
            .send()
            .await
            .unwrap();
        assert_eq!((r.status().as_u16(), header(&r, "x-cache")), (206, "HIT".into()));
        assert!(r.bytes().await.unwrap() == body[start..=end], "{start}-{end}");
    }
    assert_eq!(h.read_bytes(), 1_500_000);
}
