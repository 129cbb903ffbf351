//! In-process tests of the request pipeline: signatures, clock, nonces, formats, errors,
//! RAM and throttling, driven through the axum router with signed requests.

mod common;

use common::*;
use vod_api::GatewayConfig;

#[tokio::test]
async fn v1_and_v3_good_calls() {
    let h = harness().await;
    let r = call(
        &h.app,
        v1(
            "POST",
            &[("Action", "GetAppInfos"), ("AppIds", "app-1000000")],
            AK,
            SECRET,
            &[],
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type, "application/json;charset=utf-8");
    let j = r.json();
    assert_eq!(j["RequestId"], r.request_id.as_str());
    assert_eq!(j["AppInfoList"][0]["AppId"], "app-1000000");

    let r = call(
        &h.app,
        v3(
            "GetAppInfos",
            "2017-03-21",
            &[("AppIds", "app-1000000")],
            SECRET,
            &nonce(),
            &now_iso(),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["AppInfoList"][0]["Type"], "System");
}

#[tokio::test]
async fn v1_wrong_secret_names_the_string_to_sign() {
    let h = harness().await;
    let r = call(&h.app, v1("GET", &[("Action", "ListAppInfo")], AK, "nope", &[])).await;
    assert_eq!(r.status, 400);
    let j = r.json();
    assert_eq!(j["Code"], "SignatureDoesNotMatch");
    let msg = j["Message"].as_str().unwrap();
    let sts = msg.split_once(':').unwrap().1;
    assert!(
        sts.starts_with("GET&%2F&AccessKeyId%3DtestAK%26Action%3DListAppInfo"),
        "{msg}"
    );
}

#[tokio::test]
async fn v3_wrong_secret_and_unknown_key() {
    let h = harness().await;
    let r = call(
        &h.app,
        v3("ListAppInfo", "2017-03-21", &[], "nope", &nonce(), &now_iso()),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["Code"].as_str().unwrap()),
        (400, "SignatureDoesNotMatch")
    );
    assert!(
        r.json()["Message"]
            .as_str()
            .unwrap()
            .contains("server string to sign is:ACS3-HMAC-SHA256\n")
    );

    let r = call(
        &h.app,
        v1("POST", &[("Action", "ListAppInfo")], "LTAInobody", SECRET, &[]),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["Code"].as_str().unwrap()),
        (404, "InvalidAccessKeyId.NotFound")
    );
}

