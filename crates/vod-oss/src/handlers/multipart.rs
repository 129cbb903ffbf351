//! Multipart uploads (InitiateMultipartUpload, UploadPart, CompleteMultipartUpload,
//! AbortMultipartUpload, ListParts, ListMultipartUploads) for the one request handler.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use vod_blob::{MAX_PART_SIZE, MAX_PARTS};
use vod_core::model::MultipartUpload;
use vod_core::ports::UploadListQuery;

use super::{OssResult, Req, content_length, content_md5, encode_key, iso8601_ms, quoted, write_of, xml_response};
use crate::OssService;
use crate::auth::Caller;
use crate::error::OssError;
use crate::xml::Doc;

/// Largest CompleteMultipartUpload body (10,000 parts fit comfortably).
const MAX_COMPLETE_BODY: usize = 4 << 20;

pub(super) async fn initiate(svc: &Arc<OssService>, r: &Req, caller: &Caller) -> OssResult {
    let upload = svc.objects.initiate_multipart(&write_of(r, caller)).await?;
    let mut doc = Doc::new("InitiateMultipartUploadResult");
    doc.el("Bucket", &upload.bucket)
        .el("Key", &encode_key(r, &upload.key))
        .el("UploadId", &upload.upload_id);
    if r.url_encoded() {
        doc.el("EncodingType", "url");
    }
    Ok(xml_response(
        StatusCode::OK,
        doc.finish("InitiateMultipartUploadResult"),
    ))
}

/// The upload named by `uploadId`, when it belongs to this bucket, key and account.
async fn load_upload(svc: &OssService, r: &Req, caller: &Caller) -> Result<MultipartUpload, OssError> {
    let id = r.param("uploadId").unwrap_or_default();
    match svc.objects.upload(id).await {
        Ok(u)
            if Some(u.bucket.as_str()) == r.bucket.as_deref()
                && u.key == r.key
                && u.account_id == caller.account_id =>
        {
            Ok(u)
        }
        Ok(_) | Err(vod_blob::ObjectError::NoSuchUpload) => Err(OssError::no_such_upload(id)),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn upload_part(svc: &Arc<OssService>, r: &Req, caller: &Caller, body: Body) -> OssResult {
    let part_number = r
        .param("partNumber")
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| (1..=MAX_PARTS).contains(n))
        .ok_or_else(|| {
            OssError::invalid_argument("Part number must be an integer between 1 and 10000, inclusive.")
                .with("ArgumentName", "partNumber")
                .with("ArgumentValue", r.param("partNumber").unwrap_or_default())
        })?;
    if content_length(r).is_some_and(|n| n > MAX_PART_SIZE) {
        return Err(vod_blob::ObjectError::EntityTooLarge(MAX_PART_SIZE).into());
    }
    let md5 = content_md5(r)?;
    let upload = load_upload(svc, r, caller).await?;
    let part = svc
        .objects
        .upload_part(&upload, part_number, md5, body.into_data_stream())
        .await
        .map_err(|e| match e {
            vod_blob::ObjectError::NoSuchUpload => OssError::no_such_upload(&upload.upload_id),
            e => e.into(),
        })?;
    let md5_b64 = hex::decode(&part.md5_hex)
        .map(|b| STANDARD.encode(b))
        .unwrap_or_default();
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("etag", quoted(&part.md5_hex.to_ascii_uppercase()))
        .header("x-oss-hash-crc64ecma", part.crc64.to_string())
        .header("content-md5", md5_b64)
        .header("content-length", "0")
        .body(Body::empty())
        .unwrap_or_default())
}

pub(super) async fn complete(svc: &Arc<OssService>, r: &Req, caller: &Caller, body: Body) -> OssResult {
    let upload = load_upload(svc, r, caller).await?;
    let bytes = axum::body::to_bytes(body, MAX_COMPLETE_BODY)
        .await
        .map_err(|_| OssError::invalid_argument("The CompleteMultipartUpload body is too large or incomplete."))?;
    let complete_all = r
        .header("x-oss-complete-all")
        .is_some_and(|v| v.eq_ignore_ascii_case("yes"));
    let requested: Vec<(u32, String)> = if complete_all {
        if !bytes.is_empty() {
            return Err(OssError::invalid_argument(
                "x-oss-complete-all: yes takes no request body.",
            ));
        }
        let parts = svc
            .objects
            .meta()
            .list_upload_parts(&upload.upload_id, 0, 0)
            .await
            .map_err(|e| OssError::from(vod_blob::ObjectError::from(e)))?;
        parts.into_iter().map(|p| (p.part_number, p.md5_hex)).collect()
    } else {
        crate::xml::parse_complete(&bytes)
            .filter(|p| !p.is_empty())
            .ok_or_else(OssError::malformed_xml)?
    };
    let object = svc
        .objects
        .complete_multipart(&upload, &requested)
        .await
        .map_err(|e| match e {
            vod_blob::ObjectError::NoSuchUpload => OssError::no_such_upload(&upload.upload_id),
            vod_blob::ObjectError::InvalidArgument(_) => OssError::malformed_xml(),
            e => e.into(),
        })?;
    let location = format!(
        "{}/{}/{}",
        svc.config.public_endpoint.trim_end_matches('/'),
        object.bucket,
        vod_auth::percent::pop_encode_path(&object.key)
    );
    let mut doc = Doc::new("CompleteMultipartUploadResult");
    if r.url_encoded() {
        doc.el("EncodingType", "url");
    }
    doc.el("Location", &location)
        .el("Bucket", &object.bucket)
        .el("Key", &encode_key(r, &object.key))
        .el("ETag", &quoted(&object.etag));
    let mut resp = xml_response(StatusCode::OK, doc.finish("CompleteMultipartUploadResult"));
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&quoted(&object.etag)) {
        h.insert("etag", v);
    }
    if let Ok(v) = HeaderValue::from_str(&object.crc64.to_string()) {
        h.insert("x-oss-hash-crc64ecma", v);
    }
    svc.completed(object).await;
    Ok(resp)
}

