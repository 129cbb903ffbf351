//! Media library actions through the gateway: GetVideoInfo, GetVideoInfos,
//! UpdateVideoInfo, DeleteVideo, GetMezzanineInfo (JSON types of the SDK models, XML
//! shapes, missing and forbidden ids, revocation on delete).

mod common;
mod media_util;

use common::*;
use media_util::*;
use serde_json::json;
use vod_core::model::media::SourceInfo;
use vod_core::uploads::UploadEvents;

#[tokio::test]
async fn get_video_info_json_types_and_xml() {
    let h = media_harness().await;
    let cate = vod(&h, &[("Action", "AddCategory"), ("CateName", "films")])
        .await
        .json()["Category"]["CateId"]
        .as_i64()
        .unwrap();
    let cate_s = cate.to_string();
    let (id, addr, _) = create_video(
        &h,
        &[
            ("Title", "Title & <more>"),
            ("Description", "desc"),
            ("Tags", "a,b"),
            ("CateId", &cate_s),
            ("CoverURL", "http://img/c.jpg"),
            ("TemplateGroupId", "VOD_NO_TRANSCODE"),
            ("UserData", USER_DATA),
            ("ReferenceId", "ref-info-1"),
        ],
    )
    .await;

    let r = vod(&h, &[("Action", "GetVideoInfo"), ("VideoId", &id)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = &r.json()["Video"];
    assert_eq!(v["VideoId"], id.as_str());
    assert_eq!(v["Title"], "Title & <more>");
    assert_eq!(v["Status"], "Uploading");
    assert_eq!(v["CateId"], json!(cate), "CateId is an integer");
    assert_eq!(v["CateName"], "films");
    assert_eq!(
        (v["Tags"].as_str(), v["Description"].as_str()),
        (Some("a,b"), Some("desc"))
    );
    assert_eq!(v["CoverURL"], "http://img/c.jpg");
    assert_eq!(v["TemplateGroupId"], "VOD_NO_TRANSCODE");
    assert_eq!(v["StorageLocation"], "outin-vodstack");
    assert_eq!(
        (v["RegionId"].as_str(), v["AppId"].as_str()),
        (Some("cn-shanghai"), Some("app-1000000"))
    );
    assert_eq!(v["UserData"], USER_DATA);
    assert_eq!(v["ReferenceId"], "ref-info-1");
    assert_eq!(v["Snapshots"], json!({"Snapshot": []}), "wrapped list");
    assert!(
        v.get("Size").is_none() && v.get("Duration").is_none(),
        "nothing uploaded or probed yet: {v}"
    );
    assert!(vod_wire::timefmt::parse_iso8601(v["CreationTime"].as_str().unwrap()).is_some());

    upload_to(&h, &addr, 4096, "src", &id).await;
    assert!(
        h.state
            .store()
            .record_source_info(
                &id,
                1,
                &SourceInfo {
                    duration: Some(12.5),
                    ..Default::default()
                },
                vod_core::now_ms()
            )
            .await
            .unwrap()
    );
    let v = vod(&h, &[("Action", "GetVideoInfo"), ("VideoId", &id)]).await.json()["Video"].clone();
    assert_eq!(
        (v["Status"].as_str(), v["Size"].as_i64(), v["Duration"].as_f64()),
        (Some("UploadSucc"), Some(4096), Some(12.5))
    );
    assert!(v["Size"].is_i64() && v["Duration"].is_f64());

    let r = vod_xml(&h, &[("Action", "GetVideoInfo"), ("VideoId", &id)]).await;
    assert_eq!(r.content_type, "text/xml;charset=utf-8");
    assert!(r.body.contains("<GetVideoInfoResponse><RequestId>"), "{}", r.body);
    assert!(r.body.contains("<Title>Title &amp; &lt;more&gt;</Title>"), "{}", r.body);
    assert!(r.body.contains("<Size>4096</Size>"), "{}", r.body);

    let r = vod(
        &h,
        &[
            ("Action", "GetVideoInfo"),
            ("VideoId", "0123456789abcdef0123456789abcdef"),
        ],
    )
    .await;
    assert_error(&r, 404, "InvalidVideo.NotFound");
    assert_eq!(r.json()["Message"], "The video does not exist.");
    assert_error(&vod(&h, &[("Action", "GetVideoInfo")]).await, 400, "MissingParameter");
}

#[tokio::test]
async fn get_video_infos_lists_missing_and_forbidden() {
    let h = media_harness().await;
    let (a, _, _) = create_video(&h, &[("ReferenceId", "infos-ref-a")]).await;
    let (b, _, _) = create_video(&h, &[]).await;
    let ids = format!("{a},{b},missing-id");
    let r = vod(
        &h,
        &[
            ("Action", "GetVideoInfos"),
            ("VideoIds", &ids),
            ("ReferenceIds", "infos-ref-a,nope-ref"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    let list = j["VideoList"].as_array().unwrap();
    assert_eq!(list.len(), 2, "a found by id and by ReferenceId counts once");
    assert_eq!(list[0]["VideoId"], a.as_str());
    assert_eq!(list[0]["Snapshots"], json!([]), "direct list here");
    assert!(list[0].get("RegionId").is_none());
    assert_eq!(j["NonExistVideoIds"], json!(["missing-id"]));
    assert_eq!(j["NonExistReferenceIds"], json!(["nope-ref"]));
    assert!(j.get("ForbiddenVideoIds").is_none());

    let r = vod_xml(&h, &[("Action", "GetVideoInfos"), ("VideoIds", &ids)]).await;
    assert!(r.body.contains("<VideoList><VideoId>"), "{}", r.body);
    assert!(
        r.body.contains("<NonExistVideoIds>missing-id</NonExistVideoIds>"),
        "{}",
        r.body
    );

    let many: Vec<String> = (0..21).map(|i| format!("id{i}")).collect();
    assert_error(
        &vod(&h, &[("Action", "GetVideoInfos"), ("VideoIds", &many.join(","))]).await,
        400,
        "VideoIdsExceededMax",
    );
    assert_error(&vod(&h, &[("Action", "GetVideoInfos")]).await, 400, "MissingParameter");

    // A RAM user limited to the default app sees the other app's media as forbidden.
    let store = h.state.store();
    let account = store.first_account().await.unwrap().unwrap();
    let other = vod(&h, &[("Action", "CreateAppInfo"), ("AppName", "other")])
        .await
        .json()["AppId"]
        .as_str()
        .unwrap()
        .to_string();
    let (c, _, _) = create_video(&h, &[("AppId", &other)]).await;
    let user = vod_core::service::identity::create_user(
        store,
        &account.id,
        "reader",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["vod:GetVideoInfos","vod:DeleteVideo"],"Resource":"acs:vod:*:*:app/app-1000000"}]}"#,
    )
    .await
    .unwrap();
    let key = vod_core::service::identity::new_key(&account.id, Some(&user.id));
    store.create_access_key(&key).await.unwrap();
    let both = format!("{a},{c}");
    let r = call(
        &h.app,
        v1(
            "POST",
            &[("Action", "GetVideoInfos"), ("VideoIds", &both)],
            &key.id,
            &key.secret,
            &[],
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["VideoList"].as_array().unwrap().len(), 1);
    assert_eq!(r.json()["ForbiddenVideoIds"], json!([c.clone()]));
    let r = call(
        &h.app,
        v1(
            "POST",
            &[("Action", "DeleteVideo"), ("VideoIds", &both)],
            &key.id,
            &key.secret,
            &[],
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["ForbiddenVideoIds"], json!([c.clone()]));
    assert_eq!(r.json()["NonExistVideoIds"], json!([]));
    assert!(store.get_media_by_id(&a).await.unwrap().is_none());
    assert!(
        store.get_media_by_id(&c).await.unwrap().is_some(),
        "forbidden media stay"
    );
}

#[tokio::test]
async fn update_video_info_changes_only_what_is_given() {
    let h = media_harness().await;
    let (id, _, _) = create_video(&h, &[("Description", "keep me"), ("Tags", "old")]).await;
    let cate = vod(&h, &[("Action", "AddCategory"), ("CateName", "c")]).await.json()["Category"]["CateId"]
        .as_i64()
        .unwrap()
        .to_string();
    let r = vod(
        &h,
        &[
            ("Action", "UpdateVideoInfo"),
            ("VideoId", &id),
            ("Title", "new"),
            ("Tags", "x, y"),
            ("CateId", &cate),
            ("CoverURL", "http://c/1.png"),
            ("UserData", r#"{"Extend":"e"}"#),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json().as_object().unwrap().len(), 1, "only RequestId");
    let v = vod(&h, &[("Action", "GetVideoInfo"), ("VideoId", &id)]).await.json()["Video"].clone();
    assert_eq!(
        (v["Title"].as_str(), v["Tags"].as_str(), v["Description"].as_str()),
        (Some("new"), Some("x,y"), Some("keep me"))
    );
    assert_eq!(v["CateName"], "c");
    assert_eq!(v["CoverURL"], "http://c/1.png");
    assert_eq!(v["UserData"], r#"{"Extend":"e"}"#);
    assert!(v["ModificationTime"].as_str() >= v["CreationTime"].as_str());

    assert_error(
        &vod(
            &h,
            &[("Action", "UpdateVideoInfo"), ("VideoId", "nope"), ("Title", "x")],
        )
        .await,
        404,
        "InvalidVideo.NotFound",
    );
    assert_error(
        &vod(&h, &[("Action", "UpdateVideoInfo"), ("Title", "x")]).await,
        400,
        "MissingParameter",
    );
    assert_error(
        &vod(&h, &[("Action", "UpdateVideoInfo"), ("VideoId", &id), ("CateId", "1")]).await,
        404,
        "InvalidCateId.NotFound",
    );
    assert_error(
        &vod(&h, &[("Action", "UpdateVideoInfo"), ("VideoId", &id), ("Title", "🎬")]).await,
        400,
        "IllegalCharacters",
    );
    assert_error(
        &vod(
            &h,
            &[("Action", "UpdateVideoInfo"), ("VideoId", &id), ("UserData", "[1]")],
        )
        .await,
        400,
        "InvalidParameter",
    );
    let long = "x".repeat(1025);
    assert_error(
        &vod(
            &h,
            &[("Action", "UpdateVideoInfo"), ("VideoId", &id), ("Description", &long)],
        )
        .await,
        400,
        "InvalidParameter",
    );
}

#[tokio::test]
async fn delete_video_revokes_credentials_and_queues_events() {
    let h = media_harness().await;
    let (id, addr, _) = create_video(&h, &[("UserData", USER_DATA), ("ReferenceId", "del-ref-1")]).await;
    let (id2, _, _) = create_video(&h, &[]).await;
    upload_to(&h, &addr, 10, "s", &id).await;
    let account = media(&h, &id).await.account_id;
    assert!(h.state.media().upload_allowed(&account, &id, Some(1)).await.unwrap());

    let ids = format!("{id},nope");
    let r = vod(
        &h,
        &[
            ("Action", "DeleteVideo"),
            ("VideoIds", &ids),
            ("ReferenceIds", "nope-ref"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["NonExistVideoIds"], json!(["nope"]));
    assert_eq!(j["ForbiddenVideoIds"], json!([]));
    assert_eq!(j["NonExistReferenceIds"], json!(["nope-ref"]));
    assert!(h.state.store().get_media_by_id(&id).await.unwrap().is_none());
    assert!(
        !h.state.media().upload_allowed(&account, &id, Some(1)).await.unwrap(),
        "revoked at once on this node"
    );
    assert_eq!(jobs_for(&h, "media.purge", &id).await.len(), 1);
    let events = jobs_for(&h, "callback.http", &id).await;
    assert!(
        events
            .iter()
            .any(|j| j.payload["event"]["EventType"] == "DeleteMediaComplete"),
        "{events:?}"
    );
    assert_error(
        &vod(&h, &[("Action", "GetVideoInfo"), ("VideoId", &id)]).await,
        404,
        "InvalidVideo.NotFound",
    );
    assert_error(
        &vod(&h, &[("Action", "RefreshUploadVideo"), ("VideoId", &id)]).await,
        404,
        "InvalidVideo.NotFound",
    );

    // By ReferenceId, XML.
    let r = vod(
        &h,
        &[
            ("Action", "UpdateVideoInfo"),
            ("VideoId", &id2),
            ("ReferenceId", "del-ref-2"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    let r = vod_xml(&h, &[("Action", "DeleteVideo"), ("ReferenceIds", "del-ref-2")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("<DeleteVideoResponse><RequestId>"), "{}", r.body);
    assert!(h.state.store().get_media_by_id(&id2).await.unwrap().is_none());
    // The ReferenceId is free again.
    create_video(&h, &[("ReferenceId", "del-ref-1")]).await;

    assert_error(&vod(&h, &[("Action", "DeleteVideo")]).await, 400, "MissingParameter");
    let many: Vec<String> = (0..21).map(|i| format!("id{i}")).collect();
    assert_error(
        &vod(&h, &[("Action", "DeleteVideo"), ("VideoIds", &many.join(","))]).await,
        400,
        "VideoIdsExceededMax",
    );
}

#[tokio::test]
async fn get_mezzanine_info_reports_the_source() {
    let h = media_harness().await;
    let (id, addr, _) = create_video(&h, &[("FileName", "holiday.mov")]).await;
    let r = vod(&h, &[("Action", "GetMezzanineInfo"), ("VideoId", &id)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let z = &r.json()["Mezzanine"];
    assert_eq!(
        (z["Status"].as_str(), z["FileName"].as_str()),
        (Some("Uploading"), Some("holiday.mov"))
    );

    let done = upload_to(&h, &addr, 2048, "mezz", &id).await;
    let streams = json!({
        "VideoStreamList": [{"Index": "0", "CodecName": "h264", "Width": "640", "Height": "360", "Fps": "25"}],
        "AudioStreamList": [{"Index": "1", "CodecName": "aac", "SampleRate": "44100"}],
    });
    let info = SourceInfo {
        duration: Some(3.2),
        width: Some(640),
        height: Some(360),
        bitrate: Some("1200".into()),
        fps: Some("25".into()),
        streams: Some(streams.clone()),
    };
    assert!(
        h.state
            .store()
            .record_source_info(&id, 1, &info, vod_core::now_ms())
            .await
            .unwrap()
    );
    let r = vod(
        &h,
        &[
            ("Action", "GetMezzanineInfo"),
            ("VideoId", &id),
            ("AdditionType", "video,audio"),
            ("OutputType", "oss"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let z = &r.json()["Mezzanine"];
    assert_eq!(z["VideoId"], id.as_str());
    assert_eq!(z["Status"], "Normal");
    assert_eq!(z["Size"], json!(2048));
    assert_eq!(z["FileMD5"], done.md5_hex.as_str());
    assert_eq!(
        z["FileURL"],
        format!(
            "http://127.0.0.1:9000/outin-vodstack/{}",
            addr["FileName"].as_str().unwrap()
        )
    );
    assert_eq!(
        (z["Width"].clone(), z["Height"].clone()),
        (json!(640), json!(360)),
        "integers"
    );
    assert_eq!(
        (z["Duration"].as_str(), z["Bitrate"].as_str(), z["Fps"].as_str()),
        (Some("3.2"), Some("1200"), Some("25")),
        "strings"
    );
    assert_eq!(z["VideoStreamList"], streams["VideoStreamList"]);
    assert_eq!(z["AudioStreamList"], streams["AudioStreamList"]);
    let r = vod(&h, &[("Action", "GetMezzanineInfo"), ("VideoId", &id)]).await;
    assert!(
        r.json()["Mezzanine"].get("VideoStreamList").is_none(),
        "streams only on request"
    );
    let r = vod_xml(
        &h,
        &[
            ("Action", "GetMezzanineInfo"),
            ("VideoId", &id),
            ("AdditionType", "video"),
        ],
    )
    .await;
    assert!(r.body.contains("<VideoStreamList><Index>0</Index>"), "{}", r.body);

    assert_error(
        &vod(&h, &[("Action", "GetMezzanineInfo"), ("VideoId", "nope")]).await,
        404,
        "InvalidVideo.NotFound",
    );
    assert_error(
        &vod(
            &h,
            &[
                ("Action", "GetMezzanineInfo"),
                ("VideoId", &id),
                ("AdditionType", "subtitle"),
            ],
        )
        .await,
        400,
        "InvalidParameter",
    );
    assert_error(
        &vod(
            &h,
            &[("Action", "GetMezzanineInfo"), ("VideoId", &id), ("OutputType", "ftp")],
        )
        .await,
        400,
        "InvalidParameter",
    );
}

#[tokio::test]
async fn apps_holding_media_cannot_be_deleted() {
    let h = media_harness().await;
    let app = vod(&h, &[("Action", "CreateAppInfo"), ("AppName", "busy")])
        .await
        .json()["AppId"]
        .as_str()
        .unwrap()
        .to_string();
    let (id, _, _) = create_video(&h, &[("AppId", &app)]).await;
    assert_error(
        &vod(&h, &[("Action", "DeleteAppInfo"), ("AppId", &app)]).await,
        400,
        "AppNotEmpty",
    );
    assert_eq!(
        vod(&h, &[("Action", "DeleteVideo"), ("VideoIds", &id)]).await.status,
        200
    );
    assert_eq!(
        vod(&h, &[("Action", "DeleteAppInfo"), ("AppId", &app)]).await.status,
        200
    );
}
