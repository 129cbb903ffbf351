//! Transcode template groups through the signed gateway: the six actions' shapes (JSON, XML,
//! V3), built-in groups, defaults and locks (refusals: `templates_errors.rs`).

mod common;
mod templates_util;

use common::*;
use serde_json::{Value, json};
use templates_util::*;

async fn list(h: &Harness) -> Vec<Value> {
    let r = vod(h, &[("Action", "ListTranscodeTemplateGroup")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["TranscodeTemplateGroupList"].as_array().unwrap().clone()
}

fn defaults(groups: &[Value]) -> Vec<String> {
    groups
        .iter()
        .filter(|g| g["IsDefault"] == "Default")
        .map(|g| g["TranscodeTemplateGroupId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn builtin_groups_are_listed_and_readable() {
    let h = unthrottled().await;
    let groups = list(&h).await;
    let ids: Vec<&str> = groups
        .iter()
        .map(|g| g["TranscodeTemplateGroupId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["VOD_DEFAULT_LADDER", "VOD_NO_TRANSCODE"]);
    assert_eq!(
        defaults(&groups),
        ["VOD_DEFAULT_LADDER"],
        "the ladder is the default at first"
    );
    for g in &groups {
        assert_eq!(
            (g["Locked"].as_str(), g["AppId"].as_str()),
            (Some("Enabled"), Some("app-1000000"))
        );
        let keys: Vec<&str> = g.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "AppId",
                "CreationTime",
                "IsDefault",
                "Locked",
                "ModifyTime",
                "Name",
                "TranscodeTemplateGroupId"
            ]
        );
        assert!(g["CreationTime"].as_str().unwrap().ends_with('Z'));
    }
    let ladder = get(&h, "VOD_DEFAULT_LADDER").await;
    let templates = ladder["TranscodeTemplateList"].as_array().unwrap();
    assert_eq!(templates.len(), 8);
    for t in templates {
        for k in ["Container", "Audio", "Definition", "TranscodeTemplateId", "Type"] {
            assert!(t[k].is_string(), "{k} of {t}");
        }
        let container: Value = serde_json::from_str(t["Container"].as_str().unwrap()).unwrap();
        assert!(container["Format"].is_string());
    }
    let none = get(&h, "VOD_NO_TRANSCODE").await;
    assert_eq!(none["TranscodeTemplateList"], json!([]));
    assert_eq!(none["IsDefault"], "NotDefault");
}

#[tokio::test]
async fn add_get_update_delete_round_trip() {
    let h = unthrottled().await;
    let id = add(&h, "my group", &json!([tpl("LD", "mp4"), tpl("SD", "m3u8")])).await;
    let g = get(&h, &id).await;
    assert_eq!(
        (
            g["Name"].as_str(),
            g["IsDefault"].as_str(),
            g["Locked"].as_str(),
            g["AppId"].as_str()
        ),
        (
            Some("my group"),
            Some("NotDefault"),
            Some("Disabled"),
            Some("app-1000000")
        )
    );
    assert_eq!(g["TranscodeMode"], "FastTranscode");
    let t = g["TranscodeTemplateList"].as_array().unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(
        serde_json::from_str::<Value>(t[0]["Video"].as_str().unwrap()).unwrap(),
        tpl("LD", "mp4")["Video"],
        "Video is a JSON string of what was given"
    );
    assert_eq!(t[0]["WatermarkIds"], json!(["USER_DEFAULT_WATERMARK"]));
    assert_eq!(t[0]["TemplateName"], "LD mp4");
    let ld_id = t[0]["TranscodeTemplateId"].as_str().unwrap().to_string();
    let sd_id = t[1]["TranscodeTemplateId"].as_str().unwrap().to_string();
    assert_eq!(list(&h).await.len(), 3);

    // Add to the existing group (nested settings may be JSON strings, as Tea callers send).
    let hd = json!([{"Definition": "HD", "TemplateName": "hd", "Container": "{\"Format\":\"mp4\"}",
                     "Video": "{\"Bitrate\":\"2500\",\"Height\":1080}"}]);
    let r = vod(
        &h,
        &[
            ("Action", "AddTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", &id),
            ("TranscodeTemplateList", &hd.to_string()),
        ],
    )
    .await;
    assert_eq!(
        (r.status, r.json()["TranscodeTemplateGroupId"].as_str()),
        (200, Some(id.as_str()))
    );
    assert_eq!(get(&h, &id).await["TranscodeTemplateList"].as_array().unwrap().len(), 3);

    // Update: rename, change one template by id, add one without id.
    let mut changed = tpl("LD", "mp4");
    changed["TranscodeTemplateId"] = json!(ld_id);
    changed["Video"]["Bitrate"] = json!("600");
    let upd = json!([changed, tpl("FD", "flv")]);
    let r = vod(
        &h,
        &[
            ("Action", "UpdateTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", &id),
            ("Name", "renamed"),
            ("TranscodeTemplateList", &upd.to_string()),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["TranscodeTemplateGroupId"], json!(id));
    let g = get(&h, &id).await;
    assert_eq!(g["Name"], "renamed");
    let t = g["TranscodeTemplateList"].as_array().unwrap();
    assert_eq!(t.len(), 4);
    assert_eq!(t[0]["TranscodeTemplateId"], json!(ld_id));
    assert!(t[0]["Video"].as_str().unwrap().contains("\"600\""));

    // Delete some templates: unknown ids come back.
    let r = vod(
        &h,
        &[
            ("Action", "DeleteTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", &id),
            ("TranscodeTemplateIds", &format!("{sd_id},nope")),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["NonExistTranscodeTemplateIds"], json!(["nope"]));
    assert_eq!(get(&h, &id).await["TranscodeTemplateList"].as_array().unwrap().len(), 3);

    // Whole group.
    let r = vod(
        &h,
        &[
            ("Action", "DeleteTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", &id),
            ("ForceDelGroup", "true"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["NonExistTranscodeTemplateIds"], json!([]));
    let r = vod(
        &h,
        &[
            ("Action", "GetTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", &id),
        ],
    )
    .await;
    expect_err(&r, 404, "InvalidTranscodeTemplateGroup.NotFound");
}

#[tokio::test]
async fn defaults_and_locks() {
    let h = unthrottled().await;
    let a = add(&h, "a", &json!([tpl("SD", "mp4")])).await;
    let b = add(&h, "b", &json!([])).await;
    let set_default = |id: String| {
        let h = &h;
        async move {
            vod(
                h,
                &[
                    ("Action", "SetDefaultTranscodeTemplateGroup"),
                    ("TranscodeTemplateGroupId", &id),
                ],
            )
            .await
        }
    };
    let r = set_default(a.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json().as_object().unwrap().len(), 1, "only RequestId");
    assert_eq!(defaults(&list(&h).await), [a.as_str()]);
    assert_eq!(set_default(b.clone()).await.status, 200);
    assert_eq!(defaults(&list(&h).await), [b.as_str()], "one default per app");
    assert_eq!(get(&h, &b).await["IsDefault"], "Default");

    let force = |id: String| {
        let h = &h;
        async move {
            vod(
                h,
                &[
                    ("Action", "DeleteTranscodeTemplateGroup"),
                    ("TranscodeTemplateGroupId", &id),
                    ("ForceDelGroup", "True"),
                ],
            )
            .await
        }
    };
    expect_err(&force(b.clone()).await, 403, "Forbidden.DefaultTemplateGroup");
    assert_eq!(set_default("VOD_NO_TRANSCODE".into()).await.status, 200);
    assert_eq!(defaults(&list(&h).await), ["VOD_NO_TRANSCODE"]);
    assert_eq!(force(b.clone()).await.status, 200);

    // Locked: content changes are refused, unlocking works.
    let lock = |state: &'static str| {
        let (h, a) = (&h, a.clone());
        async move {
            vod(
                h,
                &[
                    ("Action", "UpdateTranscodeTemplateGroup"),
                    ("TranscodeTemplateGroupId", &a),
                    ("Locked", state),
                    ("Name", "ignored with Locked"),
                ],
            )
            .await
        }
    };
    assert_eq!(lock("Enabled").await.status, 200);
    let g = get(&h, &a).await;
    assert_eq!((g["Locked"].as_str(), g["Name"].as_str()), (Some("Enabled"), Some("a")));
    let rename = vod(
        &h,
        &[
            ("Action", "UpdateTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", &a),
            ("Name", "x"),
        ],
    )
    .await;
    expect_err(&rename, 403, "Forbidden.LockedTemplateGroup");
    let add_to = vod(
        &h,
        &[
            ("Action", "AddTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", &a),
            ("TranscodeTemplateList", &json!([tpl("HD", "mp4")]).to_string()),
        ],
    )
    .await;
    expect_err(&add_to, 403, "Forbidden.LockedTemplateGroup");
    let del_some = vod(
        &h,
        &[
            ("Action", "DeleteTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", &a),
            ("TranscodeTemplateIds", "x"),
        ],
    )
    .await;
    expect_err(&del_some, 403, "Forbidden.LockedTemplateGroup");
    expect_err(&force(a.clone()).await, 403, "Forbidden.LockedTemplateGroup");
    assert_eq!(
        set_default(a.clone()).await.status,
        200,
        "a locked group can be the default"
    );
    assert_eq!(set_default("VOD_DEFAULT_LADDER".into()).await.status, 200);
    assert_eq!(lock("Disabled").await.status, 200);
    assert_eq!(force(a.clone()).await.status, 200);
    assert_eq!(defaults(&list(&h).await), ["VOD_DEFAULT_LADDER"]);
}

#[tokio::test]
async fn xml_v3_and_paging() {
    let h = unthrottled().await;
    let id = add(&h, "x&y", &json!([tpl("LD", "mp4"), tpl("SD", "mp4")])).await;
    let xml = call(
        &h.app,
        v1(
            "POST",
            &[
                ("Action", "GetTranscodeTemplateGroup"),
                ("TranscodeTemplateGroupId", &id),
            ],
            AK,
            SECRET,
            &[("Format", "XML")],
        ),
    )
    .await;
    assert_eq!(xml.status, 200, "{}", xml.body);
    assert!(xml.body.contains("<GetTranscodeTemplateGroupResponse>"), "{}", xml.body);
    assert!(xml.body.contains("<Name>x&amp;y</Name>"), "{}", xml.body);
    assert_eq!(
        xml.body.matches("<TranscodeTemplateList>").count(),
        2,
        "direct array: {}",
        xml.body
    );
    assert!(
        xml.body.contains("<WatermarkIds>USER_DEFAULT_WATERMARK</WatermarkIds>"),
        "{}",
        xml.body
    );
    let xml = call(
        &h.app,
        v1(
            "POST",
            &[("Action", "ListTranscodeTemplateGroup")],
            AK,
            SECRET,
            &[("Format", "XML")],
        ),
    )
    .await;
    assert_eq!(
        xml.body.matches("<TranscodeTemplateGroupList>").count(),
        3,
        "{}",
        xml.body
    );

    let v3 = call(
        &h.app,
        v3(
            "GetTranscodeTemplateGroup",
            "2017-03-21",
            &[("TranscodeTemplateGroupId", &id)],
            SECRET,
            &nonce(),
            &now_iso(),
        ),
    )
    .await;
    assert_eq!(v3.status, 200, "{}", v3.body);
    assert_eq!(
        v3.json()["TranscodeTemplateGroup"]["TranscodeTemplateGroupId"],
        json!(id)
    );

    let page = vod(
        &h,
        &[
            ("Action", "ListTranscodeTemplateGroup"),
            ("PageNo", "2"),
            ("PageSize", "2"),
        ],
    )
    .await;
    let page = page.json()["TranscodeTemplateGroupList"].as_array().unwrap().clone();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["TranscodeTemplateGroupId"], json!(id));
}
