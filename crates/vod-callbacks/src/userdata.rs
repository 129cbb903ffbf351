//! `UserData`: the JSON string parameter that upload and processing calls accept
//! (protocol.md §4.1).
//!
//! * `MessageCallback` — an object, or a string holding a JSON object (both forms appear in
//!   Alibaba's docs): `{"CallbackURL":"http://host/path","CallbackType":"http"}`. Its URL
//!   overrides the app's callback URL for the events of that media (set at upload) or of
//!   that call (set on a processing call).
//! * `Extend` — caller data echoed back in every event as the `Extend` field. Events carry
//!   it as a **string** (`"Extend":"{\"localId\":\"xxx\"}"`, as in Alibaba's samples): a
//!   JSON object (or any non-string value) is re-serialized compactly into that string, a
//!   string is passed through unchanged. At most 512 bytes after that conversion.
//! * `AccelerateConfig` — kept as given (upload acceleration has no meaning here).
//!
//! Anything else in the object is ignored. Invalid UserData is refused with
//! `InvalidParameter` naming `UserData` (see [`UserDataError`]).

use serde_json::{Map, Value};
use vod_core::CoreError;
use vod_core::model::CallbackType;

/// Longest accepted UserData (bytes of the JSON string). Alibaba documents no limit; this
/// one keeps job payloads and media rows small.
pub const MAX_USER_DATA_BYTES: usize = 4096;
/// Longest `Extend` (bytes, as echoed), per Alibaba's docs.
pub const MAX_EXTEND_BYTES: usize = 512;
/// Longest callback URL (bytes), as SetMessageCallback documents it.
pub const MAX_CALLBACK_URL_BYTES: usize = 256;

/// Why a UserData value was refused. Maps to `InvalidParameter` on `UserData`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid UserData: {0}")]
pub struct UserDataError(pub String);

impl From<UserDataError> for CoreError {
    fn from(e: UserDataError) -> Self {
        CoreError::invalid("UserData", e.0)
    }
}

/// The per-request callback override of `UserData.MessageCallback`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackOverride {
    /// `http` (the default) or `mns`; only HTTP overrides deliver.
    pub callback_type: CallbackType,
    /// The URL events go to instead of the app's (None: the app's URL stays in effect).
    pub callback_url: Option<String>,
}

/// Parsed `UserData`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserData {
    pub message_callback: Option<CallbackOverride>,
    /// The `Extend` value exactly as events carry it (a string).
    pub extend: Option<String>,
    pub accelerate_config: Option<Value>,
}

impl UserData {
    /// Parses a `UserData` parameter; empty (or only whitespace) means none.
    pub fn parse(raw: &str) -> Result<Self, UserDataError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(Self::default());
        }
        if raw.len() > MAX_USER_DATA_BYTES {
            return Err(UserDataError(format!("it must be at most {MAX_USER_DATA_BYTES} bytes")));
        }
        let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(raw) else {
            return Err(UserDataError("it must be a JSON object".into()));
        };
        Ok(Self {
            message_callback: parse_message_callback(obj.get("MessageCallback"))?,
            extend: parse_extend(obj.get("Extend"))?,
            accelerate_config: obj.get("AccelerateConfig").filter(|v| !v.is_null()).cloned(),
        })
    }

    /// Parses an optional parameter (absent → no UserData).
    pub fn parse_opt(raw: Option<&str>) -> Result<Self, UserDataError> {
        raw.map_or_else(|| Ok(Self::default()), Self::parse)
    }

    /// True when nothing was set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// The HTTP URL this UserData sends events to, if it overrides the app's.
    pub fn callback_url(&self) -> Option<&str> {
        self.message_callback
            .as_ref()
            .filter(|m| m.callback_type == CallbackType::Http)
            .and_then(|m| m.callback_url.as_deref())
    }

    /// The UserData in effect for an event caused by a processing call on a media: the
    /// call's own fields win, the media's (set at upload) fill the gaps. A URL set at upload
    /// binds to the media for all later events; a URL set on a call applies to that call.
    pub fn layered(call: Option<&UserData>, media: Option<&UserData>) -> UserData {
        let call = call.cloned().unwrap_or_default();
        let media = media.cloned().unwrap_or_default();
        UserData {
            message_callback: call.message_callback.or(media.message_callback),
            extend: call.extend.or(media.extend),
            accelerate_config: call.accelerate_config.or(media.accelerate_config),
        }
    }

    /// The canonical JSON form (objects, not strings), for storing with a media.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        if let Some(m) = &self.message_callback {
            let mut mc = Map::new();
            mc.insert(
                "CallbackType".into(),
                Value::from(m.callback_type.as_str().to_ascii_lowercase()),
            );
            if let Some(url) = &m.callback_url {
                mc.insert("CallbackURL".into(), Value::from(url.as_str()));
            }
            obj.insert("MessageCallback".into(), Value::Object(mc));
        }
        if let Some(e) = &self.extend {
            obj.insert("Extend".into(), Value::from(e.as_str()));
        }
        if let Some(a) = &self.accelerate_config {
            obj.insert("AccelerateConfig".into(), a.clone());
        }
        Value::Object(obj)
    }
}

