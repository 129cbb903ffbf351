//! Contract cases of the apps of `AppRepo`: create, get, list (paging, filters), update,
//! name clashes, and delete with its attachment cascade.

use std::sync::Arc;

use vod_core::model::app::DEFAULT_APP_ID;
use vod_core::model::{AppStatus, AppType, IdentityType};
use vod_core::ports::{AppQuery, MetaStore};

use super::{account, app, assert_already_exists, attachment, unique};

fn query(page_no: u32, page_size: u32) -> AppQuery {
    AppQuery {
        page_no,
        page_size,
        ..AppQuery::default()
    }
}

pub async fn apps_create_get(store: Arc<dyn MetaStore>) {
    let a = account(1);
    store.create_account(&a).await.unwrap();
    let mut system = app(&a.id, "Default", 10);
    system.app_id = DEFAULT_APP_ID.to_string();
    system.app_type = AppType::System;
    let mut custom = app(&a.id, "custom-one", 20);
    custom.status = AppStatus::Disable;
    custom.resource_group_id = "rg-blue".into();
    custom.modified_at = 25;
    store.create_app(&system).await.unwrap();
    store.create_app(&custom).await.unwrap();

    assert_eq!(
        store.get_app(&a.id, DEFAULT_APP_ID).await.unwrap(),
        Some(system.clone())
    );
    assert_eq!(
        store.get_app(&a.id, &custom.app_id).await.unwrap(),
        Some(custom.clone())
    );
    assert_eq!(store.get_app(&a.id, "app-missing").await.unwrap(), None);
    assert_eq!(store.get_app("acct-other", &custom.app_id).await.unwrap(), None);

    let mut dup = app(&a.id, "another-name", 30);
    dup.app_id = custom.app_id.clone();
    assert_already_exists(store.create_app(&dup).await, "App");
    assert_eq!(store.get_app(&a.id, &custom.app_id).await.unwrap(), Some(custom));
}

/// App ids are unique per account: every account has the system app `app-1000000`.
pub async fn apps_same_id_in_two_accounts(store: Arc<dyn MetaStore>) {
    let a = account(1);
    let b = account(2);
    store.create_account(&a).await.unwrap();
    store.create_account(&b).await.unwrap();
    for acct in [&a, &b] {
        let mut system = app(&acct.id, "Default", 1);
        system.app_id = DEFAULT_APP_ID.to_string();
        system.app_type = AppType::System;
        store.create_app(&system).await.unwrap();
    }
    assert_eq!(
        store.get_app(&a.id, DEFAULT_APP_ID).await.unwrap().unwrap().account_id,
        a.id
    );
    assert_eq!(
        store.get_app(&b.id, DEFAULT_APP_ID).await.unwrap().unwrap().account_id,
        b.id
    );
    assert!(store.delete_app(&a.id, DEFAULT_APP_ID).await.unwrap());
    assert_eq!(store.get_app(&a.id, DEFAULT_APP_ID).await.unwrap(), None);
    assert!(store.get_app(&b.id, DEFAULT_APP_ID).await.unwrap().is_some());
}

