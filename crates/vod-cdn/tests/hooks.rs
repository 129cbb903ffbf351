//! Purge hooks: a real Varnish (Debian package `varnish`) in front of a real edge — a
//! refresh purges both, so a player behind Varnish gets the new bytes (PURGE for files,
//! BAN for directories); and a hook that refuses (4xx) or is down (5xx) fails or retries
//! the URL. The Varnish tests print SKIPPED without `varnishd` and fail under CI=true.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use common::*;
use vod_cdn::HookMethod;
use vod_core::model::refresh::{
    MediaRefreshStatus, RefreshObjectType, RefreshTaskStatus, RefreshTaskType, plan_tasks, refresh_job,
};

const VCL: &str = r#"vcl 4.1;
backend default { .host = "127.0.0.1"; .port = "EDGE_PORT"; }
sub vcl_recv {
    if (req.method == "PURGE") { return (purge); }
    if (req.method == "BAN") {
        ban("req.url ~ ^" + req.url);
        return (synth(200, "Banned"));
    }
}
sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Varnish-Cache = "HIT";
    } else {
        set resp.http.X-Varnish-Cache = "MISS";
    }
}
"#;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// `varnishd` on PATH or in /usr/sbin; a loud skip (or, in CI, a failure) otherwise.
fn varnishd(test: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("varnishd"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let found = on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin/varnishd")])
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            !in_ci(),
            "varnishd is missing but CI is set: install the Debian package `varnish` ({test})"
        );
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "\nSKIPPED (no varnishd; apt-get install varnish): {test}"
        );
    }
    found
}

