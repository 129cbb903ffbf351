//! Contract cases of `IdentityRepo`: accounts, access keys, users, and the user-delete cascade.

use std::sync::Arc;

use vod_core::model::{IdentityType, KeyStatus};
use vod_core::policy::PolicyDocument;
use vod_core::ports::{BackendKind, MetaStore};

use super::{access_key, account, assert_already_exists, attachment, unique, user};

pub async fn ping_and_kind(store: Arc<dyn MetaStore>) {
    store.ping().await.expect("ping");
    assert!(matches!(store.kind(), BackendKind::Sqlite | BackendKind::Postgres));
}

pub async fn accounts_crud(store: Arc<dyn MetaStore>) {
    let a = account(1_700_000_000_000);
    assert_eq!(store.get_account(&a.id).await.unwrap(), None);
    store.create_account(&a).await.unwrap();
    assert_eq!(store.get_account(&a.id).await.unwrap(), Some(a.clone()));
    let mut again = account(1);
    again.id = a.id.clone();
    assert_already_exists(store.create_account(&again).await, "Account");
    assert_eq!(
        store.get_account(&a.id).await.unwrap(),
        Some(a),
        "failed create must not overwrite"
    );
    assert_eq!(store.get_account("no-such-account").await.unwrap(), None);
}

pub async fn first_account_is_oldest(store: Arc<dyn MetaStore>) {
    assert_eq!(store.first_account().await.unwrap(), None, "expects an empty store");
    let newer = account(2_000);
    let older = account(1_000);
    store.create_account(&newer).await.unwrap();
    assert_eq!(store.first_account().await.unwrap(), Some(newer.clone()));
    store.create_account(&older).await.unwrap();
    assert_eq!(store.first_account().await.unwrap(), Some(older));
}

