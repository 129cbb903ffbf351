//! Event-notification settings of one app, as SetMessageCallback stores them and
//! GetMessageCallback reports them. Only HTTP callbacks are delivered; MNS settings are
//! kept and reported but nothing is sent to a queue.

/// How events leave: an HTTP POST or a Simple Message Queue (MNS) message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackType {
    Http,
    Mns,
}

impl CallbackType {
    /// The wire value (`HTTP` / `MNS`), as GetMessageCallback reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::Mns => "MNS",
        }
    }

    /// Accepts `HTTP` / `MNS` in any case (the docs write `http` in UserData).
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("http") {
            Some(Self::Http)
        } else if s.eq_ignore_ascii_case("mns") {
            Some(Self::Mns)
        } else {
            None
        }
    }
}

/// The `EventTypeList` value that enables every event type.
pub const ALL_EVENT_TYPES: &str = "ALL";

/// The callback settings of one (account, app).
#[derive(Debug, Clone, PartialEq)]
pub struct MessageCallbackConfig {
    pub account_id: String,
    pub app_id: String,
    pub callback_type: CallbackType,
    /// The HTTP endpoint (empty for MNS).
    pub callback_url: String,
    /// `ALL`, a comma-separated list of event types, or empty (every notification off).
    pub event_type_list: String,
    /// Whether HTTP callbacks carry `X-VOD-TIMESTAMP` / `X-VOD-SIGNATURE`.
    pub auth_switch: bool,
    /// The signing key (at most 32 characters: upper case, lower case and digits).
    pub auth_key: String,
    pub mns_endpoint: String,
    pub mns_queue_name: String,
    pub created_at: i64,
    pub modified_at: i64,
}

impl MessageCallbackConfig {
    /// True when events of `event_type` are enabled (`ALL` or listed; names compared exactly).
    /// AI events (`AIMediaAuditComplete`, ...) are also enabled by the list item `AIComplete`.
    pub fn accepts(&self, event_type: &str) -> bool {
        event_types_accept(&self.event_type_list, event_type)
    }

    /// The key HTTP callbacks are signed with, when signing is on and a key is set.
    pub fn signing_key(&self) -> Option<&str> {
        Some(self.auth_key.as_str()).filter(|k| self.auth_switch && !k.is_empty())
    }

    /// The URL HTTP callbacks go to, when this config delivers over HTTP.
    pub fn http_url(&self) -> Option<&str> {
        Some(self.callback_url.as_str()).filter(|u| self.callback_type == CallbackType::Http && !u.is_empty())
    }
}

/// Whether an `EventTypeList` value enables `event_type`.
pub fn event_types_accept(list: &str, event_type: &str) -> bool {
    list.split(',').map(str::trim).any(|item| {
        item.eq_ignore_ascii_case(ALL_EVENT_TYPES)
            || item == event_type
            || (item == "AIComplete" && event_type.starts_with("AI") && event_type.ends_with("Complete"))
    })
}

/// Rules for `AuthKey`: at most 32 characters, with at least one upper-case letter, one
/// lower-case letter and one digit, and nothing but ASCII letters and digits.
pub fn valid_auth_key(key: &str) -> bool {
    key.len() <= 32
        && key.chars().all(|c| c.is_ascii_alphanumeric())
        && key.chars().any(|c| c.is_ascii_uppercase())
        && key.chars().any(|c| c.is_ascii_lowercase())
        && key.chars().any(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_lists() {
        assert!(event_types_accept("ALL", "FileUploadComplete"));
        assert!(event_types_accept("all", "FileUploadComplete"));
        assert!(event_types_accept(
            "FileUploadComplete, TranscodeComplete",
            "TranscodeComplete"
        ));
        assert!(!event_types_accept("FileUploadComplete", "TranscodeComplete"));
        assert!(!event_types_accept("", "FileUploadComplete"));
        assert!(event_types_accept("AIComplete", "AIMediaAuditComplete"));
        assert!(!event_types_accept("AIComplete", "FileUploadComplete"));
    }

    #[test]
    fn auth_keys() {
        assert!(valid_auth_key("Abc123"));
        assert!(valid_auth_key(&format!("Ab1{}", "x".repeat(29))));
        assert!(!valid_auth_key(&format!("Ab1{}", "x".repeat(30))), "33 characters");
        assert!(!valid_auth_key("abc123"), "no upper case");
        assert!(!valid_auth_key("ABC123"), "no lower case");
        assert!(!valid_auth_key("Abcdef"), "no digit");
        assert!(!valid_auth_key("Abc 123"), "space");
        assert!(!valid_auth_key(""));
    }

    #[test]
    fn callback_types() {
        assert_eq!(CallbackType::parse("http"), Some(CallbackType::Http));
        assert_eq!(CallbackType::parse("HTTP"), Some(CallbackType::Http));
        assert_eq!(CallbackType::parse("MNS"), Some(CallbackType::Mns));
        assert_eq!(CallbackType::parse("smtp"), None);
    }
}
