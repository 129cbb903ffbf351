//! Identity use cases: first-start bootstrap (account, root key, default app, cluster
//! secret), RAM users and their keys. The CLI and `vodstack serve` both call these.

use crate::model::app::DEFAULT_APP_ID;
use crate::model::{AccessKey, Account, AppInfo, AppStatus, AppType, KeyStatus, User};
use crate::policy::PolicyDocument;
use crate::ports::MetaStore;
use crate::{CoreError, CoreResult, ids, now_ms};

/// Settings key of the cluster master secret (hex) that seals STS tokens.
pub const MASTER_KEY_SETTING: &str = "cluster.master_key";

/// Settings key naming the account that `serve` bootstraps.
pub const ACCOUNT_SETTING: &str = "bootstrap.account_id";

/// What bootstrap found or made.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub account: Account,
    pub root_key: AccessKey,
    /// True when the root key was generated now (its secret must be printed once).
    pub root_key_generated: bool,
    pub master_key: Vec<u8>,
}

/// Makes sure the first account, its root key, its default app and the cluster secret
/// exist. `configured` is the root key from configuration: it is created (or its secret
/// updated) when given; otherwise an existing root key is reused or a new one generated.
pub async fn bootstrap(store: &dyn MetaStore, configured: Option<(&str, &str)>) -> CoreResult<Bootstrap> {
    // Two nodes starting at once must agree on one account: the first writer of the
    // setting wins and everyone creates (or finds) that account.
    let candidate = match store.first_account().await? {
        Some(existing) => existing.id,
        None => account_id(),
    };
    let account_id = store.put_setting_if_absent(ACCOUNT_SETTING, &candidate).await?;
    let account = match store.get_account(&account_id).await? {
        Some(a) => a,
        None => {
            let a = Account {
                id: account_id.clone(),
                name: "vodstack".into(),
                created_at: now_ms(),
            };
            match store.create_account(&a).await {
                Ok(()) | Err(CoreError::AlreadyExists { .. }) => {}
                Err(e) => return Err(e),
            }
            store
                .get_account(&account_id)
                .await?
                .ok_or_else(|| CoreError::Internal("account vanished during bootstrap".into()))?
        }
    };
    ensure_default_app(store, &account.id).await?;
    let master_hex = store.put_setting_if_absent(MASTER_KEY_SETTING, &ids::alnum(64)).await?;
    let master_key = master_hex.into_bytes();

    let (root_key, generated) = match configured {
        Some((id, secret)) => (ensure_key(store, &account.id, id, secret).await?, false),
        None => {
            let keys = store.list_access_keys(&account.id, None).await?;
            match keys.into_iter().find(|k| k.user_id.is_none()) {
                Some(k) => (k, false),
                None => {
                    let k = new_key(&account.id, None);
                    store.create_access_key(&k).await?;
                    (k, true)
                }
            }
        }
    };
    Ok(Bootstrap {
        account,
        root_key,
        root_key_generated: generated,
        master_key,
    })
}

/// Creates `app-1000000` for the account when missing.
pub async fn ensure_default_app(store: &dyn MetaStore, account_id: &str) -> CoreResult<()> {
    if store.get_app(account_id, DEFAULT_APP_ID).await?.is_some() {
        return Ok(());
    }
    let now = now_ms();
    let app = AppInfo {
        app_id: DEFAULT_APP_ID.into(),
        account_id: account_id.into(),
        name: "Default".into(),
        description: "The default app of the account.".into(),
        app_type: AppType::System,
        status: AppStatus::Normal,
        resource_group_id: String::new(),
        created_at: now,
        modified_at: now,
    };
    match store.create_app(&app).await {
        Ok(()) | Err(CoreError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

async fn ensure_key(store: &dyn MetaStore, account_id: &str, id: &str, secret: &str) -> CoreResult<AccessKey> {
    if let Some(existing) = store.get_access_key(id).await? {
        if existing.account_id != account_id || existing.user_id.is_some() {
            return Err(CoreError::invalid(
                "root_access_key_id",
                "the key belongs to another identity",
            ));
        }
        if existing.secret != secret || existing.status != KeyStatus::Active {
            // Configuration is authoritative for the root key: rotate in place.
            store.delete_access_key(id).await?;
        } else {
            return Ok(existing);
        }
    }
    let key = AccessKey {
        id: id.into(),
        secret: secret.into(),
        account_id: account_id.into(),
        user_id: None,
        status: KeyStatus::Active,
        created_at: now_ms(),
    };
    match store.create_access_key(&key).await {
        Ok(()) | Err(CoreError::AlreadyExists { .. }) => Ok(key),
        Err(e) => Err(e),
    }
}

/// A new long-term key for the account (`user_id = None`) or one of its users.
pub fn new_key(account_id: &str, user_id: Option<&str>) -> AccessKey {
    AccessKey {
        id: ids::access_key_id(),
        secret: ids::access_key_secret(),
        account_id: account_id.into(),
        user_id: user_id.map(str::to_string),
        status: KeyStatus::Active,
        created_at: now_ms(),
    }
}

/// Creates a RAM user with a policy (validated).
pub async fn create_user(store: &dyn MetaStore, account_id: &str, name: &str, policy: &str) -> CoreResult<User> {
    validate_user_name(name)?;
    let policy = PolicyDocument::parse(policy).map_err(|e| CoreError::invalid("policy", e))?;
    let user = User {
        id: ids::hex_id(),
        account_id: account_id.into(),
        name: name.into(),
        policy,
        created_at: now_ms(),
    };
    store.create_user(&user).await?;
    Ok(user)
}

/// RAM user names: 1–64 characters of letters, digits, `.`, `_`, `-`, `@`.
pub fn validate_user_name(name: &str) -> CoreResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "name",
            "use 1-64 letters, digits, '.', '_', '-' or '@'",
        ))
    }
}

/// A 16-digit account id, shaped like an Alibaba UID.
fn account_id() -> String {
    use rand::Rng;
    rand::rng()
        .random_range(1_000_000_000_000_000u64..10_000_000_000_000_000u64)
        .to_string()
}
