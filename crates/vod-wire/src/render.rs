//! Renders success bodies and the error envelope as JSON or XML, byte-exact to what the
//! official SDKs parse (protocol.md §2.1, §2.3, Appendix B).
//!
//! A success body is a JSON object (field order preserved). In XML an array under key `K`
//! becomes repeated `<K>` elements, so "direct" arrays (`"UploadJobs":[..]`) and "wrapped"
//! arrays (`"PlayInfoList":{"PlayInfo":[..]}`) both come out as Alibaba writes them.

use serde_json::{Map, Value};

use crate::ApiError;

pub const JSON_CONTENT_TYPE: &str = "application/json;charset=utf-8";
pub const XML_CONTENT_TYPE: &str = "text/xml;charset=utf-8";

/// Response format chosen by the `Format` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// Parses the `Format` parameter case-insensitively. `None` when the value is unknown.
    pub fn parse(v: &str) -> Option<Self> {
        if v.eq_ignore_ascii_case("json") {
            Some(Self::Json)
        } else if v.eq_ignore_ascii_case("xml") {
            Some(Self::Xml)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => JSON_CONTENT_TYPE,
            Self::Xml => XML_CONTENT_TYPE,
        }
    }
}

/// Renders a success body: `RequestId` first, then the action's fields.
pub fn render_success(action: &str, format: Format, request_id: &str, body: Map<String, Value>) -> Vec<u8> {
    render_success_with(action, format, request_id, body, &[])
}

/// First capacity of a rendered body: most answers fit, so the buffer is not regrown
/// several times on the way (larger ones still grow as needed).
const RESPONSE_CAPACITY: usize = 1024;

/// Like [`render_success`], with XML item names for arrays Alibaba wraps in XML only:
/// `(field, item)` renders the array under `field` as `<field><item>..</item>..</field>`
/// (e.g. GetURLUploadInfos' `URLUploadInfoList` of `UrlUploadJobInfoDTO`). JSON is unchanged.
pub fn render_success_with(
    action: &str,
    format: Format,
    request_id: &str,
    body: Map<String, Value>,
    xml_items: &[(&str, &str)],
) -> Vec<u8> {
    let fields = || body.iter().filter(|(k, _)| k.as_str() != "RequestId");
    match format {
        // Written straight from the body (no second map with RequestId put in front).
        Format::Json => {
            let mut out = Vec::with_capacity(RESPONSE_CAPACITY);
            let envelope = SuccessEnvelope {
                request_id,
                body: &body,
            };
            match serde_json::to_writer(&mut out, &envelope) {
                Ok(()) => out,
                Err(_) => Vec::new(),
            }
        }
        Format::Xml => {
            let mut out = String::with_capacity(RESPONSE_CAPACITY);
            out.push_str("<?xml version='1.0' encoding='UTF-8'?>");
            let root = format!("{action}Response");
            open(&mut out, &root);
            write_element(&mut out, "RequestId", &Value::String(request_id.into()));
            for (k, v) in fields() {
                match (v, xml_items.iter().find(|(f, _)| f == k)) {
                    (Value::Array(items), Some((_, item))) => {
                        open(&mut out, k);
                        for i in items {
                            write_element(&mut out, item, i);
                        }
                        close(&mut out, k);
                    }
                    _ => write_element(&mut out, k, v),
                }
            }
            close(&mut out, &root);
            out.into_bytes()
        }
    }
}

/// `{"RequestId": .., <body fields but a RequestId>}` in body order.
struct SuccessEnvelope<'a> {
    request_id: &'a str,
    body: &'a Map<String, Value>,
}

impl serde::Serialize for SuccessEnvelope<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("RequestId", self.request_id)?;
        for (k, v) in self.body.iter().filter(|(k, _)| k.as_str() != "RequestId") {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Renders the Alibaba error envelope: RequestId, HostId, Code, Message, Recommend.
pub fn render_error(format: Format, err: &ApiError, request_id: &str, host_id: &str, product: &str) -> Vec<u8> {
    let recommend = format!("https://api.aliyun.com/troubleshoot?q={}&product={}", err.code, product);
    let mut obj = Map::new();
    obj.insert("RequestId".into(), request_id.into());
    obj.insert("HostId".into(), host_id.into());
    obj.insert("Code".into(), err.code.to_string().into());
    obj.insert("Message".into(), err.message.clone().into());
    obj.insert("Recommend".into(), recommend.into());
    match format {
        Format::Json => serde_json::to_vec(&Value::Object(obj)).unwrap_or_default(),
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
            write_element(&mut out, "Error", &Value::Object(obj));
            out.into_bytes()
        }
    }
}

