//! Copies a media's current source from the object store into a job's work directory, so
//! ffprobe and ffmpeg read a local file. An m3u8 source comes with the segments its playlist
//! names (relative paths inside the media's `ObjectPrefix`), laid out as in the bucket.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use vod_core::model::Media;
use vod_jobs::JobError;

use crate::Processing;

/// Why a source could not be copied.
#[derive(Debug)]
pub enum SourceError {
    /// The source object is gone (deleted or replaced mid-way): nothing to process.
    Missing(String),
    /// The media has no source in our storage (an external URL registered with ICE).
    External,
    /// Storage or disk trouble: try again.
    Io(String),
}

impl From<SourceError> for JobError {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Missing(m) => JobError::abort(format!("source missing: {m}")),
            SourceError::External => JobError::abort("the source is an external URL"),
            SourceError::Io(m) => JobError::retry(m),
        }
    }
}

/// Copies the source of `media` into `dir`; returns the local path of the main file.
pub async fn fetch(p: &Processing, media: &Media, dir: &Path) -> Result<PathBuf, SourceError> {
    if media.object_key.is_empty() || media.storage_location.is_empty() {
        return Err(SourceError::External);
    }
    let bucket = media.storage_location.as_str();
    let name = media.object_key.rsplit('/').next().unwrap_or("source");
    let main = dir.join(format!("source-{name}"));
    let size = copy(p, bucket, &media.object_key, &main).await?;
    if media.object_key.ends_with(".m3u8") && size <= 4 << 20 {
        let playlist = tokio::fs::read_to_string(&main)
            .await
            .map_err(|e| SourceError::Io(format!("reading the playlist: {e}")))?;
        let base = media.object_key.rsplit_once('/').map_or("", |(d, _)| d);
        for entry in segment_entries(&playlist) {
            let key = if base.is_empty() {
                entry.clone()
            } else {
                format!("{base}/{entry}")
            };
            let local = dir.join(&entry);
            if let Some(parent) = local.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| SourceError::Io(e.to_string()))?;
            }
            // A missing segment is left out: ffmpeg reports what it cannot read.
            if let Err(SourceError::Io(e)) = copy(p, bucket, &key, &local).await {
                return Err(SourceError::Io(e));
            }
        }
    }
    Ok(main)
}

/// The relative segment (or sub-playlist) paths a playlist names; absolute URLs and paths
/// escaping the playlist's directory are skipped.
pub fn segment_entries(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| !l.contains("://") && !l.starts_with('/') && !l.split('/').any(|s| s == ".."))
        .map(|l| l.split(['?', '#']).next().unwrap_or(l).to_string())
        .collect()
}

/// Streams one object to `path`; returns its size.
async fn copy(p: &Processing, bucket: &str, key: &str, path: &Path) -> Result<u64, SourceError> {
    let object = p
        .objects
        .get(bucket, key)
        .await
        .map_err(|e| SourceError::Io(e.to_string()))?
        .ok_or_else(|| SourceError::Missing(format!("{bucket}/{key}")))?;
    let mut body = p
        .objects
        .read(&object, 0..object.size)
        .await
        .map_err(|e| SourceError::Io(e.to_string()))?;
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| SourceError::Io(format!("{}: {e}", path.display())))?;
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| SourceError::Io(format!("reading {bucket}/{key}: {e}")))?;
        written += chunk.len() as u64;
        file.write_all(&chunk)
            .await
            .map_err(|e| SourceError::Io(format!("{}: {e}", path.display())))?;
    }
    file.flush().await.map_err(|e| SourceError::Io(e.to_string()))?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::segment_entries;

    #[test]
    fn playlist_entries() {
        let pl = "#EXTM3U\n#EXTINF:6,\nseg-0.ts\n#EXTINF:6,\nsub/seg-1.ts?x=1\nhttp://evil/x.ts\n/abs.ts\n../up.ts\n";
        assert_eq!(segment_entries(pl), vec!["seg-0.ts", "sub/seg-1.ts"]);
    }
}
