//! Uploads what the tools produced into the media's key space and turns it into stream
//! rows. Layout in the media's bucket: `<prefix>streams/<run>/<file>` for transcode outputs
//! (HLS playlists keep their segment directories, so relative references stay valid) and
//! `<prefix>snapshots/<run>/<file>` for snapshots, where `<prefix>` is `sv/<id>/`
//! (`ice/<id>/`) and `<run>` the job id. Written objects are marked as reported: they are
//! outputs, not uploads the media library must hear of.

use std::path::Path;

use bytes::Bytes;
use futures::Stream;
use tokio::io::AsyncReadExt;
use vod_blob::objects::ObjectWrite;
use vod_core::model::Media;
use vod_core::model::media::object_prefix_of;

use crate::Processing;

/// The Content-Type of an output file by extension.
pub fn content_type_of(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("").to_ascii_lowercase().as_str() {
        "mp4" => "video/mp4",
        "m3u8" => "application/vnd.apple.mpegurl",
        "ts" => "video/mp2t",
        "mp3" => "audio/mpeg",
        "flv" => "video/x-flv",
        "webm" => "video/webm",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

/// The key prefix of one run's outputs: `<prefix><area>/<run>/`.
pub fn run_prefix(media: &Media, area: &str, run: &str) -> String {
    format!("{}{area}/{run}/", object_prefix_of(media.scope, &media.media_id))
}

/// The key of `file` (under `root`) below `prefix`, with `/` separators.
pub fn key_for(prefix: &str, root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap_or(file);
    let rel: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    format!("{prefix}{}", rel.join("/"))
}

/// Stores a local file as object `bucket/key` of the media's account; returns its size.
pub async fn upload_file(p: &Processing, media: &Media, bucket: &str, key: &str, file: &Path) -> Result<u64, String> {
    let handle = tokio::fs::File::open(file)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let write = ObjectWrite {
        bucket: bucket.to_string(),
        key: key.to_string(),
        account_id: media.account_id.clone(),
        content_type: content_type_of(key).to_string(),
        media_id: None,
    };
    let object = p
        .objects
        .put_object(&write, None, file_stream(handle))
        .await
        .map_err(|e| format!("storing {bucket}/{key}: {e}"))?;
    p.store
        .mark_object_notified(&object.object_id)
        .await
        .map_err(|e| format!("storing {bucket}/{key}: {e}"))?;
    Ok(object.size)
}

/// A file as a stream of 1 MiB chunks.
fn file_stream(file: tokio::fs::File) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures::stream::try_unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 1 << 20];
        let mut filled = 0;
        while filled < buf.len() {
            let n = file.read(&mut buf[filled..]).await?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            return Ok(None);
        }
        buf.truncate(filled);
        Ok(Some((Bytes::from(buf), file)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_types() {
        let root = Path::new("/w/out");
        assert_eq!(
            key_for("sv/m/streams/j/", root, Path::new("/w/out/LD/seg-00000.ts")),
            "sv/m/streams/j/LD/seg-00000.ts"
        );
        assert_eq!(content_type_of("a/LD.M3U8"), "application/vnd.apple.mpegurl");
        assert_eq!(content_type_of("x.ts"), "video/mp2t");
        assert_eq!(content_type_of("noext"), "application/octet-stream");
    }
}
