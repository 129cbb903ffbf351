//! SearchMedia through the gateway: the Match language (fuzzy titles, `in` lists, time
//! ranges, and/or, parentheses), SearchType, sorting, PageNo/PageSize and ScrollToken
//! paging, Fields, JSON types and XML, and RAM users seeing only their apps.

mod common;
mod media_util;

use common::*;
use media_util::*;
use serde_json::{Value, json};
use vod_core::model::media::MediaStatus;

async fn search(h: &Harness, params: &[(&str, &str)]) -> Value {
    let mut p = vec![("Action", "SearchMedia")];
    p.extend_from_slice(params);
    let r = vod(h, &p).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn titles(j: &Value) -> Vec<String> {
    j["MediaList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["Video"]
                .get("Title")
                .or(m["Audio"].get("Title"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Six videos and one audio, created in this order, some uploaded.
async fn library(h: &Harness) -> Vec<String> {
    let mut ids = Vec::new();
    for (title, tags) in [
        ("Cats at home", "pets,cats"),
        ("Dogs at home", "pets,dogs"),
        ("cat videos 2", "cats"),
        ("Mountains", "nature"),
        ("Rivers", "nature,water"),
        ("Cooking 100% real", ""),
    ] {
        let (id, addr, _) = create_video(h, &[("Title", title), ("Tags", tags)]).await;
        if title.starts_with('D') || title.starts_with('M') {
            upload_to(h, &addr, 1000, title, &id).await;
        }
        ids.push(id);
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let (id, _, _) = create_video(h, &[("Title", "cat song"), ("FileName", "song.mp3")]).await;
    ids.push(id);
    ids
}

#[tokio::test]
async fn match_expressions() {
    let h = media_harness().await;
    let ids = library(&h).await;

    let j = search(&h, &[]).await;
    assert_eq!(j["Total"], json!(6), "videos only by default");
    assert_eq!(titles(&j)[0], "Cooking 100% real", "newest first");

    let j = search(&h, &[("Match", "Title = 'cat'")]).await;
    assert_eq!(
        titles(&j),
        ["cat videos 2", "Cats at home"],
        "fuzzy and case-insensitive"
    );
    let j = search(&h, &[("Match", "Title == 'Mountains'")]).await;
    assert_eq!(titles(&j), ["Mountains"]);
    let j = search(&h, &[("Match", "Title = '100%'")]).await;
    assert_eq!(titles(&j), ["Cooking 100% real"], "% is literal");

    let j = search(&h, &[("Match", "Status in ('UploadSucc','Normal')")]).await;
    assert_eq!(titles(&j), ["Mountains", "Dogs at home"]);
    let j = search(&h, &[("Match", "Status = 'Uploading'")]).await;
    assert_eq!(j["Total"], json!(4));

    let j = search(&h, &[("Match", "Tags = 'nature'")]).await;
    assert_eq!(titles(&j), ["Rivers", "Mountains"]);
    let j = search(&h, &[("Match", "Tags in ('dogs','water')")]).await;
    assert_eq!(titles(&j), ["Rivers", "Dogs at home"]);

    let j = search(&h, &[("Match", "Title = 'home' and Status = 'UploadSucc'")]).await;
    assert_eq!(titles(&j), ["Dogs at home"]);
    let j = search(
        &h,
        &[("Match", "Title = 'rivers' or (Tags = 'cats' and Title = 'home')")],
    )
    .await;
    assert_eq!(titles(&j), ["Rivers", "Cats at home"]);
    let id_list = format!("VideoId in ('{}','{}')", ids[0], ids[3]);
    let j = search(&h, &[("Match", &id_list)]).await;
    assert_eq!(titles(&j), ["Mountains", "Cats at home"]);

    // Creation-time ranges (unix ms or UTC times): inclusive, either side open.
    let m1 = media(&h, &ids[1]).await.created_at;
    let m3 = media(&h, &ids[3]).await.created_at;
    let exact = format!("CreationTime = ({m1},{m3})");
    let j = search(&h, &[("Match", &exact)]).await;
    assert_eq!(titles(&j), ["Mountains", "cat videos 2", "Dogs at home"]);
    let open = format!("CreationTime = ({m3},)");
    assert_eq!(search(&h, &[("Match", &open)]).await["Total"], json!(3));
    let upto = format!("CreationTime = (,{m1})");
    assert_eq!(search(&h, &[("Match", &upto)]).await["Total"], json!(2));
    let iso = "CreationTime = ('2000-01-01T00:00:00Z','2999-01-01T00:00:00Z')";
    assert_eq!(search(&h, &[("Match", iso)]).await["Total"], json!(6));
    let past = "CreationTime = ('2000-01-01T00:00:00Z','2001-01-01T00:00:00Z')";
    assert_eq!(search(&h, &[("Match", past)]).await["Total"], json!(0));
    let sized = "Size = (1000,1000) and Title = 'o'";
    assert_eq!(
        titles(&search(&h, &[("Match", sized)]).await),
        ["Mountains", "Dogs at home"]
    );

    for bad in [
        "Title = ",
        "Unknown = 'x'",
        "Title = ('a','b')",
        "CreationTime = ('soon',)",
        "Status in 'Normal'",
    ] {
        let r = vod(&h, &[("Action", "SearchMedia"), ("Match", bad)]).await;
        assert_error(&r, 400, "InvalidParameter");
    }
}

#[tokio::test]
async fn types_paging_sorting_and_shapes() {
    let h = media_harness().await;
    let ids = library(&h).await;

    let j = search(&h, &[("SearchType", "audio")]).await;
    assert_eq!(j["Total"], json!(1));
    let item = &j["MediaList"][0];
    assert_eq!(
        (item["MediaType"].as_str(), item["MediaId"].as_str()),
        (Some("audio"), Some(ids[6].as_str()))
    );
    assert_eq!(item["Audio"]["AudioId"], ids[6].as_str());
    for t in ["image", "attached"] {
        assert_eq!(search(&h, &[("SearchType", t)]).await["Total"], json!(0));
    }
    assert_error(
        &vod(&h, &[("Action", "SearchMedia"), ("SearchType", "movie")]).await,
        400,
        "InvalidParameter",
    );

    // Page by page, oldest first.
    let page = |n: &'static str| [("SortBy", "CreationTime:Asc"), ("PageSize", "4"), ("PageNo", n)];
    let p1 = search(&h, &page("1")).await;
    let p2 = search(&h, &page("2")).await;
    assert_eq!(p1["Total"], json!(6));
    assert!(p1["Total"].is_u64(), "Total is an integer");
    assert_eq!(
        titles(&p1),
        ["Cats at home", "Dogs at home", "cat videos 2", "Mountains"]
    );
    assert_eq!(titles(&p2), ["Rivers", "Cooking 100% real"]);
    assert_eq!(search(&h, &page("3")).await["MediaList"], json!([]));

    // ScrollToken: the position after the last item.
    let token = p1["ScrollToken"].as_str().unwrap().to_string();
    assert_eq!(token, ids[3]);
    let next = search(
        &h,
        &[
            ("SortBy", "CreationTime:Asc"),
            ("PageSize", "4"),
            ("ScrollToken", &token),
        ],
    )
    .await;
    assert_eq!(titles(&next), titles(&p2));
    let desc = search(&h, &[("PageSize", "2"), ("ScrollToken", &token)]).await;
    assert_eq!(titles(&desc), ["cat videos 2", "Dogs at home"]);
    assert_error(
        &vod(&h, &[("Action", "SearchMedia"), ("ScrollToken", "garbage")]).await,
        400,
        "InvalidParameter",
    );
    assert_error(
        &vod(&h, &[("Action", "SearchMedia"), ("PageSize", "101")]).await,
        400,
        "InvalidParameter",
    );
    assert_error(
        &vod(&h, &[("Action", "SearchMedia"), ("SortBy", "Title:Asc")]).await,
        400,
        "InvalidParameter",
    );

    // Item shape and JSON types.
    let j = search(&h, &[("Match", "Title == 'Mountains'")]).await;
    let item = &j["MediaList"][0];
    assert_eq!(item["MediaType"], "video");
    let v = &item["Video"];
    assert_eq!(v["VideoId"], ids[3].as_str());
    assert_eq!(v["Size"], json!(1000));
    assert_eq!(v["Status"], "UploadSucc");
    assert_eq!(v["Snapshots"], json!([]));
    assert_eq!(v["SpriteSnapshots"], json!([]));
    assert_eq!(v["TranscodeMode"], "AsyncTranscode");
    assert!(v.get("RegionId").is_none() && v.get("UserData").is_none());
    let j = search(&h, &[("Match", "Title == 'Mountains'"), ("Fields", "Title,Size")]).await;
    let keys: Vec<&str> = j["MediaList"][0]["Video"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["VideoId", "Title", "Size"]);

    let r = vod_xml(&h, &[("Action", "SearchMedia"), ("Match", "Tags = 'nature'")]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<SearchMediaResponse><RequestId>"), "{}", r.body);
    assert!(r.body.contains("<Total>2</Total>"), "{}", r.body);
    assert_eq!(
        r.body.matches("<MediaList>").count(),
        2,
        "direct array: repeated elements"
    );

    // Status set by processing shows up in search.
    assert!(
        h.state
            .store()
            .set_media_status(&ids[3], 1, &[], MediaStatus::Normal, vod_core::now_ms())
            .await
            .unwrap()
    );
    assert_eq!(
        titles(&search(&h, &[("Match", "Status = 'Normal'")]).await),
        ["Mountains"]
    );
}

#[tokio::test]
async fn ram_users_search_their_apps_only() {
    let h = media_harness().await;
    let store = h.state.store();
    let account = store.first_account().await.unwrap().unwrap();
    let other = vod(&h, &[("Action", "CreateAppInfo"), ("AppName", "other")])
        .await
        .json()["AppId"]
        .as_str()
        .unwrap()
        .to_string();
    create_video(&h, &[("Title", "in default")]).await;
    create_video(&h, &[("Title", "in other"), ("AppId", &other)]).await;
    let user = vod_core::service::identity::create_user(
        store,
        &account.id,
        "searcher",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"vod:SearchMedia","Resource":"acs:vod:*:*:app/app-1000000"}]}"#,
    )
    .await
    .unwrap();
    let key = vod_core::service::identity::new_key(&account.id, Some(&user.id));
    store.create_access_key(&key).await.unwrap();
    let r = call(
        &h.app,
        v1("POST", &[("Action", "SearchMedia")], &key.id, &key.secret, &[]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(titles(&r.json()), ["in default"]);
    assert_eq!(r.json()["Total"], json!(1));
    assert_eq!(search(&h, &[]).await["Total"], json!(2), "the account sees everything");
}
