//! ICE media through the gateway: GetMediaInfo (JSON types of the SDK model: strings
//! except CateId; ICE status names; FileInfoList) and RegisterMediaInfo (objects of our
//! bucket, vod:// media, external URLs, ClientToken, duplicate InputURL, Overwrite).

mod common;
mod media_util;

use common::*;
use media_util::*;
use serde_json::{Value, json};
use vod_core::model::media::MediaStatus;

async fn create_media(h: &Harness) -> (String, Value) {
    let r = ice(
        h,
        &[
            ("Action", "CreateUploadMedia"),
            ("FileInfo", r#"{"Type":"video","Name":"clip","Size":"77","Ext":"mp4"}"#),
            (
                "MediaMetaData",
                r#"{"Title":"clip title","BusinessType":"opening","Tags":"t1"}"#,
            ),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    (
        j["MediaId"].as_str().unwrap().to_string(),
        decode(j["UploadAddress"].as_str().unwrap()),
    )
}

#[tokio::test]
async fn get_media_info_before_and_after_upload() {
    let h = media_harness().await;
    let cate = ice(&h, &[("Action", "AddCategory"), ("CateName", "ice-cat")])
        .await
        .json()["Category"]["CateId"]
        .as_i64()
        .unwrap();
    let (id, addr) = create_media(&h).await;
    let r = ice(&h, &[("Action", "GetMediaInfo"), ("MediaId", &id)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let info = &r.json()["MediaInfo"];
    assert_eq!(info["MediaId"], id.as_str());
    let b = &info["MediaBasicInfo"];
    assert_eq!(
        (
            b["Status"].as_str(),
            b["MediaType"].as_str(),
            b["BusinessType"].as_str()
        ),
        (Some("Init"), Some("video"), Some("opening"))
    );
    assert_eq!(
        (b["Title"].as_str(), b["MediaTags"].as_str(), b["Source"].as_str()),
        (Some("clip title"), Some("t1"), Some("oss"))
    );
    let f = &info["FileInfoList"][0]["FileBasicInfo"];
    assert_eq!(
        (f["FileStatus"].as_str(), f["FileName"].as_str()),
        (Some("Init"), Some("clip.mp4"))
    );

    upload_to(&h, &addr, 77, "clip", &id).await;
    let cate_s = cate.to_string();
    let r = vod(&h, &[("Action", "UpdateVideoInfo"), ("VideoId", &id), ("Title", "x")]).await;
    assert_error(&r, 404, "InvalidVideo.NotFound");
    let r = call(
        &h.app,
        v3(
            "GetMediaInfo",
            "2020-11-09",
            &[("MediaId", &id)],
            SECRET,
            &nonce(),
            &now_iso(),
        ),
    )
    .await;
    let info = r.json()["MediaInfo"].clone();
    let b = &info["MediaBasicInfo"];
    assert_eq!(b["Status"], "Preparing", "uploaded, processing pending");
    let f = &info["FileInfoList"][0]["FileBasicInfo"];
    assert_eq!(f["FileSize"], json!("77"), "FileSize is a string in ICE");
    assert_eq!(
        (
            f["FileStatus"].as_str(),
            f["FileType"].as_str(),
            f["FormatName"].as_str()
        ),
        (Some("Normal"), Some("source_file"), Some("mp4"))
    );
    assert_eq!(
        f["FileUrl"],
        format!("http://127.0.0.1:9000/outin-vodstack/ice/{id}/{id}.mp4")
    );
    assert_eq!(info["FileInfoList"][0]["VideoStreamInfoList"], json!([]));

    // CateId is the one integer; categories come from the ICE tree.
    let r = ice(
        &h,
        &[
            ("Action", "RegisterMediaInfo"),
            ("InputURL", "https://example.com/v/a.mp4"),
            ("CateId", &cate_s),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let reg = r.json()["MediaId"].as_str().unwrap().to_string();
    let b =
        ice(&h, &[("Action", "GetMediaInfo"), ("MediaId", &reg)]).await.json()["MediaInfo"]["MediaBasicInfo"].clone();
    assert_eq!(
        (b["CateId"].clone(), b["CateName"].as_str()),
        (json!(cate), Some("ice-cat"))
    );
    assert_eq!(b["InputURL"], "https://example.com/v/a.mp4");

    // By InputURL: registered URLs, and FileURLs of uploaded media.
    let by_url = ice(
        &h,
        &[("Action", "GetMediaInfo"), ("InputURL", "https://example.com/v/a.mp4")],
    )
    .await;
    assert_eq!(by_url.json()["MediaInfo"]["MediaId"], reg.as_str());
    let oss = format!("oss://outin-vodstack/ice/{id}/{id}.mp4");
    let by_oss = ice(&h, &[("Action", "GetMediaInfo"), ("InputURL", &oss)]).await;
    assert_eq!(by_oss.json()["MediaInfo"]["MediaId"], id.as_str());

    let r = call(
        &h.app,
        v1(
            "POST",
            &[("Action", "GetMediaInfo"), ("MediaId", &id)],
            AK,
            SECRET,
            &[("Version", "2020-11-09"), ("Format", "XML")],
        ),
    )
    .await;
    assert!(r.body.contains("<GetMediaInfoResponse><RequestId>"), "{}", r.body);
    assert!(r.body.contains("<FileInfoList><FileBasicInfo>"), "{}", r.body);

    assert_error(
        &ice(&h, &[("Action", "GetMediaInfo"), ("MediaId", "nope")]).await,
        404,
        "InvalidVideo.NotFound",
    );
    assert_error(&ice(&h, &[("Action", "GetMediaInfo")]).await, 400, "MissingParameter");
    assert_error(
        &ice(&h, &[("Action", "GetMediaInfo"), ("InputURL", "ftp://x/y")]).await,
        400,
        "InvalidParameter",
    );
}

#[tokio::test]
async fn register_media_info_forms() {
    let h = media_harness().await;
    // An object already in our bucket becomes the source at once.
    upload(&h, "outin-vodstack", "imports/talk.mp4", 4321, "talk", None).await;
    let r = ice(
        &h,
        &[
            ("Action", "RegisterMediaInfo"),
            ("InputURL", "oss://outin-vodstack/imports/talk.mp4"),
            ("Title", "talk"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let keys: Vec<String> = r.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["RequestId", "MediaId"]);
    let talk = r.json()["MediaId"].as_str().unwrap().to_string();
    let m = media(&h, &talk).await;
    assert_eq!(
        (m.status, m.size, m.media_type.as_str()),
        (MediaStatus::UploadSucc, Some(4321), "video")
    );
    assert_eq!(m.md5.as_deref(), Some(md5_of("talk").as_str()));
    assert_eq!(jobs_for(&h, "media.probe", &talk).await.len(), 1);
    assert!(
        jobs_for(&h, "callback.http", &talk).await.is_empty(),
        "registration is no upload: no FileUploadComplete"
    );

    // A repeated InputURL returns the registered media; Overwrite replaces it.
    let again = ice(
        &h,
        &[
            ("Action", "RegisterMediaInfo"),
            ("InputURL", "oss://outin-vodstack/imports/talk.mp4"),
        ],
    )
    .await;
    assert_eq!(again.json()["MediaId"], talk.as_str());
    let fresh = ice(
        &h,
        &[
            ("Action", "RegisterMediaInfo"),
            ("InputURL", "oss://outin-vodstack/imports/talk.mp4"),
            ("Overwrite", "true"),
        ],
    )
    .await;
    let fresh_id = fresh.json()["MediaId"].as_str().unwrap().to_string();
    assert_ne!(fresh_id, talk);
    assert!(h.state.store().get_media_by_id(&talk).await.unwrap().is_none());

    // A ClientToken makes the call idempotent.
    let p = [
        ("Action", "RegisterMediaInfo"),
        ("InputURL", "https://example.com/b.png"),
        ("ClientToken", "0123456789abcdef0123456789abcdef"),
    ];
    let first = ice(&h, &p).await.json()["MediaId"].as_str().unwrap().to_string();
    let second = ice(&h, &p).await.json()["MediaId"].as_str().unwrap().to_string();
    assert_eq!(first, second);
    let png = media(&h, &first).await;
    assert_eq!(
        (png.media_type.as_str(), png.status),
        ("image", MediaStatus::Normal),
        "images need no processing"
    );
    assert!(!png.title.is_empty(), "a title is made up from the date");

    // vod:// shares a VOD media's source and fills the fields not given.
    let (vid, addr, _) = create_video(&h, &[("Title", "vod title"), ("Description", "vod desc")]).await;
    upload_to(&h, &addr, 999, "vod-src", &vid).await;
    let url = format!("vod://{vid}");
    let r = ice(
        &h,
        &[
            ("Action", "RegisterMediaInfo"),
            ("InputURL", &url),
            ("BusinessType", "general"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let from_vod = media(&h, r.json()["MediaId"].as_str().unwrap()).await;
    assert_eq!(
        (from_vod.title.as_str(), from_vod.description.as_str(), from_vod.size),
        ("vod title", "vod desc", Some(999))
    );
    assert_eq!(from_vod.status, MediaStatus::UploadSucc);
    let b = ice(&h, &[("Action", "GetMediaInfo"), ("MediaId", &from_vod.media_id)])
        .await
        .json()["MediaInfo"]["MediaBasicInfo"]
        .clone();
    assert_eq!(b["Source"], "vod");

    // Checks.
    for (params, code) in [
        (vec![], "MissingParameter"),
        (vec![("InputURL", "ftp://x/y.mp4")], "InvalidParameter"),
        (vec![("InputURL", "oss://bucket-only")], "InvalidParameter"),
        (
            vec![("InputURL", "vod://0123456789abcdef0123456789abcdef")],
            "InvalidParameter",
        ),
        (
            vec![
                ("InputURL", "https://e.com/a.srt"),
                ("MediaType", "text"),
                ("BusinessType", "opening"),
            ],
            "InvalidParameter",
        ),
        (
            vec![("InputURL", "https://e.com/a.mp4"), ("MediaType", "hologram")],
            "InvalidParameter",
        ),
        (
            vec![("InputURL", "https://e.com/a.mp4"), ("Overwrite", "perhaps")],
            "InvalidParameter",
        ),
        (
            vec![("InputURL", "https://e.com/a.mp4"), ("RegisterConfig", "nope")],
            "InvalidParameter",
        ),
        (
            vec![("InputURL", "https://e.com/a.mp4"), ("ReferenceId", "x")],
            "InvalidParameter",
        ),
    ] {
        let mut p = vec![("Action", "RegisterMediaInfo")];
        p.extend(params);
        assert_error(&ice(&h, &p).await, 400, code);
    }
    let long = format!("http://c/{}", "x".repeat(130));
    assert_error(
        &ice(
            &h,
            &[
                ("Action", "RegisterMediaInfo"),
                ("InputURL", "https://e.com/c.mp4"),
                ("CoverURL", &long),
            ],
        )
        .await,
        400,
        "InvalidParameter",
    );
    assert_error(
        &ice(
            &h,
            &[
                ("Action", "RegisterMediaInfo"),
                ("InputURL", "https://e.com/c.mp4"),
                ("CateId", "5"),
            ],
        )
        .await,
        404,
        "InvalidCateId.NotFound",
    );
    let r = ice(
        &h,
        &[
            ("Action", "RegisterMediaInfo"),
            ("InputURL", "https://e.com/a.srt"),
            ("MediaType", "text"),
            ("BusinessType", "subtitles"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}
