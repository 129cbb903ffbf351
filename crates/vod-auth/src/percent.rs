//! Percent-encoding and form decoding as used by Alibaba POP and OSS signatures.

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

fn encode_with(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 2);
    for &b in s.as_bytes() {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Alibaba POP / RFC 3986 encoding: `A-Za-z0-9-_.~` literal, every other UTF-8
/// byte as uppercase `%XX` (space → `%20`, `*` → `%2A`, `/` → `%2F`).
pub fn pop_encode(s: &str) -> String {
    encode_with(s, false)
}

/// [`pop_encode`], borrowing `s` when it has nothing to encode (the usual case).
pub fn pop_encode_cow(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().all(is_unreserved) {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(pop_encode(s))
    }
}

/// Appends `pairs` to `out` the way POP signatures canonicalize a query: names and values
/// [`pop_encode`]d, sorted by encoded name then encoded value, `name=value` joined with `&`
/// (an empty value stays `name=`).
pub fn push_sorted_encoded<'a>(out: &mut String, pairs: impl Iterator<Item = &'a (String, String)>) {
    let mut encoded: Vec<_> = pairs.map(|(k, v)| (pop_encode_cow(k), pop_encode_cow(v))).collect();
    encoded.sort_unstable();
    for (i, (k, v)) in encoded.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
}

/// Like [`pop_encode`] but keeps `/` literal (OSS V4 `UriEncode` of a path).
pub fn pop_encode_path(s: &str) -> String {
    encode_with(s, true)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode_with(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_val);
            let lo = bytes.get(i + 2).copied().and_then(hex_val);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
            out.push(b);
        } else if b == b'+' && plus_is_space {
            out.push(b' ');
        } else {
            out.push(b);
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Percent-decodes `%XX` (any case); `+` stays `+`. Invalid escapes are kept
/// literally and invalid UTF-8 is replaced with U+FFFD. Use for URL paths.
pub fn percent_decode(s: &str) -> String {
    decode_with(s, false)
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` → space,
/// `%XX` → byte, lenient on bad escapes (kept literally).
pub fn form_decode(s: &str) -> String {
    decode_with(s, true)
}

/// Splits a query string or form body into decoded `(name, value)` pairs.
///
/// Empty segments (`a=1&&b=2`) are skipped; a segment without `=` yields an
/// empty value (`?uploads` → `("uploads", "")`). Order and duplicates are kept.
pub fn form_decode_pairs(query: &str) -> Vec<(String, String)> {
    let query = query.strip_prefix('?').unwrap_or(query);
    query
        .split('&')
        .filter(|seg| !seg.is_empty())
        .map(|seg| match seg.split_once('=') {
            Some((k, v)) => (form_decode(k), form_decode(v)),
            None => (form_decode(seg), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pop_encode_rules() {
        assert_eq!(pop_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(pop_encode("a b*c/d+e=f&g"), "a%20b%2Ac%2Fd%2Be%3Df%26g");
        assert_eq!(pop_encode("中"), "%E4%B8%AD");
        assert_eq!(pop_encode("2017-10-10T12:02:54Z"), "2017-10-10T12%3A02%3A54Z");
        assert_eq!(pop_encode(""), "");
        assert_eq!(pop_encode_path("/b/sv/a b.mp4"), "/b/sv/a%20b.mp4");
    }

    #[test]
    fn form_decoding() {
        let pairs = form_decode_pairs("FileName=a+b.mp4&Title=hello%20world%2A~+%E4%B8%AD&&x&y=");
        assert_eq!(
            pairs,
            vec![
                ("FileName".into(), "a b.mp4".into()),
                ("Title".into(), "hello world*~ 中".into()),
                ("x".into(), String::new()),
                ("y".into(), String::new()),
            ]
        );
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("%zz%4"), "%zz%4");
        assert_eq!(form_decode("%41%4a%4A"), "AJJ");
        assert_eq!(form_decode("a=b"), "a=b");
        assert_eq!(percent_decode("a+b%2Fc"), "a+b/c");
        assert_eq!(form_decode_pairs("?uploads"), vec![("uploads".into(), String::new())]);
        assert_eq!(form_decode_pairs(""), Vec::<(String, String)>::new());
        assert_eq!(form_decode("%FF"), "\u{FFFD}");
    }

    #[test]
    fn round_trip() {
        for s in ["hello world*~ 中", "a/b?c=d&e", "%25+"] {
            assert_eq!(form_decode(&pop_encode(s)), s);
        }
    }
}