pub async fn apps_list_paging_and_filters(store: Arc<dyn MetaStore>) {
    let a = account(1);
    let b = account(2);
    store.create_account(&a).await.unwrap();
    store.create_account(&b).await.unwrap();
    // Created out of order: the list is ordered by created_at, not insertion.
    let mut apps = Vec::new();
    for i in [4i64, 0, 6, 2, 5, 1, 3] {
        let mut x = app(&a.id, &format!("app-{i}"), 1_000 + i);
        x.status = if i % 2 == 0 {
            AppStatus::Normal
        } else {
            AppStatus::Disable
        };
        x.resource_group_id = if i < 4 { "rg-a".into() } else { "rg-b".into() };
        store.create_app(&x).await.unwrap();
        apps.push(x);
    }
    store.create_app(&app(&b.id, "app-0", 1)).await.unwrap();
    apps.sort_by_key(|x| x.created_at);

    let (page, total) = store.list_apps(&a.id, &query(1, 3)).await.unwrap();
    assert_eq!((page, total), (apps[0..3].to_vec(), 7));
    let (page, total) = store.list_apps(&a.id, &query(2, 3)).await.unwrap();
    assert_eq!((page, total), (apps[3..6].to_vec(), 7));
    let (page, total) = store.list_apps(&a.id, &query(3, 3)).await.unwrap();
    assert_eq!((page, total), (apps[6..].to_vec(), 7));
    let (page, total) = store.list_apps(&a.id, &query(4, 3)).await.unwrap();
    assert_eq!((page.len(), total), (0, 7));
    // page_no 0 counts as page 1; page_size 0 lists everything.
    assert_eq!(
        store.list_apps(&a.id, &query(0, 2)).await.unwrap().0,
        apps[0..2].to_vec()
    );
    assert_eq!(store.list_apps(&a.id, &query(1, 0)).await.unwrap(), (apps.clone(), 7));

    let normal: Vec<_> = apps.iter().filter(|x| x.status == AppStatus::Normal).cloned().collect();
    let q = AppQuery {
        status: Some(AppStatus::Normal),
        ..query(1, 10)
    };
    assert_eq!(store.list_apps(&a.id, &q).await.unwrap(), (normal.clone(), 4));
    let q = AppQuery {
        status: Some(AppStatus::Normal),
        ..query(2, 3)
    };
    assert_eq!(store.list_apps(&a.id, &q).await.unwrap(), (normal[3..].to_vec(), 4));

    let rg_b: Vec<_> = apps.iter().filter(|x| x.resource_group_id == "rg-b").cloned().collect();
    let q = AppQuery {
        resource_group_id: Some("rg-b".into()),
        ..query(1, 10)
    };
    assert_eq!(store.list_apps(&a.id, &q).await.unwrap(), (rg_b, 3));

    let both: Vec<_> = apps
        .iter()
        .filter(|x| x.resource_group_id == "rg-a" && x.status == AppStatus::Disable)
        .cloned()
        .collect();
    let q = AppQuery {
        status: Some(AppStatus::Disable),
        resource_group_id: Some("rg-a".into()),
        ..query(1, 10)
    };
    assert_eq!(store.list_apps(&a.id, &q).await.unwrap(), (both, 2));
    let q = AppQuery {
        resource_group_id: Some("rg-none".into()),
        ..query(1, 10)
    };
    assert_eq!(store.list_apps(&a.id, &q).await.unwrap(), (vec![], 0));

    assert_eq!(store.list_apps(&b.id, &query(1, 10)).await.unwrap().1, 1);
    assert_eq!(
        store.list_apps("acct-missing", &query(1, 10)).await.unwrap(),
        (vec![], 0)
    );
}

pub async fn apps_update(store: Arc<dyn MetaStore>) {
    let a = account(1);
    store.create_account(&a).await.unwrap();
    let original = app(&a.id, "before", 100);
    store.create_app(&original).await.unwrap();

    let mut changed = original.clone();
    changed.name = "after".into();
    changed.description = "new description".into();
    changed.status = AppStatus::Disable;
    changed.modified_at = 200;
    // Fields update_app does not replace.
    changed.app_type = AppType::System;
    changed.resource_group_id = "rg-other".into();
    changed.created_at = 999;
    assert!(store.update_app(&changed).await.unwrap());
    let stored = store.get_app(&a.id, &original.app_id).await.unwrap().unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.description.as_str()),
        ("after", "new description")
    );
    assert_eq!((stored.status, stored.modified_at), (AppStatus::Disable, 200));
    assert_eq!(
        (stored.app_type, stored.created_at),
        (original.app_type, original.created_at)
    );
    assert_eq!(stored.resource_group_id, original.resource_group_id);
    // Keeping its own name is not a clash; the old name is free again.
    assert!(store.update_app(&changed).await.unwrap());
    store.create_app(&app(&a.id, "before", 300)).await.unwrap();

    let mut ghost = app(&a.id, "ghost", 1);
    ghost.app_id = unique("app");
    assert!(!store.update_app(&ghost).await.unwrap());
    let mut elsewhere = changed.clone();
    elsewhere.account_id = "acct-other".into();
    assert!(!store.update_app(&elsewhere).await.unwrap());
}