fn parse_message_callback(v: Option<&Value>) -> Result<Option<CallbackOverride>, UserDataError> {
    let obj = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => o.clone(),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(o)) => o,
            _ => {
                return Err(UserDataError("MessageCallback must be a JSON object".into()));
            }
        },
        Some(_) => {
            return Err(UserDataError("MessageCallback must be a JSON object".into()));
        }
    };
    let callback_type = match obj.get("CallbackType") {
        None | Some(Value::Null) => CallbackType::Http,
        Some(Value::String(s)) if s.is_empty() => CallbackType::Http,
        Some(Value::String(s)) => CallbackType::parse(s)
            .ok_or_else(|| UserDataError("MessageCallback.CallbackType must be http or mns".into()))?,
        Some(_) => {
            return Err(UserDataError("MessageCallback.CallbackType must be a string".into()));
        }
    };
    let callback_url = match obj.get("CallbackURL") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(check_callback_url(s.trim()).map_err(UserDataError)?),
        Some(_) => {
            return Err(UserDataError("MessageCallback.CallbackURL must be a string".into()));
        }
    };
    Ok(Some(CallbackOverride {
        callback_type,
        callback_url,
    }))
}

fn parse_extend(v: Option<&Value>) -> Result<Option<String>, UserDataError> {
    let s = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    if s.len() > MAX_EXTEND_BYTES {
        return Err(UserDataError(format!(
            "Extend must be at most {MAX_EXTEND_BYTES} bytes"
        )));
    }
    Ok(Some(s))
}

