//! Contract cases for `CategoryRepo`.

use std::sync::Arc;

use vod_core::model::NewCategory;
use vod_core::now_ms;
use vod_core::ports::{CategoryQuery, MetaStore};

use super::account;

fn new(account_id: &str, scope: &str, name: &str, parent_id: i64, level: i64) -> NewCategory {
    NewCategory {
        account_id: account_id.into(),
        scope: scope.into(),
        name: name.into(),
        parent_id,
        level,
        cate_type: "default".into(),
        created_at: now_ms(),
    }
}

fn query(parent_id: i64) -> CategoryQuery {
    CategoryQuery {
        parent_id,
        cate_type: "default".into(),
        page_no: 1,
        page_size: 10,
        ascending: true,
    }
}

pub async fn categories_tree(store: Arc<dyn MetaStore>) {
    let acct = account(1);
    store.create_account(&acct).await.unwrap();
    let top = store
        .create_category(&new(&acct.id, "vod", "top", -1, 0))
        .await
        .unwrap();
    assert!(top.id > 1_000_000_000, "ids look like Alibaba's: {}", top.id);
    let child = store
        .create_category(&new(&acct.id, "vod", "child", top.id, 1))
        .await
        .unwrap();
    let grand = store
        .create_category(&new(&acct.id, "vod", "grand", child.id, 2))
        .await
        .unwrap();
    let other = store
        .create_category(&new(&acct.id, "ice", "ice-top", -1, 0))
        .await
        .unwrap();
    assert_ne!(top.id, child.id);

    let (tops, total) = store.list_categories(&acct.id, "vod", &query(-1)).await.unwrap();
    assert_eq!((tops.len(), total), (1, 1), "scopes are separate");
    assert_eq!(tops[0].name, "top");
    assert_eq!(store.count_child_categories(&acct.id, "vod", top.id).await.unwrap(), 1);
    assert!(store.get_category(&acct.id, "ice", top.id).await.unwrap().is_none());
    assert!(
        store
            .get_category("someone-else", "vod", top.id)
            .await
            .unwrap()
            .is_none()
    );

    assert!(
        store
            .rename_category(&acct.id, "vod", child.id, "renamed")
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_category(&acct.id, "vod", child.id)
            .await
            .unwrap()
            .unwrap()
            .name,
        "renamed"
    );
    assert!(!store.rename_category(&acct.id, "vod", 42, "x").await.unwrap());

    assert!(store.delete_category_tree(&acct.id, "vod", top.id).await.unwrap());
    for id in [top.id, child.id, grand.id] {
        assert!(
            store.get_category(&acct.id, "vod", id).await.unwrap().is_none(),
            "{id} deleted with its tree"
        );
    }
    assert!(store.get_category(&acct.id, "ice", other.id).await.unwrap().is_some());
    assert!(!store.delete_category_tree(&acct.id, "vod", top.id).await.unwrap());
}

pub async fn categories_paging_and_order(store: Arc<dyn MetaStore>) {
    let acct = account(2);
    store.create_account(&acct).await.unwrap();
    for i in 0..5 {
        let mut c = new(&acct.id, "vod", &format!("c{i}"), -1, 0);
        c.created_at = 1_000 + i;
        store.create_category(&c).await.unwrap();
    }
    let mut q = query(-1);
    q.page_size = 2;
    q.page_no = 2;
    let (page, total) = store.list_categories(&acct.id, "vod", &q).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(page.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["c2", "c3"]);
    q.ascending = false;
    q.page_no = 1;
    let (page, _) = store.list_categories(&acct.id, "vod", &q).await.unwrap();
    assert_eq!(page.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["c4", "c3"]);
    q.cate_type = "material".into();
    assert_eq!(store.list_categories(&acct.id, "vod", &q).await.unwrap().1, 0);
}
