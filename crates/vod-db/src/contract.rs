//! The backend-independent contract suite of `MetaStore`: one async function per behaviour,
//! each taking a fresh store (and panicking on a violation). [`contract_tests!`] turns every
//! case into a `#[tokio::test]` for a runner from [`crate::testing`], so a new case added
//! here runs on every backend. Ids are random, but some cases (e.g. `first_account`) expect
//! an empty store.
//!
//! [`contract_tests!`]: crate::contract_tests

mod apps;
mod attachments;
mod callbacks;
mod categories;
mod identity;
mod jobs;
mod media;
mod objects;
mod refresh;
mod replay;
mod streams;
mod templates;
mod url_uploads;

pub use apps::*;
pub use attachments::*;
pub use callbacks::*;
pub use categories::*;
pub use identity::*;
pub use jobs::*;
pub use media::*;
pub use objects::*;
pub use refresh::*;
pub use replay::*;
pub use streams::*;
pub use templates::*;
pub use url_uploads::*;

use vod_core::CoreError;
use vod_core::model::{
    AccessKey, Account, AppInfo, AppPolicyAttachment, AppStatus, AppType, IdentityType, KeyStatus, User,
};
use vod_core::policy::PolicyDocument;

/// Expands to one `#[tokio::test]` per contract case, each calling
/// `$runner(<test name>, vod_db::contract::<case>)`; pair cases (two stores on one database)
/// use `$pair_runner`. The calling crate needs `tokio` (macros, multi-thread runtime).
///
/// ```text
/// vod_db::contract_tests!(vod_db::testing::run_on_sqlite, vod_db::testing::run_pair_on_sqlite);
/// ```
#[macro_export]
macro_rules! contract_tests {
    (@cases $runner:path; $($case:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            $runner(concat!(module_path!(), "::", stringify!($case)), $crate::contract::$case).await;
        }
    )*};
    ($runner:path, $pair_runner:path) => {
        $crate::contract_tests!(@cases $runner;
            ping_and_kind,
            accounts_crud,
            first_account_is_oldest,
            access_keys_crud_and_status,
            users_unique_names,
            user_policy_round_trip,
            delete_user_cascades,
            apps_create_get,
            apps_same_id_in_two_accounts,
            apps_list_paging_and_filters,
            apps_update,
            apps_name_clash,
            apps_delete_cascades_attachments,
            attach_idempotent_and_detach,
            list_app_policies_per_identity_and_app,
            categories_tree,
            categories_paging_and_order,
            nonces_new_vs_replay,
            nonces_batch_duplicates,
            nonces_purge,
            nonces_concurrent,
            settings_first_writer_wins,
            daily_counter_increments,
            jobs_enqueue_claim_order_and_kinds,
            jobs_not_before_respected,
            jobs_lease_expiry_reclaims,
            jobs_heartbeat_extends_and_detects_loss,
            jobs_retry_backoff_then_success,
            jobs_retry_budget_exhausted,
            jobs_give_up_at_honoured,
            jobs_unique_key_dedupe,
            jobs_enqueue_many_one_transaction,
            jobs_retry_and_cancel,
            jobs_release_returns_attempt,
            jobs_list_counts_and_purge,
            jobs_concurrent_claims,
            message_callbacks_put_get_replace_delete,
            message_callbacks_per_app_and_deleted_with_app,
            objects_put_replace_delete,
            objects_list_md5_and_notified,
            multipart_parts_replace_and_list,
            multipart_complete_builds_manifest,
            multipart_abort_and_list_uploads,
            multipart_parts_racing_completion,
            media_create_find_and_unique_keys,
            media_find_by_object_and_prefix,
            media_reissue_and_update,
            media_complete_upload_is_compare_and_set_with_jobs,
            media_delete_stores_jobs,
            media_search_filters_and_paging,
            url_uploads_submit_query_and_update,
            streams_publish_guarded_and_listed,
            refresh_submit_complete_and_query,
            refresh_daily_quota_and_edges,
            template_groups_create_get_list,
            template_groups_limit_per_app,
            template_groups_one_default_per_app,
            template_groups_update_is_atomic,
            template_groups_concurrent_edits,
        );
        $crate::contract_tests!(@cases $pair_runner;
            nonces_concurrent_two_stores,
            settings_first_writer_wins_two_stores,
            jobs_concurrent_claims_two_stores,
            template_groups_concurrent_edits_two_stores,
        );
    };
}

/// A random suffix so cases never collide on ids.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

pub fn account(created_at: i64) -> Account {
    Account {
        id: unique("acct"),
        name: unique("name"),
        created_at,
    }
}

pub fn access_key(account_id: &str, user_id: Option<&str>, created_at: i64) -> AccessKey {
    AccessKey {
        id: unique("LTAI"),
        secret: unique("secret"),
        account_id: account_id.to_string(),
        user_id: user_id.map(str::to_string),
        status: KeyStatus::Active,
        created_at,
    }
}

pub fn user(account_id: &str, name: &str, created_at: i64) -> User {
    User {
        id: unique("user"),
        account_id: account_id.to_string(),
        name: name.to_string(),
        policy: PolicyDocument::allow(&["vod:Get*", "vod:ListApp*"]),
        created_at,
    }
}

pub fn app(account_id: &str, name: &str, created_at: i64) -> AppInfo {
    AppInfo {
        app_id: unique("app"),
        account_id: account_id.to_string(),
        name: name.to_string(),
        description: format!("{name} description"),
        app_type: AppType::Custom,
        status: AppStatus::Normal,
        resource_group_id: "rg-default".to_string(),
        created_at,
        modified_at: created_at,
    }
}

pub fn attachment(
    account_id: &str,
    identity_type: IdentityType,
    identity_name: &str,
    app_id: &str,
    policy_name: &str,
    created_at: i64,
) -> AppPolicyAttachment {
    AppPolicyAttachment {
        account_id: account_id.to_string(),
        identity_type,
        identity_name: identity_name.to_string(),
        app_id: app_id.to_string(),
        policy_name: policy_name.to_string(),
        created_at,
    }
}

/// Asserts `result` failed with `AlreadyExists` of `kind`.
#[track_caller]
pub fn assert_already_exists<T: std::fmt::Debug>(result: Result<T, CoreError>, kind: &str) {
    match result {
        Err(CoreError::AlreadyExists { kind: k, .. }) if k == kind => {}
        other => panic!("expected AlreadyExists({kind}), got {other:?}"),
    }
}