/// Checks the form of a callback URL (http or https, a host, at most 256 bytes) and returns
/// it unchanged. Whether its address may be reached is decided at delivery
/// ([`crate::outbound`]). The reason is in the `Err`.
pub fn check_callback_url(url: &str) -> Result<String, String> {
    if url.len() > MAX_CALLBACK_URL_BYTES {
        return Err(format!(
            "the callback URL must be at most {MAX_CALLBACK_URL_BYTES} bytes"
        ));
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("the callback URL is not a valid URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("the callback URL must start with http:// or https://".into());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the callback URL has no host".into());
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_form() {
        let ud = UserData::parse(
            r#"{"MessageCallback":{"CallbackURL":"http://cb.example.com/x","CallbackType":"http"},"Extend":{"localId":"xxx","test":"www"}}"#,
        )
        .unwrap();
        assert_eq!(ud.callback_url(), Some("http://cb.example.com/x"));
        assert_eq!(ud.extend.as_deref(), Some(r#"{"localId":"xxx","test":"www"}"#));
    }

    #[test]
    fn stringified_form() {
        let ud = UserData::parse(
            r#"{"MessageCallback":"{\"CallbackURL\":\"https://cb.example.com/y\"}","Extend":"{\"localId\":\"xxx\"}"}"#,
        )
        .unwrap();
        assert_eq!(ud.callback_url(), Some("https://cb.example.com/y"));
        assert_eq!(
            ud.message_callback.as_ref().unwrap().callback_type,
            CallbackType::Http,
            "CallbackType defaults to http"
        );
        assert_eq!(
            ud.extend.as_deref(),
            Some(r#"{"localId":"xxx"}"#),
            "a string Extend passes through unchanged"
        );
    }

    #[test]
    fn plain_string_extend_and_other_values() {
        assert_eq!(
            UserData::parse(r#"{"Extend":"plain text"}"#).unwrap().extend.as_deref(),
            Some("plain text")
        );
        assert_eq!(
            UserData::parse(r#"{"Extend":42}"#).unwrap().extend.as_deref(),
            Some("42")
        );
        assert_eq!(UserData::parse(r#"{"Extend":null}"#).unwrap().extend, None);
        let ud = UserData::parse(r#"{"AccelerateConfig":{"Type":"oss","Domain":"https://a"},"Other":1}"#).unwrap();
        assert_eq!(ud.accelerate_config.unwrap()["Type"], "oss");
    }

    #[test]
    fn empty_and_absent() {
        assert!(UserData::parse("").unwrap().is_empty());
        assert!(UserData::parse("  ").unwrap().is_empty());
        assert!(UserData::parse("{}").unwrap().is_empty());
        assert!(UserData::parse_opt(None).unwrap().is_empty());
        let ud = UserData::parse(r#"{"MessageCallback":""}"#).unwrap();
        assert_eq!(ud.message_callback, None);
    }

    #[test]
    fn mns_override_does_not_deliver_over_http() {
        let ud = UserData::parse(r#"{"MessageCallback":{"CallbackType":"MNS","CallbackURL":"http://x/"}}"#).unwrap();
        assert_eq!(ud.message_callback.as_ref().unwrap().callback_type, CallbackType::Mns);
        assert_eq!(ud.callback_url(), None);
    }

    #[test]
    fn invalid() {
        for bad in [
            "not json",
            "[1,2]",
            "\"str\"",
            r#"{"MessageCallback":5}"#,
            r#"{"MessageCallback":"not json"}"#,
            r#"{"MessageCallback":"[1]"}"#,
            r#"{"MessageCallback":{"CallbackURL":"ftp://x/y"}}"#,
            r#"{"MessageCallback":{"CallbackURL":"not a url"}}"#,
            r#"{"MessageCallback":{"CallbackURL":7}}"#,
            r#"{"MessageCallback":{"CallbackType":"smtp"}}"#,
        ] {
            assert!(UserData::parse(bad).is_err(), "{bad} must be refused");
        }
        let long_url = format!(
            r#"{{"MessageCallback":{{"CallbackURL":"http://x/{}"}}}}"#,
            "a".repeat(250)
        );
        assert!(UserData::parse(&long_url).is_err());
        let long_extend = format!(r#"{{"Extend":"{}"}}"#, "e".repeat(513));
        assert!(UserData::parse(&long_extend).is_err());
        let ok_extend = format!(r#"{{"Extend":"{}"}}"#, "e".repeat(512));
        assert!(UserData::parse(&ok_extend).is_ok());
        assert!(UserData::parse(&format!(r#"{{"A":"{}"}}"#, "a".repeat(MAX_USER_DATA_BYTES))).is_err());
    }

    #[test]
    fn maps_to_invalid_parameter_user_data() {
        let err: CoreError = UserData::parse("nope").unwrap_err().into();
        match err {
            CoreError::InvalidArgument { field, .. } => assert_eq!(field, "UserData"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn layering_call_over_media() {
        let media = UserData::parse(r#"{"MessageCallback":{"CallbackURL":"http://media/"},"Extend":"m"}"#).unwrap();
        let call = UserData::parse(r#"{"Extend":"c"}"#).unwrap();
        let eff = UserData::layered(Some(&call), Some(&media));
        assert_eq!(eff.callback_url(), Some("http://media/"));
        assert_eq!(eff.extend.as_deref(), Some("c"));
        assert!(UserData::layered(None, None).is_empty());
    }

    #[test]
    fn canonical_json_round_trips() {
        let ud = UserData::parse(r#"{"MessageCallback":"{\"CallbackURL\":\"http://a/b\"}","Extend":{"k":1}}"#).unwrap();
        let json = ud.to_json().to_string();
        assert_eq!(
            json,
            r#"{"MessageCallback":{"CallbackType":"http","CallbackURL":"http://a/b"},"Extend":"{\"k\":1}"}"#
        );
        assert_eq!(UserData::parse(&json).unwrap(), ud);
    }
}
