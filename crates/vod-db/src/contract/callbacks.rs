//! Contract cases for `CallbackConfigRepo`.

use std::sync::Arc;

use vod_core::model::{CallbackType, MessageCallbackConfig};
use vod_core::ports::MetaStore;

use super::{account, app};

fn config(account_id: &str, app_id: &str, at: i64) -> MessageCallbackConfig {
    MessageCallbackConfig {
        account_id: account_id.into(),
        app_id: app_id.into(),
        callback_type: CallbackType::Http,
        callback_url: "http://127.0.0.1:9/cb".into(),
        event_type_list: "FileUploadComplete,TranscodeComplete".into(),
        auth_switch: true,
        auth_key: "Key123abc".into(),
        mns_endpoint: String::new(),
        mns_queue_name: String::new(),
        created_at: at,
        modified_at: at,
    }
}

pub async fn message_callbacks_put_get_replace_delete(store: Arc<dyn MetaStore>) {
    let acct = account(1);
    store.create_account(&acct).await.unwrap();
    let a = app(&acct.id, "cb-app", 2);
    store.create_app(&a).await.unwrap();
    assert_eq!(store.get_message_callback(&acct.id, &a.app_id).await.unwrap(), None);

    let first = config(&acct.id, &a.app_id, 10);
    store.put_message_callback(&first).await.unwrap();
    assert_eq!(
        store.get_message_callback(&acct.id, &a.app_id).await.unwrap(),
        Some(first.clone())
    );

    let mut second = first.clone();
    second.callback_type = CallbackType::Mns;
    second.callback_url = String::new();
    second.event_type_list = "ALL".into();
    second.auth_switch = false;
    second.auth_key = String::new();
    second.mns_endpoint = "https://1234.mns.cn-shanghai.aliyuncs.com/".into();
    second.mns_queue_name = "q".into();
    second.created_at = 99;
    second.modified_at = 20;
    store.put_message_callback(&second).await.unwrap();
    let stored = store.get_message_callback(&acct.id, &a.app_id).await.unwrap().unwrap();
    assert_eq!(stored.created_at, 10, "created_at keeps its first value");
    assert_eq!(
        stored,
        MessageCallbackConfig {
            created_at: 10,
            ..second
        }
    );

    assert!(
        store
            .get_message_callback("someone-else", &a.app_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.delete_message_callback(&acct.id, &a.app_id).await.unwrap());
    assert!(!store.delete_message_callback(&acct.id, &a.app_id).await.unwrap());
    assert_eq!(store.get_message_callback(&acct.id, &a.app_id).await.unwrap(), None);
}

pub async fn message_callbacks_per_app_and_deleted_with_app(store: Arc<dyn MetaStore>) {
    let acct = account(1);
    store.create_account(&acct).await.unwrap();
    let one = app(&acct.id, "one", 2);
    let two = app(&acct.id, "two", 3);
    store.create_app(&one).await.unwrap();
    store.create_app(&two).await.unwrap();
    store
        .put_message_callback(&config(&acct.id, &one.app_id, 5))
        .await
        .unwrap();
    let mut other = config(&acct.id, &two.app_id, 6);
    other.callback_url = "http://127.0.0.1:9/two".into();
    store.put_message_callback(&other).await.unwrap();
    assert_eq!(
        store
            .get_message_callback(&acct.id, &two.app_id)
            .await
            .unwrap()
            .unwrap()
            .callback_url,
        "http://127.0.0.1:9/two"
    );

    assert!(store.delete_app(&acct.id, &one.app_id).await.unwrap());
    assert_eq!(
        store.get_message_callback(&acct.id, &one.app_id).await.unwrap(),
        None,
        "deleted with its app"
    );
    assert!(
        store
            .get_message_callback(&acct.id, &two.app_id)
            .await
            .unwrap()
            .is_some()
    );

    // Settings of an app that does not exist are refused.
    let orphan = config(&acct.id, "app-missing", 7);
    assert!(store.put_message_callback(&orphan).await.is_err());
}
