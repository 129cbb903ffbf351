//! A 64 MiB object streams through the edge on a miss (origin → cache file → player) and
//! again on a hit without the process's memory growing with its size. Alone in its own
//! test binary so other tests' allocations do not count.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{BUCKET, Harness, header};
use futures::StreamExt;
use vod_blob::ObjectWrite;

const SIZE: usize = 64 << 20;
const CHUNK: usize = 1 << 20;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn chunk(i: usize) -> Bytes {
    Bytes::from(vec![(i % 251) as u8; CHUNK])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_object_streams_without_memory_growth() {
    let h = Harness::with(|c| c.max_bytes = 256 << 20).await;
    let w = ObjectWrite {
        bucket: BUCKET.into(),
        key: "large/movie.mp4".into(),
        account_id: "acct".into(),
        content_type: "video/mp4".into(),
        media_id: None,
    };
    let body = futures::stream::iter((0..SIZE / CHUNK).map(|i| Ok::<_, std::io::Error>(chunk(i))));
    h.objects.put_object(&w, None, body).await.unwrap();

    for expect in ["MISS", "HIT"] {
        let baseline = rss_bytes();
        let mut peak = baseline;
        let r = h.get("large/movie.mp4").await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-cache"), expect);
        let mut stream = r.bytes_stream();
        let mut offset = 0usize;
        while let Some(part) = stream.next().await {
            let part = part.unwrap();
            // Every byte is the one the origin holds at that offset.
            for (i, b) in part.iter().enumerate().step_by(4099) {
                assert_eq!(*b, ((offset + i) / CHUNK % 251) as u8, "byte {}", offset + i);
            }
            offset += part.len();
            if offset % (8 << 20) < part.len() {
                peak = peak.max(rss_bytes());
                // A slow player: the edge must not buffer ahead of it in memory.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        assert_eq!(offset, SIZE);
        let growth = peak.saturating_sub(baseline);
        eprintln!("{expect}: baseline {} MiB, growth {} KiB", baseline >> 20, growth >> 10);
        assert!(
            growth < 32 << 20,
            "{expect}: RSS grew by {} MiB while streaming a 64 MiB object",
            growth >> 20
        );
        h.idle().await;
    }
    assert_eq!(h.read_bytes(), SIZE as u64, "the object was read from the origin once");
}
