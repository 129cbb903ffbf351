//! `vodstack keys ...` and `vodstack users ...`: key, user and policy management straight
//! on the metadata store (the running service picks changes up within its key-cache TTL).

use clap::Subcommand;
use serde_json::json;
use vod_auth::sts::{self, StsClaims};
use vod_core::model::KeyStatus;
use vod_core::now_ms;
use vod_core::policy::PolicyDocument;
use vod_core::ports::MetaStore;
use vod_core::service::identity::{self, Bootstrap};
use vod_wire::timefmt::iso8601;

use crate::config::Config;
use crate::serve::open_store;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List keys (secrets hidden).
    List,
    /// Create a long-term key for the account, or for a user with --user.
    Create {
        #[arg(long)]
        user: Option<String>,
    },
    /// Disable a key (calls with it get InvalidAccessKeyId.Inactive).
    Disable { id: String },
    /// Enable a disabled key.
    Enable { id: String },
    /// Delete a key.
    Delete { id: String },
    /// Issue an STS-style temporary key (AccessKeyId, AccessKeySecret, SecurityToken).
    Sts {
        /// Issue it for this user (its policy applies); the account itself when absent.
        #[arg(long)]
        user: Option<String>,
        /// Lifetime in seconds (Alibaba STS allows 900..=43200; vodstack accepts 1..=43200).
        #[arg(long, default_value_t = 3600)]
        duration_seconds: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List users.
    List,
    /// Create a user. The policy is a RAM policy document (JSON); default allows nothing.
    Create {
        name: String,
        #[arg(long, default_value = r#"{"Version":"1","Statement":[]}"#)]
        policy: String,
    },
    /// Show a user with its policy.
    Show { name: String },
    /// Replace a user's policy.
    SetPolicy {
        name: String,
        #[arg(long)]
        policy: String,
    },
    /// Delete a user with its keys and app-policy attachments.
    Delete { name: String },
}

async fn open(config: &Config) -> anyhow::Result<(std::sync::Arc<dyn MetaStore>, Bootstrap)> {
    if config.database_url.is_empty() {
        std::fs::create_dir_all(&config.data_dir)?;
    }
    let store = open_store(&config.effective_database_url()).await?;
    let boot = identity::bootstrap(store.as_ref(), config.root_key()).await?;
    if boot.root_key_generated {
        eprintln!(
            "created the root key {} with secret {} (shown only this once)",
            boot.root_key.id, boot.root_key.secret
        );
    }
    Ok((store, boot))
}

fn print(v: serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

async fn user_id(store: &dyn MetaStore, account: &str, name: &str) -> anyhow::Result<String> {
    Ok(store
        .get_user_by_name(account, name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user named {name}"))?
        .id)
}

pub async fn keys(config: &Config, cmd: KeysCommand) -> anyhow::Result<()> {
    let (store, boot) = open(config).await?;
    let account = boot.account.id.clone();
    match cmd {
        KeysCommand::List => {
            let keys = store.list_access_keys(&account, None).await?;
            let users = store.list_users(&account).await?;
            let rows: Vec<_> = keys
                .iter()
                .map(|k| {
                    let user = k.user_id.as_ref().and_then(|u| users.iter().find(|x| &x.id == u)).map(|u| u.name.clone());
                    json!({"AccessKeyId": k.id, "User": user, "Status": k.status.as_str(), "CreateDate": iso8601(k.created_at)})
                })
                .collect();
            print(json!(rows));
        }
        KeysCommand::Create { user } => {
            let uid = match &user {
                Some(name) => Some(user_id(store.as_ref(), &account, name).await?),
                None => None,
            };
            let key = identity::new_key(&account, uid.as_deref());
            store.create_access_key(&key).await?;
            print(json!({"AccessKeyId": key.id, "AccessKeySecret": key.secret, "User": user}));
        }
        KeysCommand::Disable { id } | KeysCommand::Enable { id }
            if id == boot.root_key.id && config.root_key().is_some() =>
        {
            anyhow::bail!("the root key {id} comes from configuration; change VODSTACK_ROOT_ACCESS_KEY_* instead")
        }
        KeysCommand::Disable { id } => set_status(store.as_ref(), &id, KeyStatus::Inactive).await?,
        KeysCommand::Enable { id } => set_status(store.as_ref(), &id, KeyStatus::Active).await?,
        KeysCommand::Delete { id } => {
            if !store.delete_access_key(&id).await? {
                anyhow::bail!("no access key {id}");
            }
            print(json!({"Deleted": id}));
        }
        KeysCommand::Sts { user, duration_seconds } => {
            if !(1..=43_200).contains(&duration_seconds) {
                anyhow::bail!("--duration-seconds must be between 1 and 43200");
            }
            let principal = match &user {
                Some(name) => user_id(store.as_ref(), &account, name).await?,
                None => "root".to_string(),
            };
            let now = now_ms() / 1000;
            let claims = StsClaims {
                v: sts::CLAIMS_VERSION,
                account_id: account.clone(),
                principal,
                expires_at: now + duration_seconds,
                issued_at: now,
                scope: None,
                generation: None,
            };
            let cred = sts::issue(&boot.master_key, &claims);
            print(json!({
                "AccessKeyId": cred.access_key_id,
                "AccessKeySecret": cred.access_key_secret,
                "SecurityToken": cred.security_token,
                "Expiration": iso8601(claims.expires_at * 1000),
            }));
        }
    }
    Ok(())
}

async fn set_status(store: &dyn MetaStore, id: &str, status: KeyStatus) -> anyhow::Result<()> {
    if !store.set_access_key_status(id, status).await? {
        anyhow::bail!("no access key {id}");
    }
    print(json!({"AccessKeyId": id, "Status": status.as_str()}));
    Ok(())
}

pub async fn users(config: &Config, cmd: UsersCommand) -> anyhow::Result<()> {
    let (store, boot) = open(config).await?;
    let account = boot.account.id.clone();
    match cmd {
        UsersCommand::List => {
            let users = store.list_users(&account).await?;
            let rows: Vec<_> = users
                .iter()
                .map(|u| json!({"UserName": u.name, "UserId": u.id, "CreateDate": iso8601(u.created_at)}))
                .collect();
            print(json!(rows));
        }
        UsersCommand::Create { name, policy } => {
            let user = identity::create_user(store.as_ref(), &account, &name, &policy).await?;
            print(json!({"UserName": user.name, "UserId": user.id}));
        }
        UsersCommand::Show { name } => {
            let user = store
                .get_user_by_name(&account, &name)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user named {name}"))?;
            let policy: serde_json::Value = serde_json::from_str(&user.policy.to_json())?;
            print(json!({"UserName": user.name, "UserId": user.id, "Policy": policy}));
        }
        UsersCommand::SetPolicy { name, policy } => {
            let id = user_id(store.as_ref(), &account, &name).await?;
            let doc = PolicyDocument::parse(&policy).map_err(|e| anyhow::anyhow!(e))?;
            store.set_user_policy(&id, &doc).await?;
            print(json!({"UserName": name, "PolicyUpdated": true}));
        }
        UsersCommand::Delete { name } => {
            let id = user_id(store.as_ref(), &account, &name).await?;
            store.delete_user(&id).await?;
            print(json!({"Deleted": name}));
        }
    }
    Ok(())
}
