//! Contract cases for `TemplateRepo`.

use std::sync::Arc;

use serde_json::json;
use vod_core::CoreError;
use vod_core::ids::hex_id;
use vod_core::model::template::{DEFAULT_TEMPLATE_GROUP, NO_TRANSCODE_TEMPLATE_GROUP};
use vod_core::model::{GroupChange, GroupRefusal, TemplateGroup, TranscodeTemplate};
use vod_core::ports::MetaStore;

use super::{account, app, assert_already_exists};

fn template(definition: &str, format: &str) -> TranscodeTemplate {
    TranscodeTemplate::from_json(
        &json!({"TemplateName": format!("{definition} {format}"), "Definition": definition,
                "Container": {"Format": format}, "Video": {"Bitrate": "800", "Width": 640},
                "WatermarkIds": ["USER_DEFAULT_WATERMARK"]}),
        hex_id,
    )
    .unwrap()
}

fn group(account_id: &str, app_id: &str, name: &str, created_at: i64) -> TemplateGroup {
    TemplateGroup {
        account_id: account_id.into(),
        group_id: hex_id(),
        app_id: app_id.into(),
        name: name.into(),
        is_default: false,
        locked: false,
        templates: vec![template("LD", "mp4"), template("SD", "m3u8")],
        created_at,
        modified_at: created_at,
    }
}

/// An account with one app; returns (account id, app id).
async fn setup(store: &Arc<dyn MetaStore>) -> (String, String) {
    let acct = account(1);
    store.create_account(&acct).await.unwrap();
    let a = app(&acct.id, "templates", 2);
    store.create_app(&a).await.unwrap();
    (acct.id, a.app_id)
}

