//! Upload actions through the gateway: CreateUploadVideo / RefreshUploadVideo (VOD) and
//! CreateUploadMedia / RefreshUploadMedia (ICE) in JSON and XML, the decoded UploadAddress
//! and UploadAuth, the scoped credential, parameter checks, ReferenceId uniqueness, app
//! permissions, and the seed-page errors (InvalidVideo.NotFound, InvalidVideo.Damaged).

mod common;
mod media_util;

use common::*;
use media_util::*;
use vod_auth::sts;
use vod_core::uploads::UploadEvents;

#[tokio::test]
async fn create_upload_video_returns_address_and_scoped_credential() {
    let h = media_harness().await;
    let before = vod_core::now_ms() / 1000;
    let (id, addr, auth) = create_video(&h, &[("FileName", "My Movie.MP4"), ("FileSize", "123")]).await;
    assert_eq!(id.len(), 32);
    assert_eq!(addr["Endpoint"], "http://127.0.0.1:9000");
    assert_eq!(addr["Bucket"], "outin-vodstack");
    assert_eq!(addr["FileName"], format!("sv/{id}/{id}.mp4"));
    assert!(addr.get("ObjectPrefix").is_none(), "only m3u8 uploads get a prefix");
    let keys: Vec<&str> = addr.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["Endpoint", "Bucket", "FileName"]);

    let keys: Vec<&str> = auth.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "AccessKeyId",
            "AccessKeySecret",
            "SecurityToken",
            "Expiration",
            "ExpireUTCTime",
            "Region"
        ]
    );
    assert_eq!(auth["Expiration"], "3000");
    assert_eq!(auth["Region"], "cn-shanghai");
    let ak = auth["AccessKeyId"].as_str().unwrap();
    assert!(ak.starts_with("STS."));
    let expire = vod_wire::timefmt::parse_iso8601(auth["ExpireUTCTime"].as_str().unwrap()).unwrap() / 1000;
    assert!(
        (before + 3000..=before + 3002).contains(&expire),
        "{expire} vs {before}"
    );

    // Any node opens the token with the master key alone; it names one object and the media.
    let (token_ak, claims) = sts::open(&h.state.0.master_key, auth["SecurityToken"].as_str().unwrap()).unwrap();
    assert_eq!(token_ak, ak);
    assert_eq!(
        sts::secret_for(&h.state.0.master_key, ak),
        auth["AccessKeySecret"].as_str().unwrap()
    );
    let scope = claims.scope.unwrap();
    assert_eq!(
        (scope.bucket.as_str(), scope.key.as_deref()),
        ("outin-vodstack", addr["FileName"].as_str())
    );
    assert_eq!((scope.prefix, scope.media_id.as_deref()), (None, Some(id.as_str())));
    assert_eq!(claims.generation, Some(1));
    assert_eq!(claims.expires_at, expire);
    let account = h.state.store().first_account().await.unwrap().unwrap();
    assert_eq!(claims.account_id, account.id);
    assert!(h.state.media().upload_allowed(&account.id, &id, Some(1)).await.unwrap());

    // The credential cannot sign API calls.
    let r = call(
        &h.app,
        v1(
            "POST",
            &[("Action", "GetVideoInfo"), ("VideoId", &id)],
            ak,
            auth["AccessKeySecret"].as_str().unwrap(),
            &[("SecurityToken", auth["SecurityToken"].as_str().unwrap())],
        ),
    )
    .await;
    assert_error(&r, 403, "Forbidden.RAM");

    let m = media(&h, &id).await;
    assert_eq!((m.status.as_str(), m.media_type.as_str()), ("Uploading", "video"));
    assert_eq!((m.file_name.as_str(), m.declared_size), ("My Movie.MP4", Some(123)));
}

#[tokio::test]
async fn m3u8_uploads_get_an_object_prefix_and_audio_is_audio() {
    let h = media_harness().await;
    let (id, addr, auth) = create_video(&h, &[("FileName", "list.m3u8")]).await;
    assert_eq!(addr["ObjectPrefix"], format!("sv/{id}/"));
    assert_eq!(addr["FileName"], format!("sv/{id}/{id}.m3u8"));
    let (_, claims) = sts::open(&h.state.0.master_key, auth["SecurityToken"].as_str().unwrap()).unwrap();
    let scope = claims.scope.unwrap();
    assert_eq!(
        (scope.key, scope.prefix.as_deref()),
        (None, Some(format!("sv/{id}/").as_str()))
    );

    let (id, _, _) = create_video(&h, &[("FileName", "song.mp3")]).await;
    assert_eq!(media(&h, &id).await.media_type.as_str(), "audio");
}