#[tokio::test]
async fn nonce_replay_is_refused() {
    let h = harness().await;
    let n = nonce();
    let date = now_iso();
    let first = call(&h.app, v3("ListAppInfo", "2017-03-21", &[], SECRET, &n, &date)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let again = call(&h.app, v3("ListAppInfo", "2017-03-21", &[], SECRET, &n, &date)).await;
    assert_eq!(
        (again.status, again.json()["Code"].as_str().unwrap()),
        (400, "SignatureNonceUsed")
    );
}

#[tokio::test]
async fn clock_skew_and_malformed_timestamps() {
    let h = harness().await;
    let stale = vod_wire::timefmt::iso8601(vod_core::now_ms() - 16 * 60 * 1000);
    let r = call(&h.app, v3("ListAppInfo", "2017-03-21", &[], SECRET, &nonce(), &stale)).await;
    assert_eq!(
        (r.status, r.json()["Code"].as_str().unwrap()),
        (400, "InvalidTimeStamp.Expired")
    );
    let r = call(
        &h.app,
        v1(
            "POST",
            &[("Action", "ListAppInfo")],
            AK,
            SECRET,
            &[("Timestamp", "yesterday")],
        ),
    )
    .await;
    assert_eq!(r.json()["Code"], "InvalidTimeStamp.Format");
    let within = vod_wire::timefmt::iso8601(vod_core::now_ms() - 14 * 60 * 1000);
    let r = call(&h.app, v3("ListAppInfo", "2017-03-21", &[], SECRET, &nonce(), &within)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn unknown_action_or_version_and_missing_params() {
    let h = harness().await;
    let r = call(&h.app, v1("POST", &[("Action", "NoSuchAction")], AK, SECRET, &[])).await;
    assert_eq!(
        (r.status, r.json()["Code"].as_str().unwrap()),
        (404, "InvalidAction.NotFound")
    );
    let r = call(
        &h.app,
        v1(
            "POST",
            &[("Action", "ListAppInfo")],
            AK,
            SECRET,
            &[("Version", "2099-01-01")],
        ),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["Code"].as_str().unwrap()),
        (404, "InvalidAction.NotFound")
    );
    let r = call(&h.app, v1("POST", &[("Action", "CreateAppInfo")], AK, SECRET, &[])).await;
    let j = r.json();
    assert_eq!((r.status, j["Code"].as_str().unwrap()), (400, "MissingParameter"));
    assert!(j["Message"].as_str().unwrap().contains("\"AppName\""));
    let r = call(
        &h.app,
        v1(
            "POST",
            &[("Action", "ListAppInfo"), ("PageSize", "101")],
            AK,
            SECRET,
            &[],
        ),
    )
    .await;
    assert_eq!(r.json()["Code"], "InvalidParameter");
}

#[tokio::test]
async fn xml_is_the_v1_default_and_format_is_case_insensitive() {
    let h = harness().await;
    let r = call(
        &h.app,
        v1(
            "POST",
            &[("Action", "GetAppInfos"), ("AppIds", "app-1000000,app-x")],
            AK,
            SECRET,
            &[("Format", "xml")],
        ),
    )
    .await;
    assert_eq!(r.content_type, "text/xml;charset=utf-8");
    assert!(r.body.contains("<GetAppInfosResponse><RequestId>"), "{}", r.body);
    assert!(r.body.contains("<NonExistAppIds>app-x</NonExistAppIds>"));
    let mut req = v1("POST", &[("Action", "ListAppInfo")], AK, "bad", &[]);
    // Drop Format entirely: rebuild the query without it (the signature is wrong anyway).
    let q = req
        .uri()
        .query()
        .unwrap()
        .split('&')
        .filter(|p| !p.starts_with("Format="))
        .collect::<Vec<_>>()
        .join("&");
    *req.uri_mut() = format!("/?{q}").parse().unwrap();
    let r = call(&h.app, req).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.content_type, "text/xml;charset=utf-8");
    assert!(
        r.body
            .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><RequestId>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("<Code>SignatureDoesNotMatch</Code>"));
}

#[tokio::test]
async fn ram_user_policy_is_enforced() {
    let h = harness().await;
    let store = h.state.store();
    let account = store.first_account().await.unwrap().unwrap();
    let user = vod_core::service::identity::create_user(
        store,
        &account.id,
        "reader",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"vod:Get*","Resource":"*"}]}"#,
    )
    .await
    .unwrap();
    let key = vod_core::service::identity::new_key(&account.id, Some(&user.id));
    store.create_access_key(&key).await.unwrap();
    let ok = call(
        &h.app,
        v1(
            "POST",
            &[("Action", "GetAppInfos"), ("AppIds", "app-1000000")],
            &key.id,
            &key.secret,
            &[],
        ),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let denied = call(
        &h.app,
        v1("POST", &[("Action", "ListAppInfo")], &key.id, &key.secret, &[]),
    )
    .await;
    assert_eq!(
        (denied.status, denied.json()["Code"].as_str().unwrap()),
        (403, "Forbidden.RAM")
    );
}

#[tokio::test]
async fn throttling_user_over_the_limit() {
    let mut cfg = GatewayConfig::default();
    cfg.throttle.actions.insert("ListAppInfo".into(), 2);
    let h = harness_with(cfg).await;
    let mut codes = Vec::new();
    for _ in 0..5 {
        let r = call(&h.app, v1("POST", &[("Action", "ListAppInfo")], AK, SECRET, &[])).await;
        codes.push((
            r.status,
            r.json().get("Code").and_then(|c| c.as_str()).unwrap_or("").to_string(),
        ));
    }
    assert_eq!(codes.iter().filter(|(s, _)| *s == 200).count(), 2, "{codes:?}");
    assert!(codes.contains(&(400, "Throttling.User".to_string())), "{codes:?}");
}

