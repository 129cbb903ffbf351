//! Contract cases of the app-policy attachments of `AppRepo`: idempotent attach, detach, and
//! listing per identity and per app.

use std::sync::Arc;

use vod_core::model::IdentityType;
use vod_core::ports::MetaStore;

use super::{attachment, unique};

pub async fn attach_idempotent_and_detach(store: Arc<dyn MetaStore>) {
    let acct = unique("acct");
    let app_id = unique("app");
    let att = attachment(&acct, IdentityType::RamUser, "alice", &app_id, "VODAppFullAccess", 5);
    assert!(store.attach_app_policy(&att).await.unwrap());
    let mut later = att.clone();
    later.created_at = 99;
    assert!(
        !store.attach_app_policy(&later).await.unwrap(),
        "second attach is a no-op"
    );
    let listed = store
        .list_app_policies(&acct, IdentityType::RamUser, "alice", None)
        .await
        .unwrap();
    assert_eq!(listed, vec![att.clone()], "the no-op keeps the first record");

    let detach = |t, name: &'static str, app: String, policy: &'static str| {
        let store = store.clone();
        let acct = acct.clone();
        async move { store.detach_app_policy(&acct, t, name, &app, policy).await.unwrap() }
    };
    assert!(!detach(IdentityType::RamRole, "alice", app_id.clone(), "VODAppFullAccess").await);
    assert!(!detach(IdentityType::RamUser, "alice", app_id.clone(), "VODAppReadOnlyAccess").await);
    assert!(!detach(IdentityType::RamUser, "alice", unique("app"), "VODAppFullAccess").await);
    assert!(detach(IdentityType::RamUser, "alice", app_id.clone(), "VODAppFullAccess").await);
    assert!(!detach(IdentityType::RamUser, "alice", app_id.clone(), "VODAppFullAccess").await);
    assert!(
        store
            .list_app_policies(&acct, IdentityType::RamUser, "alice", None)
            .await
            .unwrap()
            .is_empty()
    );
    // Re-attaching after a detach works.
    assert!(store.attach_app_policy(&att).await.unwrap());
}

pub async fn list_app_policies_per_identity_and_app(store: Arc<dyn MetaStore>) {
    let acct = unique("acct");
    let (app1, app2) = (unique("app"), unique("app"));
    let user = IdentityType::RamUser;
    let a1_read = attachment(&acct, user, "alice", &app1, "VODAppReadOnlyAccess", 30);
    let a1_full = attachment(&acct, user, "alice", &app1, "VODAppFullAccess", 10);
    let a2_full = attachment(&acct, user, "alice", &app2, "VODAppFullAccess", 20);
    let role = attachment(
        &acct,
        IdentityType::RamRole,
        "alice",
        &app1,
        "VODAppAdministratorAccess",
        5,
    );
    let bob = attachment(&acct, user, "bob", &app1, "VODAppFullAccess", 1);
    let foreign = attachment(&unique("acct"), user, "alice", &app1, "VODAppFullAccess", 1);
    for att in [&a1_read, &a1_full, &a2_full, &role, &bob, &foreign] {
        assert!(store.attach_app_policy(att).await.unwrap());
    }

    let all = store.list_app_policies(&acct, user, "alice", None).await.unwrap();
    assert_eq!(
        all,
        vec![a1_full.clone(), a2_full.clone(), a1_read.clone()],
        "oldest first"
    );
    let on_app1 = store
        .list_app_policies(&acct, user, "alice", Some(&app1))
        .await
        .unwrap();
    assert_eq!(on_app1, vec![a1_full, a1_read]);
    let on_app2 = store
        .list_app_policies(&acct, user, "alice", Some(&app2))
        .await
        .unwrap();
    assert_eq!(on_app2, vec![a2_full]);
    assert!(
        store
            .list_app_policies(&acct, user, "alice", Some("app-none"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .list_app_policies(&acct, IdentityType::RamRole, "alice", None)
            .await
            .unwrap(),
        vec![role]
    );
    assert_eq!(
        store.list_app_policies(&acct, user, "bob", Some(&app1)).await.unwrap(),
        vec![bob]
    );
    assert!(
        store
            .list_app_policies(&acct, user, "carol", None)
            .await
            .unwrap()
            .is_empty()
    );
}