pub async fn apps_name_clash(store: Arc<dyn MetaStore>) {
    let a = account(1);
    let b = account(2);
    store.create_account(&a).await.unwrap();
    store.create_account(&b).await.unwrap();
    let first = app(&a.id, "media", 1);
    let second = app(&a.id, "other", 2);
    store.create_app(&first).await.unwrap();
    store.create_app(&second).await.unwrap();
    assert_already_exists(store.create_app(&app(&a.id, "media", 3)).await, "AppName");
    // The same name in another account is fine.
    store.create_app(&app(&b.id, "media", 4)).await.unwrap();

    let mut rename = second.clone();
    rename.name = "media".into();
    rename.modified_at = 10;
    assert_already_exists(store.update_app(&rename).await, "AppName");
    assert_eq!(store.get_app(&a.id, &second.app_id).await.unwrap(), Some(second));
    assert_eq!(store.list_apps(&a.id, &query(1, 10)).await.unwrap().1, 2);
}

pub async fn apps_delete_cascades_attachments(store: Arc<dyn MetaStore>) {
    let a = account(1);
    let b = account(2);
    store.create_account(&a).await.unwrap();
    store.create_account(&b).await.unwrap();
    let doomed = app(&a.id, "doomed", 1);
    let kept = app(&a.id, "kept", 2);
    let mut twin = app(&b.id, "twin", 3);
    twin.app_id = doomed.app_id.clone();
    for x in [&doomed, &kept, &twin] {
        store.create_app(x).await.unwrap();
    }
    let on_doomed = [
        attachment(
            &a.id,
            IdentityType::RamUser,
            "alice",
            &doomed.app_id,
            "VODAppFullAccess",
            1,
        ),
        attachment(
            &a.id,
            IdentityType::RamRole,
            "builder",
            &doomed.app_id,
            "VODAppAdministratorAccess",
            2,
        ),
    ];
    let on_kept = attachment(
        &a.id,
        IdentityType::RamUser,
        "alice",
        &kept.app_id,
        "VODAppReadOnlyAccess",
        3,
    );
    let on_twin = attachment(
        &b.id,
        IdentityType::RamUser,
        "alice",
        &twin.app_id,
        "VODAppFullAccess",
        4,
    );
    for att in on_doomed.iter().chain([&on_kept, &on_twin]) {
        assert!(store.attach_app_policy(att).await.unwrap());
    }

    assert!(store.delete_app(&a.id, &doomed.app_id).await.unwrap());
    assert_eq!(store.get_app(&a.id, &doomed.app_id).await.unwrap(), None);
    let alice = store
        .list_app_policies(&a.id, IdentityType::RamUser, "alice", None)
        .await
        .unwrap();
    assert_eq!(alice, vec![on_kept]);
    assert!(
        store
            .list_app_policies(&a.id, IdentityType::RamRole, "builder", None)
            .await
            .unwrap()
            .is_empty()
    );
    // The same app id in another account is untouched.
    assert_eq!(store.get_app(&b.id, &twin.app_id).await.unwrap(), Some(twin));
    let twin_att = store
        .list_app_policies(&b.id, IdentityType::RamUser, "alice", None)
        .await
        .unwrap();
    assert_eq!(twin_att, vec![on_twin]);

    assert!(!store.delete_app(&a.id, &doomed.app_id).await.unwrap());
    assert!(!store.delete_app(&a.id, "app-missing").await.unwrap());
    assert_eq!(store.list_apps(&a.id, &query(1, 10)).await.unwrap(), (vec![kept], 1));
}