/// A Varnish listening on 127.0.0.1 with `edge_base` as its backend; stopped on drop.
struct Varnish {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Varnish {
    async fn start(bin: &PathBuf, edge_base: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let edge_port = edge_base.rsplit(':').next().unwrap();
        let vcl = dir.path().join("default.vcl");
        std::fs::write(&vcl, VCL.replace("EDGE_PORT", edge_port)).unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new(bin)
            .args(["-F", "-j", "none", "-s", "malloc,32m", "-p", "default_ttl=3600"])
            .arg("-n")
            .arg(dir.path().join("work"))
            .arg("-a")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-f")
            .arg(&vcl)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start varnishd");
        let v = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        for _ in 0..200 {
            if http.head(format!("{}/", v.base)).send().await.is_ok() {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("varnishd did not start listening on {}", v.base);
    }

    /// GET through Varnish: (Varnish's X-Varnish-Cache, the edge's X-Cache, body).
    async fn get(&self, key: &str) -> (String, String, Vec<u8>) {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = http.get(format!("{}/{BUCKET}/{key}", self.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET {key} through varnish");
        let h = |n: &str| {
            r.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let (v, e) = (h("x-varnish-cache"), h("x-cache"));
        (v, e, r.bytes().await.unwrap().to_vec())
    }
}

impl Drop for Varnish {
    fn drop(&mut self) {
        // SIGTERM lets the manager stop its cache child; SIGKILL if it lingers.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn refresh_purges_varnish_in_front_of_the_edge() {
    let Some(bin) = varnishd("hooks::refresh_purges_varnish_in_front_of_the_edge") else {
        return;
    };
    let w = World::new(1).await;
    let varnish = Varnish::start(&bin, &w.edges[0].base).await;
    let v1 = bytes(80_000, 1);
    w.put("sv/m/LD.mp4", v1.clone()).await;
    assert_eq!(
        varnish.get("sv/m/LD.mp4").await,
        ("MISS".into(), "MISS".into(), v1.clone())
    );
    w.idle(0).await;
    assert_eq!(varnish.get("sv/m/LD.mp4").await.0, "HIT");
    let v2 = bytes(60_000, 2);
    w.put("sv/m/LD.mp4", v2.clone()).await;
    assert_eq!(varnish.get("sv/m/LD.mp4").await.2, v1, "stale until refreshed");

    let cdn = w.cdn(|c| c.purge_hooks.urls = vec![varnish.base.clone()]);
    let (_, batch) = w
        .submit_media(RefreshTaskType::Refresh, &[w.url("sv/m/LD.mp4")], "")
        .await;
    w.run(&cdn, &batch, 1).await.unwrap();
    let r = w.store.media_refresh_of_batch(&batch).await.unwrap().unwrap();
    assert_eq!(r.status, MediaRefreshStatus::Success, "{}", r.error_message);
    assert_eq!(
        varnish.get("sv/m/LD.mp4").await,
        ("MISS".into(), "MISS".into(), v2),
        "both caches fetched the new version"
    );
}

#[tokio::test]
async fn directory_refresh_bans_in_varnish() {
    let Some(bin) = varnishd("hooks::directory_refresh_bans_in_varnish") else {
        return;
    };
    let w = World::new(1).await;
    let varnish = Varnish::start(&bin, &w.edges[0].base).await;
    for k in ["sv/d/1.ts", "sv/d/2.ts"] {
        w.put(k, bytes(5000, 3)).await;
        varnish.get(k).await;
        w.idle(0).await;
        assert_eq!(varnish.get(k).await.0, "HIT");
    }
    let cdn = w.cdn(|c| {
        c.purge_hooks.urls = vec![varnish.base.clone()];
        c.purge_hooks.method = HookMethod::Ban;
    });
    let batch = vod_core::ids::hex_id();
    let dir = format!("{}/{BUCKET}/sv/d/", w.edges[0].base);
    let tasks = plan_tasks(
        ACCOUNT,
        &batch,
        &[(dir, RefreshObjectType::Directory)],
        vod_core::now_ms(),
    );
    w.store
        .submit_refresh(&[], &tasks, &[refresh_job(&batch, 3)])
        .await
        .unwrap();
    w.run(&cdn, &batch, 1).await.unwrap();
    for k in ["sv/d/1.ts", "sv/d/2.ts"] {
        assert_eq!(varnish.get(k).await.0, "MISS", "{k} banned");
    }
}

/// A hook server answering every request with `status`.
async fn answering(status: StatusCode) -> String {
    let app = Router::new().fallback(move || async move { status });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn refusing_hooks_fail_and_broken_hooks_retry() {
    let w = World::new(1).await;
    w.put("sv/m/x.mp4", bytes(100, 5)).await;
    let refusing = answering(StatusCode::METHOD_NOT_ALLOWED).await;
    let cdn = w.cdn(|c| c.purge_hooks.urls = vec![refusing.clone()]);
    let (_, batch) = w
        .submit_media(RefreshTaskType::Refresh, &[w.url("sv/m/x.mp4")], "")
        .await;
    w.run(&cdn, &batch, 1).await.unwrap();
    let r = w.store.media_refresh_of_batch(&batch).await.unwrap().unwrap();
    assert_eq!(
        (r.status, r.error_code.as_str()),
        (MediaRefreshStatus::Fail, "RefreshFailed")
    );
    assert!(r.error_message.contains("405"), "{}", r.error_message);

    let broken = answering(StatusCode::SERVICE_UNAVAILABLE).await;
    let not_found = answering(StatusCode::NOT_FOUND).await;
    let cdn = w.cdn(|c| c.purge_hooks.urls = vec![not_found.clone(), broken.clone()]);
    let (_, batch) = w
        .submit_media(RefreshTaskType::Refresh, &[w.url("sv/m/x.mp4")], "")
        .await;
    assert!(matches!(
        w.run(&cdn, &batch, 1).await,
        Err(vod_jobs::JobError::Retry { .. })
    ));
    w.run(&cdn, &batch, 3).await.unwrap();
    let tasks = w.store.refresh_tasks_of_batch(&batch).await.unwrap();
    assert_eq!(tasks[0].status, RefreshTaskStatus::Failed);
    assert!(tasks[0].description.contains("503"), "{}", tasks[0].description);
    assert!(!tasks[0].description.contains("404"), "404 = nothing cached = fine");
}