fn write_element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Array(items) => {
            for item in items {
                write_element(out, name, item);
            }
        }
        Value::Null => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>");
        }
        Value::Object(map) => {
            open(out, name);
            for (k, v) in map {
                write_element(out, k, v);
            }
            close(out, name);
        }
        Value::String(s) => {
            open(out, name);
            out.push_str(&quick_xml::escape::escape(s.as_str()));
            close(out, name);
        }
        Value::Bool(b) => {
            open(out, name);
            out.push_str(if *b { "true" } else { "false" });
            close(out, name);
        }
        Value::Number(n) => {
            open(out, name);
            out.push_str(&n.to_string());
            close(out, name);
        }
    }
}

fn open(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn json_success_puts_request_id_first() {
        let b = render_success("X", Format::Json, "RID", obj(json!({"VideoId":"v","Size":3})));
        assert_eq!(
            String::from_utf8(b).unwrap(),
            r#"{"RequestId":"RID","VideoId":"v","Size":3}"#
        );
    }

    #[test]
    fn xml_direct_and_wrapped_arrays() {
        let body = obj(json!({
            "UploadJobs":[{"JobId":"j1","SourceURL":"http://a/b?x=1&y=2"},{"JobId":"j2","SourceURL":"u"}],
            "PlayInfoList":{"PlayInfo":[{"Definition":"LD"}]},
            "NonExists":["a","b"],
            "Empty":[],
            "Nothing":null
        }));
        let b = String::from_utf8(render_success("UploadMediaByURL", Format::Xml, "RID", body)).unwrap();
        assert_eq!(
            b,
            "<?xml version='1.0' encoding='UTF-8'?><UploadMediaByURLResponse><RequestId>RID</RequestId>\
<UploadJobs><JobId>j1</JobId><SourceURL>http://a/b?x=1&amp;y=2</SourceURL></UploadJobs>\
<UploadJobs><JobId>j2</JobId><SourceURL>u</SourceURL></UploadJobs>\
<PlayInfoList><PlayInfo><Definition>LD</Definition></PlayInfo></PlayInfoList>\
<NonExists>a</NonExists><NonExists>b</NonExists><Nothing/></UploadMediaByURLResponse>"
        );
    }

    #[test]
    fn xml_item_names_wrap_arrays_in_xml_only() {
        let body = obj(json!({"NonExists":["x"],"URLUploadInfoList":[{"JobId":"j"}]}));
        let items = [("URLUploadInfoList", "UrlUploadJobInfoDTO")];
        let x = String::from_utf8(render_success_with(
            "GetURLUploadInfos",
            Format::Xml,
            "R",
            body.clone(),
            &items,
        ))
        .unwrap();
        assert!(x.contains("<NonExists>x</NonExists><URLUploadInfoList><UrlUploadJobInfoDTO><JobId>j</JobId></UrlUploadJobInfoDTO></URLUploadInfoList>"), "{x}");
        let j = String::from_utf8(render_success_with(
            "GetURLUploadInfos",
            Format::Json,
            "R",
            body,
            &items,
        ))
        .unwrap();
        assert!(j.contains(r#""URLUploadInfoList":[{"JobId":"j"}]"#), "{j}");
    }

    #[test]
    fn error_envelope_in_both_formats() {
        let e = ApiError::new(codes::THROTTLING_USER);
        let j: Value = serde_json::from_slice(&render_error(Format::Json, &e, "RID", "vod.local", "vod")).unwrap();
        assert_eq!(j["Code"], "Throttling.User");
        assert_eq!(j["RequestId"], "RID");
        assert_eq!(j["HostId"], "vod.local");
        assert_eq!(j["Message"], "Request was denied due to user flow control.");
        let x = String::from_utf8(render_error(Format::Xml, &e, "RID", "vod.local", "vod")).unwrap();
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><RequestId>RID</RequestId>"));
        assert!(x.contains("<Code>Throttling.User</Code>"));
    }

    #[test]
    fn format_is_case_insensitive() {
        assert_eq!(Format::parse("json"), Some(Format::Json));
        assert_eq!(Format::parse("XML"), Some(Format::Xml));
        assert_eq!(Format::parse("None"), None);
    }
}