#[tokio::test]
async fn create_upload_video_xml_and_v3() {
    let h = media_harness().await;
    let r = vod_xml(
        &h,
        &[("Action", "CreateUploadVideo"), ("Title", "x"), ("FileName", "a.mp4")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type, "text/xml;charset=utf-8");
    assert!(
        r.body
            .starts_with("<?xml version='1.0' encoding='UTF-8'?><CreateUploadVideoResponse><RequestId>"),
        "{}",
        r.body
    );
    for tag in ["VideoId", "UploadAddress", "UploadAuth"] {
        assert!(r.body.contains(&format!("<{tag}>")), "{tag}: {}", r.body);
    }
    let r = call(
        &h.app,
        v3(
            "CreateUploadVideo",
            "2017-03-21",
            &[("Title", "hello world*~ 中"), ("FileName", "a b.mp4")],
            SECRET,
            &nonce(),
            &now_iso(),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["VideoId"].as_str().unwrap().to_string();
    assert_eq!(media(&h, &id).await.title, "hello world*~ 中");
}

#[tokio::test]
async fn create_upload_video_checks_its_parameters() {
    let h = media_harness().await;
    let base = [("Action", "CreateUploadVideo"), ("Title", "t"), ("FileName", "a.mp4")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut p: Vec<(&str, &str)> = base.to_vec();
        for (k, v) in extra {
            p.retain(|(pk, _)| pk != k);
            p.push((k, v));
        }
        p
    };
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
    let cases: &[Case<'_>] = &[
        (&[("Title", "")], 400, "MissingParameter"),
        (&[("FileName", "")], 400, "MissingParameter"),
        (&[("FileName", "virus.exe")], 400, "InvalidFileName.Extension"),
        (&[("FileName", "noextension")], 400, "InvalidFileName.Extension"),
        (&[("Title", "smile 😀")], 400, "IllegalCharacters"),
        (&[("FileSize", "-1")], 400, "InvalidParameter"),
        (&[("FileSize", "big")], 400, "InvalidParameter"),
        (
            &[("Tags", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17")],
            400,
            "TagsExceededMax",
        ),
        (
            &[("Tags", "a,0123456789012345678901234567890123")],
            400,
            "LengthExceededMax",
        ),
        (&[("CateId", "424242")], 404, "InvalidCateId.NotFound"),
        (
            &[("StorageLocation", "outin-elsewhere.oss-cn-shanghai.aliyuncs.com")],
            404,
            "InvalidStorage.NotFound",
        ),
        (&[("AppId", "app-404")], 404, "AppNotExist"),
        (&[("UserData", "not json")], 400, "InvalidParameter"),
        (
            &[("UserData", r#"{"MessageCallback":{"CallbackURL":"ftp://x/"}}"#)],
            400,
            "InvalidParameter",
        ),
        (&[("ReferenceId", "short")], 400, "InvalidParameter"),
        (&[("ReferenceId", "has space!")], 400, "InvalidParameter"),
        (&[("EnableFirstFrameCover", "maybe")], 400, "InvalidParameter"),
    ];
    for (extra, status, code) in cases {
        let r = vod(&h, &with(extra)).await;
        assert_error(&r, *status, code);
    }
    // Accepted forms.
    for extra in [
        &[("StorageLocation", "outin-vodstack")][..],
        &[("StorageLocation", "outin-vodstack.oss-cn-shanghai.aliyuncs.com")],
        &[("Tags", " a , b ,,c ")],
        &[("EnableFirstFrameCover", "True"), ("GenerateThumbnail", "false")],
        &[("TemplateGroupId", "VOD_NO_TRANSCODE"), ("WorkflowId", "wf-1")],
    ] {
        let r = vod(&h, &with(extra)).await;
        assert_eq!(r.status, 200, "{extra:?}: {}", r.body);
    }
    let r = vod(&h, &with(&[("Tags", " a , b ,,c ")])).await;
    let m = media(&h, r.json()["VideoId"].as_str().unwrap()).await;
    assert_eq!(m.tags, "a,b,c");
}

#[tokio::test]
async fn reference_ids_are_unique_per_account_and_find_media() {
    let h = media_harness().await;
    let (id, _, _) = create_video(&h, &[("ReferenceId", "my-ref_001")]).await;
    let r = vod(
        &h,
        &[
            ("Action", "CreateUploadVideo"),
            ("Title", "t"),
            ("FileName", "a.mp4"),
            ("ReferenceId", "my-ref_001"),
        ],
    )
    .await;
    assert_error(&r, 400, "InvalidParameter");
    assert!(
        r.json()["Message"].as_str().unwrap().contains("ReferenceId"),
        "{}",
        r.body
    );

    // ICE keeps its own library: the same ReferenceId is free there.
    let r = ice(
        &h,
        &[
            ("Action", "RegisterMediaInfo"),
            ("InputURL", "https://example.com/a.mp4"),
            ("ReferenceId", "my-ref_001"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let r = vod(&h, &[("Action", "RefreshUploadVideo"), ("ReferenceId", "my-ref_001")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["VideoId"], id.as_str());
    let r = vod(&h, &[("Action", "GetVideoInfo"), ("ReferenceId", "my-ref_001")]).await;
    assert_eq!(r.json()["Video"]["VideoId"], id.as_str());
    assert_eq!(r.json()["Video"]["ReferenceId"], "my-ref_001");

    // Changing it through UpdateVideoInfo obeys the same rule.
    let (other, _, _) = create_video(&h, &[]).await;
    let r = vod(
        &h,
        &[
            ("Action", "UpdateVideoInfo"),
            ("VideoId", &other),
            ("ReferenceId", "my-ref_001"),
        ],
    )
    .await;
    assert_error(&r, 400, "InvalidParameter");
    let r = vod(
        &h,
        &[
            ("Action", "UpdateVideoInfo"),
            ("VideoId", &other),
            ("ReferenceId", "fresh-ref"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn refresh_upload_video_issues_a_new_credential_for_the_same_address() {
    let h = media_harness().await;
    let (id, addr, auth) = create_video(&h, &[]).await;
    let r = vod(&h, &[("Action", "RefreshUploadVideo"), ("VideoId", &id)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["RequestId", "UploadAddress", "VideoId", "UploadAuth"],
        "the seed page's field order"
    );
    assert_eq!(j["VideoId"], id.as_str());
    assert_eq!(decode(j["UploadAddress"].as_str().unwrap()), addr, "same address");
    let fresh = decode(j["UploadAuth"].as_str().unwrap());
    assert_ne!(fresh["AccessKeyId"], auth["AccessKeyId"]);
    let (_, claims) = sts::open(&h.state.0.master_key, fresh["SecurityToken"].as_str().unwrap()).unwrap();
    assert_eq!(claims.generation, Some(2));
    assert_eq!(media(&h, &id).await.upload_generation, 2);

    let r = vod_xml(&h, &[("Action", "RefreshUploadVideo"), ("VideoId", &id)]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<RefreshUploadVideoResponse><RequestId>"), "{}", r.body);
    assert!(r.body.contains(&format!("<VideoId>{id}</VideoId>")), "{}", r.body);

    let r = call(
        &h.app,
        v3(
            "RefreshUploadVideo",
            "2017-03-21",
            &[("VideoId", &id)],
            SECRET,
            &nonce(),
            &now_iso(),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn refresh_upload_video_seed_errors() {
    let h = media_harness().await;
    // Unknown id: InvalidVideo.NotFound (404), in JSON and XML.
    let r = vod(
        &h,
        &[
            ("Action", "RefreshUploadVideo"),
            ("VideoId", "c6a23a870c8c4ffcd40cbd3813330000"),
        ],
    )
    .await;
    assert_error(&r, 404, "InvalidVideo.NotFound");
    assert_eq!(r.json()["Message"], "The video not exist.");
    let r = vod_xml(&h, &[("Action", "RefreshUploadVideo"), ("VideoId", "nope")]).await;
    assert_error(&r, 404, "InvalidVideo.NotFound");
    let r = vod(&h, &[("Action", "RefreshUploadVideo"), ("ReferenceId", "unknown-ref")]).await;
    assert_error(&r, 404, "InvalidVideo.NotFound");
    let r = vod(&h, &[("Action", "RefreshUploadVideo")]).await;
    assert_error(&r, 400, "MissingParameter");

    // Damaged: the completed source was empty (nothing can be decoded from it).
    let (id, addr, _) = create_video(&h, &[]).await;
    upload_to(&h, &addr, 0, "empty", &id).await;
    let m = media(&h, &id).await;
    assert_eq!((m.status.as_str(), m.damaged.is_some()), ("UploadFail", true));
    let r = vod(&h, &[("Action", "RefreshUploadVideo"), ("VideoId", &id)]).await;
    assert_error(&r, 400, "InvalidVideo.Damaged");
    assert_eq!(r.json()["Message"], "The video has been Damaged.");
    let r = vod_xml(&h, &[("Action", "RefreshUploadVideo"), ("VideoId", &id)]).await;
    assert_error(&r, 400, "InvalidVideo.Damaged");
    assert_eq!(media(&h, &id).await.upload_generation, 1, "no credential was issued");
    let account = m.account_id.clone();
    assert!(
        !h.state.media().upload_allowed(&account, &id, Some(1)).await.unwrap(),
        "its credentials are revoked"
    );

    // Damaged: the probe found the current source undecodable.
    let (id, addr, _) = create_video(&h, &[]).await;
    upload_to(&h, &addr, 1000, "garbage", &id).await;
    assert_eq!(
        vod(&h, &[("Action", "RefreshUploadVideo"), ("VideoId", &id)])
            .await
            .status,
        200
    );
    assert!(
        h.state
            .store()
            .set_media_damaged(&id, 1, "Invalid data found when processing input", 1)
            .await
            .unwrap()
    );
    let r = vod(&h, &[("Action", "RefreshUploadVideo"), ("VideoId", &id)]).await;
    assert_error(&r, 400, "InvalidVideo.Damaged");
    let r = vod(&h, &[("Action", "GetVideoInfo"), ("VideoId", &id)]).await;
    assert_eq!(r.json()["Video"]["Status"], "UploadFail");
}

#[tokio::test]
async fn apps_and_ram_users() {
    let h = media_harness().await;
    let store = h.state.store();
    let account = store.first_account().await.unwrap().unwrap();
    let other = vod(&h, &[("Action", "CreateAppInfo"), ("AppName", "other")])
        .await
        .json()["AppId"]
        .as_str()
        .unwrap()
        .to_string();
    let (in_other, _, _) = create_video(&h, &[("AppId", &other)]).await;
    assert_eq!(media(&h, &in_other).await.app_id, other);

    let user = vod_core::service::identity::create_user(
        store,
        &account.id,
        "uploader",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["vod:*Upload*","vod:GetVideoInfo"],"Resource":"acs:vod:*:*:app/app-1000000"}]}"#,
    )
    .await
    .unwrap();
    let key = vod_core::service::identity::new_key(&account.id, Some(&user.id));
    store.create_access_key(&key).await.unwrap();
    let as_user = |params: &[(&str, &str)]| v1("POST", params, &key.id, &key.secret, &[]);

    let r = call(
        &h.app,
        as_user(&[("Action", "CreateUploadVideo"), ("Title", "t"), ("FileName", "a.mp4")]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mine = r.json()["VideoId"].as_str().unwrap().to_string();
    let auth = decode(r.json()["UploadAuth"].as_str().unwrap());
    let (_, claims) = sts::open(&h.state.0.master_key, auth["SecurityToken"].as_str().unwrap()).unwrap();
    assert_eq!(claims.principal, user.id, "the credential names who asked for it");

    let r = call(
        &h.app,
        as_user(&[
            ("Action", "CreateUploadVideo"),
            ("Title", "t"),
            ("FileName", "a.mp4"),
            ("AppId", &other),
        ]),
    )
    .await;
    assert_error(&r, 403, "Forbidden");
    let r = call(
        &h.app,
        as_user(&[("Action", "RefreshUploadVideo"), ("VideoId", &in_other)]),
    )
    .await;
    assert_error(&r, 403, "Forbidden");
    let r = call(&h.app, as_user(&[("Action", "RefreshUploadVideo"), ("VideoId", &mine)])).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(&h.app, as_user(&[("Action", "GetVideoInfo"), ("VideoId", &in_other)])).await;
    assert_error(&r, 403, "Forbidden");
    let r = call(&h.app, as_user(&[("Action", "DeleteVideo"), ("VideoIds", &mine)])).await;
    assert_error(&r, 403, "Forbidden.RAM");
}

#[tokio::test]
async fn ice_create_and_refresh_upload_media() {
    let h = media_harness().await;
    let file_info = r#"{"Type": "video", "Name": "test", "Size": 123, "Ext": "mp4"}"#;
    let meta = r#"{"Title": "t", "BusinessType": "general", "Tags": "x,y", "Description": "d", "DynamicMetaData": "{\"k\":1}"}"#;
    let r = ice_v3(
        &h,
        "CreateUploadMedia",
        &[
            ("FileInfo", file_info),
            ("MediaMetaData", meta),
            ("UserData", USER_DATA),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "RequestId",
            "MediaId",
            "MediaURL",
            "FileURL",
            "UploadAddress",
            "UploadAuth"
        ]
    );
    let id = j["MediaId"].as_str().unwrap().to_string();
    let addr = decode(j["UploadAddress"].as_str().unwrap());
    assert_eq!(addr["FileName"], format!("ice/{id}/{id}.mp4"));
    assert_eq!(
        j["FileURL"],
        format!("http://127.0.0.1:9000/outin-vodstack/ice/{id}/{id}.mp4")
    );
    let auth = decode(j["UploadAuth"].as_str().unwrap());
    assert_eq!(auth["Expiration"], "3000");
    let m = media(&h, &id).await;
    assert_eq!(
        (
            m.scope.as_str(),
            m.title.as_str(),
            m.business_type.as_str(),
            m.declared_size
        ),
        ("ice", "t", "general", Some(123))
    );
    assert_eq!(m.extra["DynamicMetaData"], r#"{"k":1}"#);

    let r = ice(&h, &[("Action", "RefreshUploadMedia"), ("MediaId", &id)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["RequestId", "MediaId", "UploadAddress", "UploadAuth"]);
    assert_eq!(decode(j["UploadAddress"].as_str().unwrap()), addr);
    let r = call(
        &h.app,
        v1(
            "POST",
            &[("Action", "RefreshUploadMedia"), ("MediaId", &id)],
            AK,
            SECRET,
            &[("Version", "2020-11-09"), ("Format", "XML")],
        ),
    )
    .await;
    assert!(r.body.contains("<RefreshUploadMediaResponse>"), "{}", r.body);

    // Seed errors for ICE, and the libraries stay apart.
    let r = ice(&h, &[("Action", "RefreshUploadMedia"), ("MediaId", "0000")]).await;
    assert_error(&r, 404, "InvalidVideo.NotFound");
    let (vod_id, _, _) = create_video(&h, &[]).await;
    let r = ice(&h, &[("Action", "RefreshUploadMedia"), ("MediaId", &vod_id)]).await;
    assert_error(&r, 404, "InvalidVideo.NotFound");
    let r = vod(&h, &[("Action", "RefreshUploadVideo"), ("VideoId", &id)]).await;
    assert_error(&r, 404, "InvalidVideo.NotFound");
    upload_to(&h, &addr, 0, "empty", &id).await;
    let r = ice(&h, &[("Action", "RefreshUploadMedia"), ("MediaId", &id)]).await;
    assert_error(&r, 400, "InvalidVideo.Damaged");
    let r = ice(&h, &[("Action", "RefreshUploadMedia")]).await;
    assert_error(&r, 400, "MissingParameter");

    // Parameter checks.
    for (params, code) in [
        (vec![("MediaMetaData", meta)], "MissingParameter"),
        (vec![("FileInfo", "[]")], "InvalidParameter"),
        (
            vec![("FileInfo", r#"{"Type":"movie","Name":"a","Ext":"mp4"}"#)],
            "InvalidParameter",
        ),
        (
            vec![("FileInfo", r#"{"Type":"video","Ext":"mp4"}"#)],
            "InvalidParameter",
        ),
        (vec![("FileInfo", r#"{"Type":"video","Name":"a"}"#)], "InvalidParameter"),
        (
            vec![
                ("FileInfo", file_info),
                ("MediaMetaData", r#"{"Title":"t","BusinessType":"nope"}"#),
            ],
            "InvalidParameter",
        ),
        (
            vec![
                ("FileInfo", file_info),
                ("UploadTargetConfig", r#"{"StorageType":"nas"}"#),
            ],
            "InvalidParameter",
        ),
        (
            vec![
                ("FileInfo", file_info),
                ("PostProcessConfig", r#"{"ProcessType":"Script"}"#),
            ],
            "InvalidParameter",
        ),
    ] {
        let mut p = vec![("Action", "CreateUploadMedia")];
        p.extend(params);
        let r = ice(&h, &p).await;
        assert_error(&r, 400, code);
    }
    let r = ice(
        &h,
        &[
            ("Action", "CreateUploadMedia"),
            ("FileInfo", file_info),
            (
                "UploadTargetConfig",
                r#"{"StorageType":"oss","StorageLocation":"elsewhere"}"#,
            ),
        ],
    )
    .await;
    assert_error(&r, 404, "InvalidStorage.NotFound");
    // Images skip processing; a workflow in PostProcessConfig is kept.
    let r = ice(
        &h,
        &[
            ("Action", "CreateUploadMedia"),
            ("FileInfo", r#"{"Type":"image","Name":"cover","Ext":"PNG"}"#),
            ("PostProcessConfig", r#"{"ProcessType":"Workflow","ProcessID":"wf-9"}"#),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let img = media(&h, r.json()["MediaId"].as_str().unwrap()).await;
    assert_eq!(
        (img.media_type.as_str(), img.workflow_id.as_str(), img.title.as_str()),
        ("image", "wf-9", "cover")
    );
    assert!(img.object_key.ends_with(".png"));
}