#[tokio::test]
async fn host_header_does_not_matter_and_form_bodies_work() {
    let h = harness().await;
    let mut req = v1(
        "POST",
        &[("Action", "GetAppInfos"), ("AppIds", "app-1000000")],
        AK,
        SECRET,
        &[],
    );
    req.headers_mut()
        .insert("host", "vod.cn-shanghai.aliyuncs.com".parse().unwrap());
    assert_eq!(call(&h.app, req).await.status, 200);

    // Same parameters moved into an x-www-form-urlencoded body (signature over the union).
    let req = v1(
        "POST",
        &[("Action", "GetAppInfos"), ("AppIds", "app-1000000")],
        AK,
        SECRET,
        &[],
    );
    let q = req.uri().query().unwrap().to_string();
    let req = http::Request::builder()
        .method("POST")
        .uri("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(q))
        .unwrap();
    let r = call(&h.app, req).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn categories_in_vod_and_ice_are_separate_trees() {
    let h = harness().await;
    let r = call(
        &h.app,
        v1(
            "POST",
            &[("Action", "AddCategory"), ("CateName", "Sports")],
            AK,
            SECRET,
            &[],
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let top = r.json()["Category"]["CateId"].as_i64().unwrap();
    let r = call(
        &h.app,
        v1(
            "POST",
            &[
                ("Action", "AddCategory"),
                ("CateName", "Football"),
                ("ParentId", &top.to_string()),
            ],
            AK,
            SECRET,
            &[],
        ),
    )
    .await;
    assert_eq!(r.json()["Category"]["Level"], 1);
    let r = call(
        &h.app,
        v3("GetCategories", "2017-03-21", &[], SECRET, &nonce(), &now_iso()),
    )
    .await;
    let j = r.json();
    assert_eq!(j["SubTotal"], 1);
    assert_eq!(j["SubCategories"]["Category"][0]["CateName"], "Sports");
    assert_eq!(j["SubCategories"]["Category"][0]["SubTotal"], 1);
    let r = call(
        &h.app,
        v3("GetCategories", "2020-11-09", &[], SECRET, &nonce(), &now_iso()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["SubTotal"], 0, "ICE has its own tree");
    let r = call(
        &h.app,
        v1(
            "POST",
            &[("Action", "DeleteCategory"), ("CateId", "7")],
            AK,
            SECRET,
            &[],
        ),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["Code"].as_str().unwrap()),
        (404, "InvalidCateId.NotFound")
    );
}

#[tokio::test]
async fn sts_tokens_sign_calls_until_they_expire() {
    use vod_auth::sts::{self, StsClaims};
    let h = harness().await;
    let account = h.state.store().first_account().await.unwrap().unwrap();
    let now = vod_core::now_ms() / 1000;
    let claims = |expires_at| StsClaims {
        v: sts::CLAIMS_VERSION,
        account_id: account.id.clone(),
        principal: "root".into(),
        expires_at,
        issued_at: now,
        scope: None,
        generation: None,
    };
    let cred = sts::issue(&h.state.0.master_key, &claims(now + 600));
    let req = v1(
        "POST",
        &[("Action", "ListAppInfo")],
        &cred.access_key_id,
        &cred.access_key_secret,
        &[("SecurityToken", &cred.security_token)],
    );
    assert_eq!(call(&h.app, req).await.status, 200);
    let old = sts::issue(&h.state.0.master_key, &claims(now - 1));
    let req = v1(
        "POST",
        &[("Action", "ListAppInfo")],
        &old.access_key_id,
        &old.access_key_secret,
        &[("SecurityToken", &old.security_token)],
    );
    assert_eq!(call(&h.app, req).await.json()["Code"], "InvalidSecurityToken.Expired");
    let req = v1(
        "POST",
        &[("Action", "ListAppInfo")],
        &cred.access_key_id,
        &cred.access_key_secret,
        &[("SecurityToken", "CAISforged.sig")],
    );
    assert_eq!(call(&h.app, req).await.json()["Code"], "InvalidSecurityToken.Malformed");
}

#[tokio::test]
async fn added_routes_answer_their_exact_path_and_every_other_path_is_rpc() {
    let h = harness().await;
    let app = h
        .app
        .clone()
        .route("/metrics", axum::routing::get(|| async { "counters" }));
    let get = |path: &str| {
        http::Request::builder()
            .uri(path)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let r = call(&app, get("/metrics")).await;
    assert_eq!((r.status, r.body.as_str()), (200, "counters"));
    for path in ["/metrics/", "/metricsx", "/"] {
        let r = call(&app, get(path)).await;
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert!(r.body.contains("<Code>MissingAction</Code>"), "{path}: {}", r.body);
        assert!(!r.request_id.is_empty(), "{path}");
    }
    // A signed call on any path is RPC.
    let mut req = v1(
        "GET",
        &[("Action", "GetAppInfos"), ("AppIds", "app-1000000")],
        AK,
        SECRET,
        &[],
    );
    *req.uri_mut() = format!("/some/path?{}", req.uri().query().unwrap()).parse().unwrap();
    assert_eq!(call(&app, req).await.status, 200);
}
