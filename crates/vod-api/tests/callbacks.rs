//! SetMessageCallback / GetMessageCallback / DeleteMessageCallback through the signed
//! gateway (V1 and V3, JSON and XML).

mod common;

use common::*;
use serde_json::json;

async fn vod(h: &Harness, params: &[(&str, &str)]) -> Reply {
    call(&h.app, v1("POST", params, AK, SECRET, &[])).await
}

#[tokio::test]
async fn set_get_delete_round_trip_on_the_default_app() {
    let h = harness().await;
    let r = vod(&h, &[("Action", "GetMessageCallback")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["MessageCallback"],
        json!({"AppId": "app-1000000"}),
        "nothing configured yet"
    );

    let r = vod(
        &h,
        &[
            ("Action", "SetMessageCallback"),
            ("CallbackType", "HTTP"),
            ("CallbackURL", "http://127.0.0.1:9999/cb"),
            ("EventTypeList", "FileUploadComplete, TranscodeComplete"),
            ("AuthSwitch", "on"),
            ("AuthKey", "Key123abc"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert!(body["RequestId"].is_string());
    assert_eq!(body.as_object().unwrap().len(), 1, "only RequestId: {body}");

    let r = vod(&h, &[("Action", "GetMessageCallback"), ("AppId", "app-1000000")]).await;
    let got = r.json();
    assert_eq!(
        got["MessageCallback"],
        json!({
            "AppId": "app-1000000",
            "CallbackType": "HTTP",
            "CallbackURL": "http://127.0.0.1:9999/cb",
            "AuthKey": "Key123abc",
            "EventTypeList": "FileUploadComplete,TranscodeComplete",
            "AuthSwitch": "on",
        })
    );

    // A partial update keeps the rest.
    let r = vod(
        &h,
        &[
            ("Action", "SetMessageCallback"),
            ("EventTypeList", "ALL"),
            ("AuthSwitch", "off"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mc = vod(&h, &[("Action", "GetMessageCallback")]).await.json()["MessageCallback"].clone();
    assert_eq!(mc["EventTypeList"], "ALL");
    assert_eq!(mc["AuthSwitch"], "off");
    assert_eq!(mc["CallbackURL"], "http://127.0.0.1:9999/cb");

    let r = vod(&h, &[("Action", "DeleteMessageCallback")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        vod(&h, &[("Action", "GetMessageCallback")]).await.json()["MessageCallback"],
        json!({"AppId": "app-1000000"})
    );
    assert_eq!(
        vod(&h, &[("Action", "DeleteMessageCallback")]).await.status,
        200,
        "deleting nothing is fine"
    );
}

#[tokio::test]
async fn defaults_on_first_set_and_mns_is_stored() {
    let h = harness().await;
    let r = vod(
        &h,
        &[
            ("Action", "SetMessageCallback"),
            ("CallbackURL", "https://cb.example.com/x"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mc = vod(&h, &[("Action", "GetMessageCallback")]).await.json()["MessageCallback"].clone();
    assert_eq!(
        mc,
        json!({"AppId": "app-1000000", "CallbackType": "HTTP", "CallbackURL": "https://cb.example.com/x", "EventTypeList": "ALL", "AuthSwitch": "off"})
    );

    // A key alone turns signing on.
    vod(&h, &[("Action", "SetMessageCallback"), ("AuthKey", "Abc123")]).await;
    let mc = vod(&h, &[("Action", "GetMessageCallback")]).await.json()["MessageCallback"].clone();
    assert_eq!(
        (mc["AuthSwitch"].as_str(), mc["AuthKey"].as_str()),
        (Some("on"), Some("Abc123"))
    );

    let r = vod(
        &h,
        &[
            ("Action", "SetMessageCallback"),
            ("CallbackType", "MNS"),
            ("MnsEndpoint", "https://1234.mns.cn-shanghai.aliyuncs.com/"),
            ("MnsQueueName", "vod-events"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mc = vod(&h, &[("Action", "GetMessageCallback")]).await.json()["MessageCallback"].clone();
    assert_eq!(mc["CallbackType"], "MNS");
    assert_eq!(mc["MnsEndpoint"], "https://1234.mns.cn-shanghai.aliyuncs.com/");
    assert_eq!(mc["MnsQueueName"], "vod-events");

    // Explicitly empty EventTypeList switches every notification off.
    vod(&h, &[("Action", "SetMessageCallback"), ("EventTypeList", "")]).await;
    assert_eq!(
        vod(&h, &[("Action", "GetMessageCallback")]).await.json()["MessageCallback"]["EventTypeList"],
        ""
    );
}

/// Extra parameters, expected status, code and a word the message must contain.
type Case = (&'static [(&'static str, &'static str)], u16, &'static str, &'static str);

#[tokio::test]
async fn validation_names_the_parameter() {
    let h = harness().await;
    let cases: &[Case] = &[
        (
            &[("CallbackType", "SMTP"), ("CallbackURL", "http://x/")],
            400,
            "InvalidParameter",
            "CallbackType",
        ),
        (&[("CallbackURL", "ftp://x/")], 400, "InvalidParameter", "CallbackURL"),
        (&[("CallbackURL", "not a url")], 400, "InvalidParameter", "CallbackURL"),
        (
            &[("CallbackURL", "http://x/"), ("AuthSwitch", "maybe")],
            400,
            "InvalidParameter",
            "AuthSwitch",
        ),
        (
            &[("CallbackURL", "http://x/"), ("AuthKey", "alllowercase1")],
            400,
            "InvalidParameter",
            "AuthKey",
        ),
        (
            &[("CallbackURL", "http://x/"), ("AuthKey", "ALLUPPER1")],
            400,
            "InvalidParameter",
            "AuthKey",
        ),
        (
            &[("CallbackURL", "http://x/"), ("AuthKey", "NoDigitsHere")],
            400,
            "InvalidParameter",
            "AuthKey",
        ),
        (
            &[
                ("CallbackURL", "http://x/"),
                ("AuthKey", "Ab1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
            ],
            400,
            "InvalidParameter",
            "AuthKey",
        ),
        (
            &[("CallbackURL", "http://x/"), ("EventTypeList", "File Upload")],
            400,
            "InvalidParameter",
            "EventTypeList",
        ),
        (&[("CallbackType", "HTTP")], 400, "MissingParameter", "CallbackURL"),
        (
            &[("CallbackURL", "http://x/"), ("AuthSwitch", "on")],
            400,
            "MissingParameter",
            "AuthKey",
        ),
        (
            &[("CallbackType", "MNS"), ("MnsQueueName", "q")],
            400,
            "MissingParameter",
            "MnsEndpoint",
        ),
        (
            &[("CallbackURL", "http://x/"), ("AppId", "app-404")],
            404,
            "AppNotExist",
            "app-404",
        ),
    ];
    for (params, status, code, name) in cases {
        let mut all = vec![("Action", "SetMessageCallback")];
        all.extend_from_slice(params);
        let r = vod(&h, &all).await;
        let body = r.json();
        assert_eq!(
            (r.status, body["Code"].as_str().unwrap()),
            (*status, *code),
            "{params:?}: {}",
            r.body
        );
        assert!(
            body["Message"].as_str().unwrap().contains(name),
            "{params:?}: {}",
            r.body
        );
    }
    assert_eq!(
        vod(&h, &[("Action", "GetMessageCallback")]).await.json()["MessageCallback"],
        json!({"AppId": "app-1000000"}),
        "nothing stored"
    );
    for action in ["GetMessageCallback", "DeleteMessageCallback"] {
        let r = vod(&h, &[("Action", action), ("AppId", "app-404")]).await;
        assert_eq!(
            (r.status, r.json()["Code"].as_str().unwrap()),
            (404, "AppNotExist"),
            "{action}"
        );
    }
}

#[tokio::test]
async fn per_app_settings_and_v3_and_xml() {
    let h = harness().await;
    let created = vod(&h, &[("Action", "CreateAppInfo"), ("AppName", "second")])
        .await
        .json();
    let app = created["AppId"].as_str().unwrap().to_string();
    let r = call(
        &h.app,
        v3(
            "SetMessageCallback",
            "2017-03-21",
            &[("AppId", &app), ("CallbackURL", "http://a.example/cb")],
            SECRET,
            &nonce(),
            &now_iso(),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &h.app,
        v3(
            "GetMessageCallback",
            "2017-03-21",
            &[("AppId", &app)],
            SECRET,
            &nonce(),
            &now_iso(),
        ),
    )
    .await;
    assert_eq!(r.json()["MessageCallback"]["CallbackURL"], "http://a.example/cb");
    assert_eq!(r.json()["MessageCallback"]["AppId"], app.as_str());
    assert_eq!(
        vod(&h, &[("Action", "GetMessageCallback")]).await.json()["MessageCallback"],
        json!({"AppId": "app-1000000"}),
        "the default app is separate"
    );

    let xml = call(
        &h.app,
        v1(
            "POST",
            &[("Action", "GetMessageCallback"), ("AppId", &app)],
            AK,
            SECRET,
            &[("Format", "XML")],
        ),
    )
    .await;
    assert_eq!(xml.status, 200);
    assert!(xml.body.contains("<GetMessageCallbackResponse>"), "{}", xml.body);
    assert!(
        xml.body.contains(&format!(
            "<MessageCallback><AppId>{app}</AppId><CallbackType>HTTP</CallbackType><CallbackURL>http://a.example/cb</CallbackURL><EventTypeList>ALL</EventTypeList><AuthSwitch>off</AuthSwitch></MessageCallback>"
        )),
        "{}",
        xml.body
    );

    // Deleting the app deletes its settings.
    assert_eq!(
        vod(&h, &[("Action", "DeleteAppInfo"), ("AppId", &app)]).await.status,
        200
    );
    assert!(
        h.state
            .store()
            .get_message_callback(&h.state.store().first_account().await.unwrap().unwrap().id, &app)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn ram_users_need_access_to_the_app() {
    let h = harness().await;
    let store = h.state.store();
    let account = store.first_account().await.unwrap().unwrap();
    let user = vod_core::service::identity::create_user(
        store,
        &account.id,
        "cb-admin",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"vod:*MessageCallback","Resource":"acs:vod:*:*:app/app-1000000"}]}"#,
    )
    .await
    .unwrap();
    let key = vod_core::service::identity::new_key(&account.id, Some(&user.id));
    store.create_access_key(&key).await.unwrap();
    let other = vod(&h, &[("Action", "CreateAppInfo"), ("AppName", "other")])
        .await
        .json()["AppId"]
        .as_str()
        .unwrap()
        .to_string();

    let as_user = |params: Vec<(&'static str, String)>| {
        let owned: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        v1("POST", &owned, &key.id, &key.secret, &[])
    };
    let ok = call(
        &h.app,
        as_user(vec![
            ("Action", "SetMessageCallback".into()),
            ("CallbackURL", "http://x/".into()),
        ]),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let denied = call(
        &h.app,
        as_user(vec![
            ("Action", "SetMessageCallback".into()),
            ("AppId", other.clone()),
            ("CallbackURL", "http://x/".into()),
        ]),
    )
    .await;
    assert_eq!(
        (denied.status, denied.json()["Code"].as_str().unwrap()),
        (403, "Forbidden"),
        "{}",
        denied.body
    );
    let denied = call(
        &h.app,
        as_user(vec![("Action", "GetMessageCallback".into()), ("AppId", other)]),
    )
    .await;
    assert_eq!(denied.status, 403, "{}", denied.body);
}
