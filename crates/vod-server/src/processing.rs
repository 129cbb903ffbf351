//! Wiring of the processing jobs (`vod-processing`): the object store, tools and settings
//! they run with on this node.

use std::sync::Arc;

use vod_blob::{BlobStore, ObjectStore};
use vod_core::ports::MetaStore;
use vod_processing::Processing;

use crate::config::Config;

/// The processing context of this node; `None` (logged) when processing is off or the
/// object store cannot be opened.
pub fn context(config: &Config, store: &Arc<dyn MetaStore>) -> Option<Arc<Processing>> {
    if !config.processing.enabled {
        return None;
    }
    let blobs = match BlobStore::open(&config.storage_url, &config.data_dir.join("objects")) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "processing disabled: object storage");
            return None;
        }
    };
    Some(Arc::new(Processing {
        store: store.clone(),
        objects: Arc::new(ObjectStore::new(blobs, store.clone())),
        media: config.gateway.upload.clone(),
        callbacks: config.callbacks.clone(),
        config: config.processing.clone(),
        tools: vod_media::Tools::new(&config.processing.ffmpeg, &config.processing.ffprobe),
        tmp_dir: config.data_dir.join("tmp").join("processing"),
    }))
}

/// Warns at start-up when ffmpeg or ffprobe cannot be run (processing jobs would retry
/// until they give up).
pub async fn check_tools(config: vod_processing::ProcessingConfig) {
    if !config.enabled {
        return;
    }
    let tools = vod_media::Tools::new(&config.ffmpeg, &config.ffprobe);
    if !tools.available().await {
        tracing::warn!(
            ffmpeg = %config.ffmpeg,
            ffprobe = %config.ffprobe,
            "ffmpeg/ffprobe cannot be run: uploads will not be probed or transcoded until they are installed"
        );
    }
}
