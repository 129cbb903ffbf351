//! Accounts, their RAM-style users and their long-term access keys.

use crate::policy::PolicyDocument;

/// An Alibaba-style account (the owner of media, apps, keys and users).
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

/// Whether an access key may sign requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Inactive => "Inactive",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Active" => Some(Self::Active),
            "Inactive" => Some(Self::Inactive),
            _ => None,
        }
    }
}

/// A long-term access key. `user_id == None` means the account's own (root) key.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    pub account_id: String,
    pub user_id: Option<String>,
    pub status: KeyStatus,
    pub created_at: i64,
}

/// A RAM user: an identity inside an account whose calls are limited by its policy.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub policy: PolicyDocument,
    pub created_at: i64,
}
