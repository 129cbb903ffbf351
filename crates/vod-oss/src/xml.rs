//! XML of the OSS protocol (protocol.md §5.4): response documents written by hand (their
//! element order is what the SDKs expect) and the CompleteMultipartUpload request parser.

use quick_xml::Reader;
use quick_xml::events::Event;

pub const XML_HEADER: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Escapes text for an XML element.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A small element writer.
#[derive(Default)]
pub struct Doc {
    out: String,
}

impl Doc {
    pub fn new(root: &str) -> Self {
        let mut out = String::from(XML_HEADER);
        out.push_str(&format!("<{root}>"));
        Self { out }
    }

    pub fn el(&mut self, name: &str, value: &str) -> &mut Self {
        self.out.push_str(&format!("<{name}>{}</{name}>", escape(value)));
        self
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        self.out.push_str(&format!("<{name}>"));
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str(&format!("</{name}>"));
        self
    }

    pub fn finish(mut self, root: &str) -> String {
        self.out.push_str(&format!("</{root}>"));
        self.out
    }
}

/// Parses a CompleteMultipartUpload body into `(part number, ETag)` pairs in document
/// order. `None` when it is not well-formed or a part lacks a number or an ETag.
pub fn parse_complete(body: &[u8]) -> Option<Vec<(u32, String)>> {
    let mut reader = Reader::from_reader(body);
    let mut buf = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut parts = Vec::new();
    let mut current: Option<(Option<u32>, Option<String>)> = None;
    let mut text = String::new();
    let mut saw_root = false;
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                if path.is_empty() {
                    if name != "CompleteMultipartUpload" || saw_root {
                        return None;
                    }
                    saw_root = true;
                }
                if path.len() == 1 && name == "Part" {
                    current = Some((None, None));
                }
                text.clear();
                path.push(name);
            }
            Event::Empty(e) => {
                let name = e.local_name().as_ref().to_string();
                if path.is_empty() {
                    if name != "CompleteMultipartUpload" || saw_root {
                        return None;
                    }
                    saw_root = true;
                } else if path.len() == 2
                    && name == "ETag"
                    && let Some(c) = current.as_mut()
                {
                    c.1 = Some(String::new());
                }
            }
            Event::Text(t) => text.push_str(&t),
            Event::CData(t) => text.push_str(&t),
            Event::GeneralRef(r) => match r.resolve_char_ref().ok()? {
                Some(c) => text.push(c),
                None => text.push(match &*r {
                    "quot" => '"',
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "apos" => '\'',
                    _ => return None,
                }),
            },
            Event::End(_) => {
                let name = path.pop()?;
                if path.len() == 2 && path[1] == "Part" {
                    let c = current.as_mut()?;
                    match name.as_str() {
                        "PartNumber" => c.0 = Some(text.trim().parse().ok()?),
                        "ETag" => c.1 = Some(text.trim().to_string()),
                        _ => {}
                    }
                } else if path.len() == 1 && name == "Part" {
                    let (n, etag) = current.take()?;
                    parts.push((n?, etag?));
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    (saw_root && path.is_empty()).then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_complete_bodies() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"3858F62230AC3C915F300C664312C11F"</ETag></Part>
<Part><ETag>&quot;AB&quot;</ETag><PartNumber> 2 </PartNumber></Part></CompleteMultipartUpload>"#;
        assert_eq!(
            parse_complete(body),
            Some(vec![
                (1, "\"3858F62230AC3C915F300C664312C11F\"".to_string()),
                (2, "\"AB\"".to_string())
            ])
        );
        assert_eq!(parse_complete(b"<CompleteMultipartUpload/>"), Some(vec![]));
        assert_eq!(
            parse_complete(b"<CompleteMultipartUpload></CompleteMultipartUpload>"),
            Some(vec![])
        );
        for bad in [
            &b"<Other><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></Other>"[..],
            b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><ETag>x</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>",
            b"not xml",
            b"",
        ] {
            assert_eq!(parse_complete(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn escapes() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        let mut d = Doc::new("R");
        d.el("Key", "x&y").open("P").el("N", "1").close("P");
        assert_eq!(
            d.finish("R"),
            format!("{XML_HEADER}<R><Key>x&amp;y</Key><P><N>1</N></P></R>")
        );
    }
}
