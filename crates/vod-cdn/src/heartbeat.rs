//! Edge node registration: a node that runs an edge announces its control URL in the
//! shared database every `heartbeat_secs`; refresh jobs reach the nodes seen within
//! `edge_live_secs`.

use std::sync::Arc;
use std::time::Duration;

use vod_core::CoreResult;
use vod_core::ports::MetaStore;

/// Announces the edge once (call at start, before serving).
pub async fn register(store: &dyn MetaStore, node_id: &str, control_url: &str) -> CoreResult<()> {
    store.upsert_edge_node(node_id, control_url, vod_core::now_ms()).await
}

/// Announces the edge every `every` until `shutdown` resolves, then removes it from the
/// registry (a stopped node is not waited for by refresh jobs). Failed announcements are
/// logged and retried on the next tick.
pub fn spawn(
    store: Arc<dyn MetaStore>,
    node_id: String,
    control_url: String,
    every: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tick.tick() => {
                    if let Err(e) = register(store.as_ref(), &node_id, &control_url).await {
                        tracing::warn!(error = %e, node = %node_id, "edge heartbeat failed");
                    }
                }
            }
        }
        if let Err(e) = store.remove_edge_node(&node_id).await {
            tracing::warn!(error = %e, node = %node_id, "cannot remove the edge from the registry");
        }
    })
}