pub(super) async fn abort(svc: &Arc<OssService>, r: &Req, caller: &Caller) -> OssResult {
    let upload = load_upload(svc, r, caller).await?;
    svc.objects
        .abort_multipart(&upload.upload_id)
        .await
        .map_err(|e| match e {
            vod_blob::ObjectError::NoSuchUpload => OssError::no_such_upload(&upload.upload_id),
            e => e.into(),
        })?;
    Ok(Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::empty())
        .unwrap_or_default())
}

pub(super) async fn list_parts(svc: &Arc<OssService>, r: &Req, caller: &Caller) -> OssResult {
    let upload = load_upload(svc, r, caller).await?;
    let marker: u32 = r
        .param("part-number-marker")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let max: u32 = r
        .param("max-parts")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1000)
        .clamp(1, 1000);
    let (parts, truncated) = svc.objects.list_parts(&upload.upload_id, marker, max).await?;
    let next = parts.last().map_or(marker, |p| p.part_number);
    let mut doc = Doc::new("ListPartsResult");
    if r.url_encoded() {
        doc.el("EncodingType", "url");
    }
    doc.el("Bucket", &upload.bucket)
        .el("Key", &encode_key(r, &upload.key))
        .el("UploadId", &upload.upload_id)
        .el("PartNumberMarker", &marker.to_string())
        .el("NextPartNumberMarker", &next.to_string())
        .el("MaxParts", &max.to_string())
        .el("IsTruncated", if truncated { "true" } else { "false" });
    for p in &parts {
        doc.open("Part")
            .el("PartNumber", &p.part_number.to_string())
            .el("LastModified", &iso8601_ms(p.last_modified))
            .el("ETag", &quoted(&p.md5_hex.to_ascii_uppercase()))
            .el("HashCrc64ecma", &p.crc64.to_string())
            .el("Size", &p.size.to_string())
            .close("Part");
    }
    Ok(xml_response(StatusCode::OK, doc.finish("ListPartsResult")))
}

pub(super) async fn list_uploads(svc: &Arc<OssService>, r: &Req, caller: &Caller) -> OssResult {
    let bucket = r.bucket.clone().unwrap_or_default();
    let max: u32 = r
        .param("max-uploads")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1000)
        .clamp(1, 1000);
    let query = UploadListQuery {
        prefix: r.param("prefix").unwrap_or_default().to_string(),
        key_marker: r.param("key-marker").unwrap_or_default().to_string(),
        upload_id_marker: r.param("upload-id-marker").unwrap_or_default().to_string(),
        limit: max + 1,
    };
    let mut uploads = svc.objects.list_uploads(&bucket, &query).await?;
    let truncated = uploads.len() > max as usize;
    uploads.truncate(max as usize);
    let (next_key, next_id) = uploads
        .last()
        .map(|u| (u.key.clone(), u.upload_id.clone()))
        .unwrap_or_default();
    // A scoped credential sees only the uploads of keys it covers (and of its account).
    uploads.retain(|u| u.account_id == caller.account_id && caller.covers(&bucket, &u.key));
    let mut doc = Doc::new("ListMultipartUploadsResult");
    if r.url_encoded() {
        doc.el("EncodingType", "url");
    }
    doc.el("Bucket", &bucket)
        .el("KeyMarker", &encode_key(r, &query.key_marker))
        .el("UploadIdMarker", &query.upload_id_marker)
        .el(
            "NextKeyMarker",
            &if truncated {
                encode_key(r, &next_key)
            } else {
                String::new()
            },
        )
        .el("NextUploadIdMarker", if truncated { &next_id } else { "" })
        .el("Delimiter", r.param("delimiter").unwrap_or_default())
        .el("Prefix", &encode_key(r, &query.prefix))
        .el("MaxUploads", &max.to_string())
        .el("IsTruncated", if truncated { "true" } else { "false" });
    for u in &uploads {
        doc.open("Upload")
            .el("Key", &encode_key(r, &u.key))
            .el("UploadId", &u.upload_id)
            .el("Initiated", &iso8601_ms(u.initiated_at))
            .close("Upload");
    }
    Ok(xml_response(StatusCode::OK, doc.finish("ListMultipartUploadsResult")))
}
