//! VOD multi-app records: apps and the app policies attached to RAM identities.

/// `System` for the default app `app-1000000`, `Custom` for apps made with CreateAppInfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppType {
    System,
    Custom,
}

impl AppType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "System",
            Self::Custom => "Custom",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "System" => Some(Self::System),
            "Custom" => Some(Self::Custom),
            _ => None,
        }
    }
}

/// `Normal` or `Disable`, as UpdateAppInfo sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppStatus {
    Normal,
    Disable,
}

impl AppStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Disable => "Disable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Normal" => Some(Self::Normal),
            "Disable" => Some(Self::Disable),
            _ => None,
        }
    }
}

/// One VOD app of an account.
#[derive(Debug, Clone, PartialEq)]
pub struct AppInfo {
    pub app_id: String,
    pub account_id: String,
    pub name: String,
    pub description: String,
    pub app_type: AppType,
    pub status: AppStatus,
    pub resource_group_id: String,
    pub created_at: i64,
    pub modified_at: i64,
}

/// The id of the system app every account has.
pub const DEFAULT_APP_ID: &str = "app-1000000";

/// `RamUser` or `RamRole`, as AttachAppPolicyToIdentity names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityType {
    RamUser,
    RamRole,
}

impl IdentityType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RamUser => "RamUser",
            Self::RamRole => "RamRole",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RamUser" => Some(Self::RamUser),
            "RamRole" => Some(Self::RamRole),
            _ => None,
        }
    }
}

/// An app policy attached to an identity for one app.
#[derive(Debug, Clone, PartialEq)]
pub struct AppPolicyAttachment {
    pub account_id: String,
    pub identity_type: IdentityType,
    pub identity_name: String,
    pub app_id: String,
    pub policy_name: String,
    pub created_at: i64,
}

/// A system app policy: name, what it grants, description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemAppPolicy {
    pub name: &'static str,
    /// `true` when the policy allows write actions; read-only policies allow `Get*`,
    /// `List*`, `Search*` and `Describe*` actions only.
    pub allows_write: bool,
    pub value: &'static str,
    pub description: &'static str,
}

/// The system policies of the multi-app system.
pub const SYSTEM_APP_POLICIES: &[SystemAppPolicy] = &[
    SystemAppPolicy {
        name: "VODAppFullAccess",
        allows_write: true,
        value: "write",
        description: "Full access to all resources in the app.",
    },
    SystemAppPolicy {
        name: "VODAppReadOnlyAccess",
        allows_write: false,
        value: "read",
        description: "Read-only access to all resources in the app.",
    },
    SystemAppPolicy {
        name: "VODAppAdministratorAccess",
        allows_write: true,
        value: "admin",
        description: "Administrator access to the app, including its resources.",
    },
];

/// Looks up a system app policy by name.
pub fn system_app_policy(name: &str) -> Option<&'static SystemAppPolicy> {
    SYSTEM_APP_POLICIES.iter().find(|p| p.name == name)
}

/// True for actions that only read (`Get*`, `List*`, `Search*`, `Describe*`).
pub fn is_read_action(action: &str) -> bool {
    ["Get", "List", "Search", "Describe"]
        .iter()
        .any(|p| action.starts_with(p))
}
