//! Transcode template groups across apps: groups belong to an app, RAM users need access to
//! it, the per-app group limit, `TemplateGroupId` of CreateUploadVideo / UploadMediaByURL,
//! and `service::templates::resolve_group` (what the transcode job calls).

mod common;

use common::*;
use serde_json::json;
use vod_api::GatewayConfig;
use vod_core::service::templates::resolve_group;

/// AddTranscodeTemplateGroup allows 5 QPS; these tests call it faster.
async fn unthrottled() -> Harness {
    let mut config = GatewayConfig::default();
    config.throttle.enabled = false;
    harness_with(config).await
}

async fn vod(h: &Harness, params: &[(&str, &str)]) -> Reply {
    call(&h.app, v1("POST", params, AK, SECRET, &[])).await
}

#[track_caller]
fn expect_err(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.json()["Code"], code, "{}", r.body);
}

fn tpl(def: &str) -> String {
    json!([{"TemplateName": def, "Definition": def, "Container": {"Format": "mp4"}}]).to_string()
}

async fn new_app(h: &Harness, name: &str) -> String {
    let r = vod(h, &[("Action", "CreateAppInfo"), ("AppName", name)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["AppId"].as_str().unwrap().to_string()
}

async fn add_in(h: &Harness, app: &str, name: &str) -> String {
    let r = vod(
        h,
        &[
            ("Action", "AddTranscodeTemplateGroup"),
            ("Name", name),
            ("AppId", app),
            ("TranscodeTemplateList", &tpl("SD")),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["TranscodeTemplateGroupId"].as_str().unwrap().to_string()
}

fn ids(r: &Reply) -> Vec<String> {
    r.json()["TranscodeTemplateGroupList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["TranscodeTemplateGroupId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn groups_belong_to_their_app() {
    let h = unthrottled().await;
    let other = new_app(&h, "other").await;
    let mine = add_in(&h, "app-1000000", "mine").await;
    let theirs = add_in(&h, &other, "theirs").await;
    let default_list = vod(&h, &[("Action", "ListTranscodeTemplateGroup")]).await;
    assert_eq!(ids(&default_list)[2..], [mine.as_str()]);
    let other_list = vod(&h, &[("Action", "ListTranscodeTemplateGroup"), ("AppId", &other)]).await;
    assert_eq!(ids(&other_list)[2..], [theirs.as_str()]);
    let g = vod(
        &h,
        &[
            ("Action", "GetTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", &theirs),
        ],
    )
    .await;
    assert_eq!(g.json()["TranscodeTemplateGroup"]["AppId"], json!(other));

    // Defaults are per app: setting one in `other` leaves the default app's ladder.
    let r = vod(
        &h,
        &[
            ("Action", "SetDefaultTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", &theirs),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ladder = vod(
        &h,
        &[
            ("Action", "GetTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", "VOD_DEFAULT_LADDER"),
        ],
    )
    .await;
    assert_eq!(ladder.json()["TranscodeTemplateGroup"]["IsDefault"], "Default");
    let ladder = vod(
        &h,
        &[
            ("Action", "GetTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", "VOD_DEFAULT_LADDER"),
            ("AppId", &other),
        ],
    )
    .await;
    assert_eq!(ladder.json()["TranscodeTemplateGroup"]["IsDefault"], "NotDefault");
    assert_eq!(ladder.json()["TranscodeTemplateGroup"]["AppId"], json!(other));

    // Built-in defaults are per app too.
    let r = vod(
        &h,
        &[
            ("Action", "SetDefaultTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", "VOD_NO_TRANSCODE"),
            ("AppId", &other),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let store = h.state.store();
    let account = store.first_account().await.unwrap().unwrap().id;
    let resolved = resolve_group(store, &account, &other, "").await.unwrap().unwrap();
    assert!(resolved.is_no_transcode() && resolved.is_default);
    let resolved = resolve_group(store, &account, "app-1000000", "")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (resolved.group_id.as_str(), resolved.templates.len()),
        ("VOD_DEFAULT_LADDER", 8)
    );
    let resolved = resolve_group(store, &account, "app-1000000", &mine)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((resolved.name.as_str(), resolved.templates.len()), ("mine", 1));
    assert!(
        resolve_group(store, &account, "app-1000000", &theirs)
            .await
            .unwrap()
            .is_none(),
        "other app"
    );
    assert!(
        resolve_group(store, &account, "app-1000000", "nope")
            .await
            .unwrap()
            .is_none()
    );
    let r = vod(
        &h,
        &[
            ("Action", "SetDefaultTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", &mine),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    let resolved = resolve_group(store, &account, "app-1000000", " ")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((resolved.group_id.as_str(), resolved.is_default), (mine.as_str(), true));
}

#[tokio::test]
async fn ram_users_need_access_to_the_app() {
    let h = unthrottled().await;
    let store = h.state.store();
    let account = store.first_account().await.unwrap().unwrap();
    let user = vod_core::service::identity::create_user(
        store,
        &account.id,
        "tpl-admin",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"vod:*TranscodeTemplateGroup","Resource":"acs:vod:*:*:app/app-1000000"}]}"#,
    )
    .await
    .unwrap();
    let key = vod_core::service::identity::new_key(&account.id, Some(&user.id));
    store.create_access_key(&key).await.unwrap();
    let other = new_app(&h, "locked-away").await;
    let theirs = add_in(&h, &other, "theirs").await;
    let as_user = |params: &[(&str, &str)]| v1("POST", params, &key.id, &key.secret, &[]);

    let ok = call(
        &h.app,
        as_user(&[("Action", "AddTranscodeTemplateGroup"), ("Name", "ok")]),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let list = call(&h.app, as_user(&[("Action", "ListTranscodeTemplateGroup")])).await;
    assert_eq!(list.status, 200, "{}", list.body);
    for params in [
        vec![
            ("Action", "AddTranscodeTemplateGroup"),
            ("Name", "no"),
            ("AppId", other.as_str()),
        ],
        vec![("Action", "ListTranscodeTemplateGroup"), ("AppId", other.as_str())],
        vec![
            ("Action", "GetTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", theirs.as_str()),
        ],
        vec![
            ("Action", "UpdateTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", theirs.as_str()),
            ("Name", "x"),
        ],
        vec![
            ("Action", "SetDefaultTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", theirs.as_str()),
        ],
        vec![
            ("Action", "DeleteTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", theirs.as_str()),
            ("ForceDelGroup", "true"),
        ],
        vec![
            ("Action", "GetTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", "VOD_DEFAULT_LADDER"),
            ("AppId", other.as_str()),
        ],
    ] {
        expect_err(&call(&h.app, as_user(&params)).await, 403, "Forbidden");
    }
    // Without the RAM action at all: Forbidden.RAM.
    let r = call(&h.app, as_user(&[("Action", "ListAppInfo")])).await;
    expect_err(&r, 403, "Forbidden.RAM");
}

#[tokio::test]
async fn group_limit_per_app() {
    let h = unthrottled().await;
    for i in 0..20 {
        add_in(&h, "app-1000000", &format!("g{i}")).await;
    }
    let r = vod(&h, &[("Action", "AddTranscodeTemplateGroup"), ("Name", "one too many")]).await;
    expect_err(&r, 400, "TrasncodeTemplateGroupExceededMax");
    let other = new_app(&h, "roomy").await;
    add_in(&h, &other, "fits").await;
    let list = vod(&h, &[("Action", "ListTranscodeTemplateGroup")]).await;
    assert_eq!(ids(&list).len(), 22, "20 stored + 2 built-in");
}

#[tokio::test]
async fn uploads_check_template_group_id() {
    let h = unthrottled().await;
    let other = new_app(&h, "uploads").await;
    let mine = add_in(&h, "app-1000000", "mine").await;
    let theirs = add_in(&h, &other, "theirs").await;
    let upload = |group: String| {
        let h = &h;
        async move {
            vod(
                h,
                &[
                    ("Action", "CreateUploadVideo"),
                    ("Title", "t"),
                    ("FileName", "a.mp4"),
                    ("TemplateGroupId", &group),
                ],
            )
            .await
        }
    };
    for ok in [mine.as_str(), "VOD_NO_TRANSCODE", "VOD_DEFAULT_LADDER", ""] {
        let r = upload(ok.to_string()).await;
        assert_eq!(r.status, 200, "{ok}: {}", r.body);
    }
    for bad in [theirs.as_str(), "0123456789abcdef0123456789abcdef"] {
        expect_err(
            &upload(bad.to_string()).await,
            404,
            "InvalidTranscodeTemplateGroup.NotFound",
        );
    }
    let metas = json!([{"SourceURL": "http://example.com/b.mp4", "TemplateGroupId": "nope"}]).to_string();
    for params in [
        vec![("TemplateGroupId", "nope")],
        vec![("UploadMetadatas", metas.as_str())],
    ] {
        let mut all = vec![
            ("Action", "UploadMediaByURL"),
            ("UploadURLs", "http://example.com/b.mp4"),
        ];
        all.extend(params);
        expect_err(&vod(&h, &all).await, 404, "InvalidTranscodeTemplateGroup.NotFound");
    }
    let r = vod(
        &h,
        &[
            ("Action", "UploadMediaByURL"),
            ("UploadURLs", "http://example.com/c.mp4"),
            ("TemplateGroupId", &mine),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}