pub async fn template_groups_create_get_list(store: Arc<dyn MetaStore>) {
    let (acct, app_id) = setup(&store).await;
    let second = group(&acct, &app_id, "second", 20);
    let first = group(&acct, &app_id, "first", 10);
    for g in [&second, &first] {
        assert_eq!(store.create_template_group(g, 20).await.unwrap(), Ok(()));
    }
    let got = store.get_template_group(&acct, &first.group_id).await.unwrap().unwrap();
    assert_eq!(got, first, "templates, ids and raw JSON round-trip");
    assert_eq!(got.templates[0].raw["WatermarkIds"], json!(["USER_DEFAULT_WATERMARK"]));
    let listed = store.list_template_groups(&acct, &app_id).await.unwrap();
    assert_eq!(
        listed.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        ["first", "second"],
        "oldest first"
    );
    assert!(
        store
            .get_template_group("someone-else", &first.group_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.list_template_groups(&acct, "app-other").await.unwrap().is_empty());
    assert_eq!(store.default_template_group_id(&acct, &app_id).await.unwrap(), None);

    assert_already_exists(store.create_template_group(&first, 20).await, "TemplateGroup");
    let orphan = group(&acct, "app-missing", "orphan", 1);
    assert!(matches!(
        store.create_template_group(&orphan, 20).await,
        Err(CoreError::InvalidArgument { .. })
    ));

    // Deleting the app deletes its groups and its default.
    assert!(
        store
            .set_default_template_group(&acct, &app_id, &first.group_id, 30)
            .await
            .unwrap()
    );
    assert!(store.delete_app(&acct, &app_id).await.unwrap());
    assert!(
        store
            .get_template_group(&acct, &first.group_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.default_template_group_id(&acct, &app_id).await.unwrap(), None);
}

pub async fn template_groups_limit_per_app(store: Arc<dyn MetaStore>) {
    let (acct, app_id) = setup(&store).await;
    for i in 0..3 {
        let g = group(&acct, &app_id, &format!("g{i}"), i);
        assert_eq!(store.create_template_group(&g, 3).await.unwrap(), Ok(()));
    }
    let extra = group(&acct, &app_id, "extra", 9);
    assert_eq!(
        store.create_template_group(&extra, 3).await.unwrap(),
        Err(GroupRefusal::TooManyGroups)
    );
    assert!(
        store
            .get_template_group(&acct, &extra.group_id)
            .await
            .unwrap()
            .is_none()
    );
    let other = app(&acct, "other-app", 3);
    store.create_app(&other).await.unwrap();
    let elsewhere = group(&acct, &other.app_id, "elsewhere", 9);
    assert_eq!(
        store.create_template_group(&elsewhere, 3).await.unwrap(),
        Ok(()),
        "the limit is per app"
    );

    // Concurrent creates never overshoot the limit.
    let fresh = app(&acct, "race-app", 4);
    store.create_app(&fresh).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let g = group(&acct, &fresh.app_id, &format!("r{i}"), i);
        tasks.push(tokio::spawn(async move {
            store.create_template_group(&g, 5).await.unwrap()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(store.list_template_groups(&acct, &fresh.app_id).await.unwrap().len(), 5);
}

pub async fn template_groups_one_default_per_app(store: Arc<dyn MetaStore>) {
    let (acct, app_id) = setup(&store).await;
    let a = group(&acct, &app_id, "a", 1);
    let b = group(&acct, &app_id, "b", 2);
    for g in [&a, &b] {
        store.create_template_group(g, 20).await.unwrap().unwrap();
    }
    let defaults = |store: Arc<dyn MetaStore>, acct: String, app_id: String| async move {
        let list = store.list_template_groups(&acct, &app_id).await.unwrap();
        list.iter()
            .filter(|g| g.is_default)
            .map(|g| g.name.clone())
            .collect::<Vec<_>>()
    };
    assert!(
        store
            .set_default_template_group(&acct, &app_id, &a.group_id, 3)
            .await
            .unwrap()
    );
    assert_eq!(defaults(store.clone(), acct.clone(), app_id.clone()).await, ["a"]);
    assert!(
        store
            .set_default_template_group(&acct, &app_id, &b.group_id, 4)
            .await
            .unwrap()
    );
    assert_eq!(
        defaults(store.clone(), acct.clone(), app_id.clone()).await,
        ["b"],
        "setting clears the other"
    );
    assert!(
        store
            .get_template_group(&acct, &b.group_id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );

    // Deleting the default is refused; after switching to a built-in it goes.
    assert_eq!(
        store.delete_template_group(&acct, &b.group_id).await.unwrap(),
        Err(GroupRefusal::Default)
    );
    assert!(
        store
            .set_default_template_group(&acct, &app_id, NO_TRANSCODE_TEMPLATE_GROUP, 5)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .default_template_group_id(&acct, &app_id)
            .await
            .unwrap()
            .as_deref(),
        Some(NO_TRANSCODE_TEMPLATE_GROUP)
    );
    assert!(defaults(store.clone(), acct.clone(), app_id.clone()).await.is_empty());
    let deleted = store.delete_template_group(&acct, &b.group_id).await.unwrap().unwrap();
    assert_eq!(deleted.name, "b");
    assert_eq!(
        store.delete_template_group(&acct, &b.group_id).await.unwrap(),
        Err(GroupRefusal::NotFound)
    );
    assert!(
        !store
            .set_default_template_group(&acct, &app_id, &b.group_id, 6)
            .await
            .unwrap(),
        "a deleted group cannot become the default"
    );

    // A group of another app, or of nobody, cannot be this app's default.
    let other = app(&acct, "other", 3);
    store.create_app(&other).await.unwrap();
    assert!(
        !store
            .set_default_template_group(&acct, &other.app_id, &a.group_id, 7)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_default_template_group(&acct, &app_id, &hex_id(), 7)
            .await
            .unwrap()
    );
    assert!(
        store
            .set_default_template_group(&acct, &app_id, DEFAULT_TEMPLATE_GROUP, 8)
            .await
            .unwrap()
    );

    // Locked groups are not deleted.
    let lock = GroupChange {
        locked: Some(true),
        ..Default::default()
    };
    store
        .update_template_group(&acct, &a.group_id, &lock, 9)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.delete_template_group(&acct, &a.group_id).await.unwrap(),
        Err(GroupRefusal::Locked)
    );
}

pub async fn template_groups_update_is_atomic(store: Arc<dyn MetaStore>) {
    let (acct, app_id) = setup(&store).await;
    let g = group(&acct, &app_id, "g", 1);
    store.create_template_group(&g, 20).await.unwrap().unwrap();
    let mut raw = g.templates[0].raw.clone();
    raw.insert("TemplateName".into(), json!("renamed"));
    let replacement = TranscodeTemplate::from_json(&serde_json::Value::Object(raw), hex_id).unwrap();
    assert_eq!(replacement.template_id, g.templates[0].template_id);
    let change = GroupChange {
        name: Some("renamed group".into()),
        add: vec![template("HD", "mp4")],
        replace: vec![replacement],
        remove: vec![g.templates[1].template_id.clone(), "not-there".into()],
        ..Default::default()
    };
    let (updated, missing) = store
        .update_template_group(&acct, &g.group_id, &change, 50)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(missing, ["not-there"]);
    let stored = store.get_template_group(&acct, &g.group_id).await.unwrap().unwrap();
    assert_eq!(stored, updated);
    assert_eq!(
        (stored.name.as_str(), stored.modified_at, stored.created_at),
        ("renamed group", 50, 1)
    );
    assert_eq!(
        stored
            .templates
            .iter()
            .map(|t| (t.definition.as_str(), t.name.as_str()))
            .collect::<Vec<_>>(),
        [("LD", "renamed"), ("HD", "HD mp4")]
    );

    // A refused change leaves the stored group untouched.
    let dup = GroupChange {
        add: vec![template("HD", "mp4")],
        name: Some("never".into()),
        ..Default::default()
    };
    assert!(matches!(
        store.update_template_group(&acct, &g.group_id, &dup, 60).await.unwrap(),
        Err(GroupRefusal::Invalid(_))
    ));
    assert_eq!(
        store.get_template_group(&acct, &g.group_id).await.unwrap().unwrap(),
        stored
    );
    assert_eq!(
        store.update_template_group(&acct, &hex_id(), &dup, 60).await.unwrap(),
        Err(GroupRefusal::NotFound)
    );
    assert_eq!(
        store
            .update_template_group("someone-else", &g.group_id, &dup, 60)
            .await
            .unwrap(),
        Err(GroupRefusal::NotFound)
    );
}

/// Concurrent edits of one group never lose each other's templates, and a SetDefault racing
/// a delete never leaves the app's default naming a deleted group.
pub async fn template_groups_concurrent_edits(store: Arc<dyn MetaStore>) {
    concurrent_edits(store.clone(), store).await;
}

/// [`template_groups_concurrent_edits`] with the racers on two stores (two pools, as two
/// nodes) sharing one database.
pub async fn template_groups_concurrent_edits_two_stores(a: Arc<dyn MetaStore>, b: Arc<dyn MetaStore>) {
    concurrent_edits(a, b).await;
}

async fn concurrent_edits(store: Arc<dyn MetaStore>, other: Arc<dyn MetaStore>) {
    let (acct, app_id) = setup(&store).await;
    let mut g = group(&acct, &app_id, "busy", 1);
    g.templates.clear();
    store.create_template_group(&g, 20).await.unwrap().unwrap();
    let defs = ["FD", "LD", "SD", "HD", "2K", "4K"];
    let mut tasks = Vec::new();
    for (i, def) in defs.into_iter().enumerate() {
        let racer = if i % 2 == 0 { store.clone() } else { other.clone() };
        let (store, acct, id) = (racer, acct.clone(), g.group_id.clone());
        tasks.push(tokio::spawn(async move {
            let change = GroupChange {
                add: vec![template(def, "mp4")],
                ..Default::default()
            };
            store
                .update_template_group(&acct, &id, &change, 2)
                .await
                .unwrap()
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stored = store.get_template_group(&acct, &g.group_id).await.unwrap().unwrap();
    assert_eq!(stored.templates.len(), defs.len(), "no lost update");

    for round in 0..6 {
        let victim = group(&acct, &app_id, &format!("victim{round}"), 10 + round);
        store.create_template_group(&victim, 20).await.unwrap().unwrap();
        let (s1, s2) = if round % 2 == 0 {
            (store.clone(), other.clone())
        } else {
            (other.clone(), store.clone())
        };
        let (a1, a2, ap, id1, id2) = (
            acct.clone(),
            acct.clone(),
            app_id.clone(),
            victim.group_id.clone(),
            victim.group_id.clone(),
        );
        let set = tokio::spawn(async move { s1.set_default_template_group(&a1, &ap, &id1, 11).await.unwrap() });
        let del = tokio::spawn(async move { s2.delete_template_group(&a2, &id2).await.unwrap() });
        let (set, del) = (set.await.unwrap(), del.await.unwrap());
        let default = store.default_template_group_id(&acct, &app_id).await.unwrap();
        match del {
            Ok(_) => {
                assert!(!set || default.as_deref() != Some(victim.group_id.as_str()));
                assert_ne!(default.as_deref(), Some(victim.group_id.as_str()), "dangling default");
            }
            Err(GroupRefusal::Default) => {
                assert!(set);
                assert_eq!(default.as_deref(), Some(victim.group_id.as_str()));
            }
            Err(other) => panic!("unexpected refusal {other:?}"),
        }
        store
            .set_default_template_group(&acct, &app_id, DEFAULT_TEMPLATE_GROUP, 12)
            .await
            .unwrap();
    }
}
