//! `vodstack serve`: opens the metadata store, bootstraps the account, starts the API
//! listener (with `/metrics`), prints the endpoints, and shuts down on SIGINT/SIGTERM.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::serve::ListenerExt;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use vod_api::AppState;
use vod_core::ports::MetaStore;
use vod_core::service::identity::{Bootstrap, bootstrap};

use crate::config::{Config, mask_url_password};

pub async fn serve(mut config: Config) -> anyhow::Result<()> {
    // Signal handlers first: a SIGTERM during start-up must still end in a graceful stop.
    let shutdown = install_shutdown()?;
    init_tracing(&config.log);
    let metrics = install_metrics()?;
    std::fs::create_dir_all(&config.data_dir)?;
    let db_url = config.effective_database_url();
    let store = open_store(&db_url).await?;
    let boot = bootstrap(store.as_ref(), config.root_key()).await?;
    // Bound first: the upload endpoint the gateway hands out follows the bound address.
    let oss_listener = crate::oss::bind(&mut config).await?;
    // Likewise, play URLs follow the bound edge address.
    let edge_listener = crate::edge::bind(&mut config).await?;
    let state = AppState::new(store.clone(), config.gateway.clone(), boot.master_key.clone()).await?;
    // The media library stores its event deliveries with its state changes (vod-callbacks).
    state
        .media()
        .set_event_planner(Arc::new(vod_callbacks::CallbackPlanner::new(
            store.clone(),
            config.callbacks.clone(),
        )));
    state.set_url_upload_config(config.url_upload.clone());
    state.set_refresh_quotas(config.cdn.quotas.clone());
    let cluster_throttle = state.0.throttle.is_cluster_wide();
    let upload_events: Arc<dyn vod_core::uploads::UploadEvents> = state.media().clone();
    let oss = crate::oss::start(
        oss_listener,
        &config,
        store.clone(),
        boot.master_key.clone(),
        upload_events,
    )
    .await?;
    let stop_oss = oss.stopper();
    let edge = match edge_listener {
        Some(l) => Some(crate::edge::start(l, &config, store.clone(), &boot.master_key).await?),
        None => None,
    };
    let stop_edge = edge.as_ref().map(crate::edge::Running::stopper);
    let heartbeat = edge.as_ref().map(|e| {
        let mut stopped = e.stopper().subscribe();
        vod_cdn::heartbeat::spawn(
            store.clone(),
            e.control_url(&config),
            e.control_url(&config),
            Duration::from_secs(config.cdn.heartbeat_secs),
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        )
    });

    let wake_state = state.clone();
    let app = vod_api::gateway(state).route("/metrics", get(move || std::future::ready(metrics.render())));
    let listener = TcpListener::bind(&config.api_addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.api_addr))?;
    let addr = listener.local_addr()?;
    print_banner(&config, &db_url, &boot, &addr.to_string(), cluster_throttle);
    oss.print_line();
    if let Some(e) = &edge {
        e.print_line();
    }

    // Job workers (on by default) stop with the listener on SIGINT/SIGTERM.
    let (stop_jobs, jobs_stopped) = tokio::sync::watch::channel(false);
    let jobs = vod_jobs::Runtime::new(
        store.clone(),
        config.jobs.clone(),
        crate::jobs::handlers(&config, &store, &boot.master_key),
    );
    print_jobs_line(&config, &jobs);
    // Off the start-up path: a missing ffmpeg is only worth a warning.
    tokio::spawn(crate::processing::check_tools(config.processing.clone()));
    wake_state.set_job_wake(jobs.notifier());
    let workers = jobs.start(jobs_stopped);

    let listener = listener.tap_io(|tcp| {
        // Responses are written in one go; don't let Nagle hold them back.
        let _ = tcp.set_nodelay(true);
    });
    let served = axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .with_graceful_shutdown(async move {
        wait_for_shutdown(shutdown).await;
        let _ = stop_jobs.send(true);
        let _ = stop_oss.send(true);
        if let Some(s) = stop_edge {
            let _ = s.send(true);
        }
    })
    .await;
    oss.stop().await;
    if let Some(e) = edge {
        e.stop().await;
    }
    if let Some(h) = heartbeat {
        let _ = h.await;
    }
    if let Err(e) = workers.await {
        tracing::error!(error = %e, "the job runtime ended abnormally");
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Opens the metadata store named by `url` (migrations run on open).
pub async fn open_store(url: &str) -> anyhow::Result<Arc<dyn MetaStore>> {
    vod_db::open(url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open metadata store {}: {e}", mask_url_password(url)))
}

fn print_banner(config: &Config, db_url: &str, boot: &Bootstrap, api: &str, cluster_throttle: bool) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "vodstack {} is running", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(
        out,
        "  API        http://{api}   (VOD 2017-03-21, ICE 2020-11-09; metrics at /metrics)"
    );
    let _ = writeln!(out, "  metadata   {}", mask_url_password(db_url));
    let _ = writeln!(out, "  data dir   {}", config.data_dir.display());
    let _ = writeln!(
        out,
        "  throttle   {}",
        if cluster_throttle {
            "cluster-wide (redis)"
        } else {
            "in-process"
        }
    );
    let _ = writeln!(out, "  account    {}", boot.account.id);
    let _ = writeln!(out, "  root AccessKeyId      {}", boot.root_key.id);
    if boot.root_key_generated {
        let _ = writeln!(out, "  root AccessKeySecret  {}", boot.root_key.secret);
        let _ = writeln!(
            out,
            "  (the secret was generated now and is shown only this once; keep it)"
        );
    }
    let _ = out.flush();
}

fn print_jobs_line(config: &Config, jobs: &vod_jobs::Runtime) {
    let line = if !config.jobs.enabled {
        "off on this node (jobs.enabled = false)".to_string()
    } else if jobs.kinds().is_empty() {
        "no job kinds registered".to_string()
    } else {
        format!("worker {} running {}", jobs.worker_id(), jobs.kinds().join(", "))
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "  jobs       {line}");
    let _ = out.flush();
}

fn init_tracing(filter: &str) {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| filter.to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}

fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new().install_recorder()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// Registers SIGINT and SIGTERM handlers now and returns a receiver that turns true on
/// the first of them.
fn install_shutdown() -> anyhow::Result<tokio::sync::watch::Receiver<bool>> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            let _ = tx.send(true);
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = tx.send(true);
    });
    Ok(rx)
}

async fn wait_for_shutdown(mut rx: tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
    tracing::info!("shutdown requested; finishing in-flight requests");
}