pub async fn access_keys_crud_and_status(store: Arc<dyn MetaStore>) {
    let a = account(1);
    let other = account(2);
    store.create_account(&a).await.unwrap();
    store.create_account(&other).await.unwrap();
    let u = user(&a.id, "alice", 10);
    store.create_user(&u).await.unwrap();

    let root = access_key(&a.id, None, 100);
    let alice1 = access_key(&a.id, Some(&u.id), 300);
    let alice2 = access_key(&a.id, Some(&u.id), 200);
    let foreign = access_key(&other.id, None, 50);
    for k in [&root, &alice1, &alice2, &foreign] {
        store.create_access_key(k).await.unwrap();
    }
    assert_eq!(store.get_access_key(&root.id).await.unwrap(), Some(root.clone()));
    assert_eq!(store.get_access_key(&alice1.id).await.unwrap(), Some(alice1.clone()));
    assert_eq!(store.get_access_key("LTAI-missing").await.unwrap(), None);

    let mut dup = access_key(&a.id, None, 1);
    dup.id = root.id.clone();
    assert_already_exists(store.create_access_key(&dup).await, "AccessKey");
    assert_eq!(
        store.get_access_key(&root.id).await.unwrap().unwrap().secret,
        root.secret
    );

    // Oldest first; narrowed to one user.
    let all = store.list_access_keys(&a.id, None).await.unwrap();
    assert_eq!(all, vec![root.clone(), alice2.clone(), alice1.clone()]);
    let mine = store.list_access_keys(&a.id, Some(&u.id)).await.unwrap();
    assert_eq!(mine, vec![alice2.clone(), alice1.clone()]);
    assert!(
        store
            .list_access_keys(&a.id, Some("user-missing"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.list_access_keys(&other.id, None).await.unwrap(),
        vec![foreign.clone()]
    );

    assert!(
        store
            .set_access_key_status(&alice1.id, KeyStatus::Inactive)
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_access_key(&alice1.id).await.unwrap().unwrap().status,
        KeyStatus::Inactive
    );
    // Setting the same status again still finds the key.
    assert!(
        store
            .set_access_key_status(&alice1.id, KeyStatus::Inactive)
            .await
            .unwrap()
    );
    assert!(
        store
            .set_access_key_status(&alice1.id, KeyStatus::Active)
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_access_key(&alice1.id).await.unwrap().unwrap().status,
        KeyStatus::Active
    );
    assert!(
        !store
            .set_access_key_status("LTAI-missing", KeyStatus::Inactive)
            .await
            .unwrap()
    );

    assert!(store.delete_access_key(&alice2.id).await.unwrap());
    assert!(!store.delete_access_key(&alice2.id).await.unwrap());
    assert_eq!(store.get_access_key(&alice2.id).await.unwrap(), None);
    assert_eq!(store.list_access_keys(&a.id, None).await.unwrap(), vec![root, alice1]);
}

pub async fn users_unique_names(store: Arc<dyn MetaStore>) {
    let a = account(1);
    let b = account(2);
    store.create_account(&a).await.unwrap();
    store.create_account(&b).await.unwrap();
    let carol = user(&a.id, "carol", 1);
    let alice = user(&a.id, "alice", 2);
    let bob = user(&a.id, "bob", 3);
    for u in [&carol, &alice, &bob] {
        store.create_user(u).await.unwrap();
    }
    // Same name in the same account: taken. Same id: taken. Same name elsewhere: fine.
    assert_already_exists(store.create_user(&user(&a.id, "alice", 4)).await, "User");
    let mut same_id = user(&a.id, "dave", 5);
    same_id.id = alice.id.clone();
    assert_already_exists(store.create_user(&same_id).await, "User");
    let alice_b = user(&b.id, "alice", 6);
    store.create_user(&alice_b).await.unwrap();

    assert_eq!(store.get_user(&alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(store.get_user("user-missing").await.unwrap(), None);
    assert_eq!(
        store.get_user_by_name(&a.id, "alice").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store.get_user_by_name(&b.id, "alice").await.unwrap(),
        Some(alice_b.clone())
    );
    assert_eq!(store.get_user_by_name(&a.id, "zed").await.unwrap(), None);
    // Ordered by name.
    assert_eq!(store.list_users(&a.id).await.unwrap(), vec![alice, bob, carol]);
    assert_eq!(store.list_users(&b.id).await.unwrap(), vec![alice_b]);
    assert!(store.list_users("acct-missing").await.unwrap().is_empty());
}

pub async fn user_policy_round_trip(store: Arc<dyn MetaStore>) {
    let a = account(1);
    store.create_account(&a).await.unwrap();
    let mut u = user(&a.id, "poly", 1);
    u.policy = PolicyDocument::parse(
        r#"{"Version":"1","Statement":[
            {"Effect":"Allow","Action":["vod:Get*","vod:Search*"],"Resource":"*"},
            {"Effect":"Deny","Action":"vod:DeleteVideo","Resource":["acs:vod:*:*:video/x","acs:vod:*:*:video/y"]}
        ]}"#,
    )
    .unwrap();
    store.create_user(&u).await.unwrap();
    assert_eq!(store.get_user(&u.id).await.unwrap().unwrap().policy, u.policy);

    let next = PolicyDocument::allow(&["vod:*"]);
    assert!(store.set_user_policy(&u.id, &next).await.unwrap());
    assert_eq!(store.get_user(&u.id).await.unwrap().unwrap().policy, next);
    assert_eq!(
        store.get_user_by_name(&a.id, "poly").await.unwrap().unwrap().policy,
        next
    );
    assert!(store.set_user_policy(&u.id, &PolicyDocument::empty()).await.unwrap());
    assert_eq!(
        store.get_user(&u.id).await.unwrap().unwrap().policy,
        PolicyDocument::empty()
    );
    assert!(!store.set_user_policy("user-missing", &next).await.unwrap());
}

pub async fn delete_user_cascades(store: Arc<dyn MetaStore>) {
    let a = account(1);
    store.create_account(&a).await.unwrap();
    let alice = user(&a.id, "alice", 1);
    let bob = user(&a.id, "bob", 2);
    store.create_user(&alice).await.unwrap();
    store.create_user(&bob).await.unwrap();
    let root = access_key(&a.id, None, 1);
    let k1 = access_key(&a.id, Some(&alice.id), 2);
    let k2 = access_key(&a.id, Some(&alice.id), 3);
    let kb = access_key(&a.id, Some(&bob.id), 4);
    for k in [&root, &k1, &k2, &kb] {
        store.create_access_key(k).await.unwrap();
    }
    let app1 = unique("app");
    let app2 = unique("app");
    let alice_att = [
        attachment(&a.id, IdentityType::RamUser, "alice", &app1, "VODAppFullAccess", 1),
        attachment(&a.id, IdentityType::RamUser, "alice", &app2, "VODAppReadOnlyAccess", 2),
    ];
    let role_att = attachment(&a.id, IdentityType::RamRole, "alice", &app1, "VODAppFullAccess", 3);
    let bob_att = attachment(&a.id, IdentityType::RamUser, "bob", &app1, "VODAppFullAccess", 4);
    for att in alice_att.iter().chain([&role_att, &bob_att]) {
        assert!(store.attach_app_policy(att).await.unwrap());
    }

    assert!(store.delete_user(&alice.id).await.unwrap());
    assert_eq!(store.get_user(&alice.id).await.unwrap(), None);
    assert_eq!(store.get_user_by_name(&a.id, "alice").await.unwrap(), None);
    assert_eq!(store.get_access_key(&k1.id).await.unwrap(), None);
    assert_eq!(store.get_access_key(&k2.id).await.unwrap(), None);
    assert_eq!(store.list_access_keys(&a.id, None).await.unwrap(), vec![root, kb]);
    assert!(
        store
            .list_app_policies(&a.id, IdentityType::RamUser, "alice", None)
            .await
            .unwrap()
            .is_empty()
    );
    // A role of the same name and other users keep their attachments.
    let role = store
        .list_app_policies(&a.id, IdentityType::RamRole, "alice", None)
        .await
        .unwrap();
    assert_eq!(role, vec![role_att]);
    let bobs = store
        .list_app_policies(&a.id, IdentityType::RamUser, "bob", None)
        .await
        .unwrap();
    assert_eq!(bobs, vec![bob_att]);
    assert_eq!(store.list_users(&a.id).await.unwrap(), vec![bob]);

    assert!(!store.delete_user(&alice.id).await.unwrap());
    assert!(!store.delete_user("user-missing").await.unwrap());
    // The name is free again.
    store.create_user(&user(&a.id, "alice", 9)).await.unwrap();
}
