//! Transcode template groups through the signed gateway: the refusals (missing and invalid
//! parameters, unknown groups, built-in groups, limits) and their Alibaba codes.

mod common;
mod templates_util;

use serde_json::{Value, json};
use templates_util::*;

#[tokio::test]
async fn builtin_groups_cannot_change() {
    let h = unthrottled().await;
    for id in ["VOD_DEFAULT_LADDER", "VOD_NO_TRANSCODE"] {
        let list = json!([tpl("SD", "mp4")]).to_string();
        for params in [
            vec![
                ("Action", "AddTranscodeTemplateGroup"),
                ("TranscodeTemplateList", list.as_str()),
            ],
            vec![("Action", "UpdateTranscodeTemplateGroup"), ("Name", "x")],
            vec![("Action", "UpdateTranscodeTemplateGroup"), ("Locked", "Disabled")],
            vec![("Action", "DeleteTranscodeTemplateGroup"), ("ForceDelGroup", "true")],
            vec![
                ("Action", "DeleteTranscodeTemplateGroup"),
                ("TranscodeTemplateIds", "a"),
            ],
        ] {
            let mut params = params.clone();
            params.push(("TranscodeTemplateGroupId", id));
            expect_err(&vod(&h, &params).await, 403, "Forbidden.SpecialTemplateGroup");
        }
    }
}

#[tokio::test]
async fn parameter_errors() {
    let h = unthrottled().await;
    let msg = expect_err(
        &vod(&h, &[("Action", "AddTranscodeTemplateGroup")]).await,
        400,
        "MissingParameter",
    );
    assert!(msg.contains("\"Name\""), "{msg}");
    for action in [
        "UpdateTranscodeTemplateGroup",
        "GetTranscodeTemplateGroup",
        "SetDefaultTranscodeTemplateGroup",
        "DeleteTranscodeTemplateGroup",
    ] {
        let msg = expect_err(&vod(&h, &[("Action", action)]).await, 400, "MissingParameter");
        assert!(msg.contains("\"TranscodeTemplateGroupId\""), "{action}: {msg}");
        let r = vod(
            &h,
            &[
                ("Action", action),
                ("TranscodeTemplateGroupId", "0123456789abcdef0123456789abcdef"),
                ("ForceDelGroup", "true"),
            ],
        )
        .await;
        expect_err(&r, 404, "InvalidTranscodeTemplateGroup.NotFound");
    }
    let r = vod(
        &h,
        &[
            ("Action", "AddTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", "0123456789abcdef0123456789abcdef"),
        ],
    )
    .await;
    expect_err(&r, 404, "InvalidTranscodeTemplateGroup.NotFound");

    let bad = |list: String| {
        let h = &h;
        async move {
            vod(
                h,
                &[
                    ("Action", "AddTranscodeTemplateGroup"),
                    ("Name", "n"),
                    ("TranscodeTemplateList", &list),
                ],
            )
            .await
        }
    };
    let mut wrong = tpl("SD", "mp4");
    wrong["Video"]["Bitrate"] = json!("abc");
    let msg = expect_err(
        &bad(json!([tpl("LD", "mp4"), wrong]).to_string()).await,
        400,
        "InvalidParameter",
    );
    assert!(
        msg.contains("TranscodeTemplateList") && msg.contains("template 2") && msg.contains("Video.Bitrate"),
        "{msg}"
    );
    let msg = expect_err(&bad("not json".into()).await, 400, "InvalidParameter");
    assert!(msg.contains("JSON array"), "{msg}");
    let msg = expect_err(
        &bad(json!([tpl("LD", "mp4"), tpl("LD", "mp4")]).to_string()).await,
        400,
        "InvalidParameter",
    );
    assert!(msg.contains("Definition LD and format mp4"), "{msg}");
    let many: Vec<Value> = (0..21).map(|_| tpl("LD", "mp4")).collect();
    expect_err(
        &bad(Value::Array(many).to_string()).await,
        400,
        "TranscodeTemplateExceededMax",
    );
    let mut marked = tpl("LD", "mp4");
    marked["WatermarkIds"] = json!(["a", "b", "c", "d", "e"]);
    expect_err(&bad(json!([marked]).to_string()).await, 400, "WatermarkExceededMax");
    let long = "n".repeat(129);
    let r = vod(&h, &[("Action", "AddTranscodeTemplateGroup"), ("Name", &long)]).await;
    assert!(expect_err(&r, 400, "InvalidParameter").contains("\"Name\""));

    let id = add(&h, "g", &json!([tpl("LD", "mp4")])).await;
    let r = vod(
        &h,
        &[
            ("Action", "UpdateTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", &id),
            ("Locked", "sometimes"),
        ],
    )
    .await;
    assert!(expect_err(&r, 400, "InvalidParameter").contains("\"Locked\""));
    let mut unknown = tpl("SD", "mp4");
    unknown["TranscodeTemplateId"] = json!("ffffffffffffffffffffffffffffffff");
    let mut redefined = tpl("HD", "mp4");
    let ld_id = get(&h, &id).await["TranscodeTemplateList"][0]["TranscodeTemplateId"].clone();
    redefined["TranscodeTemplateId"] = ld_id;
    for (list, why) in [(unknown, "is not in the group"), (redefined, "cannot be changed")] {
        let r = vod(
            &h,
            &[
                ("Action", "UpdateTranscodeTemplateGroup"),
                ("TranscodeTemplateGroupId", &id),
                ("TranscodeTemplateList", &json!([list]).to_string()),
            ],
        )
        .await;
        assert!(expect_err(&r, 400, "InvalidParameter").contains(why));
    }
    let r = vod(
        &h,
        &[
            ("Action", "DeleteTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", &id),
        ],
    )
    .await;
    assert!(expect_err(&r, 400, "MissingParameter").contains("TranscodeTemplateIds"));
    let r = vod(
        &h,
        &[
            ("Action", "DeleteTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", &id),
            ("ForceDelGroup", "maybe"),
        ],
    )
    .await;
    expect_err(&r, 400, "InvalidParameter");
    let r = vod(&h, &[("Action", "ListTranscodeTemplateGroup"), ("AppId", "app-nope")]).await;
    expect_err(&r, 404, "AppNotExist");
}
