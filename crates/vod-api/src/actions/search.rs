//! SearchMedia (VOD) and its `Match` filter language.
//!
//! Grammar (keywords and field names are case-insensitive; strings in `'…'` or `"…"`
//! with `\` escapes; bare words and numbers are literals too):
//!
//! ```text
//! expr  := term ("or" term)*
//! term  := factor ("and" factor)*
//! factor:= "(" expr ")" | field op
//! op    := "=" value            exact match; fuzzy (contains) for Title and Description
//!        | "==" value           exact match for every field
//!        | "in" "(" value ("," value)* ")"   any of (fuzzy for Title and Description)
//!        | "=" "(" [value] "," [value] ")"  inclusive range; an empty side is open
//! ```
//!
//! Fields: `VideoId`/`AudioId`/`MediaId`, `Title`, `Description`, `Tags` (whole-tag
//! match, any case), `CateId`, `Status`, `StorageLocation`, `AppId`, `ReferenceId`, and the
//! range fields `CreationTime`, `ModificationTime` (UTC `yyyy-MM-ddTHH:mm:ssZ` or unix
//! ms), `Duration` (seconds) and `Size` (bytes). Example:
//! `Title = 'cat' and Status in ('Normal','UploadSucc') and CreationTime = ('2024-01-01T00:00:00Z',)`.

use serde_json::{Map, Value, json};
use vod_core::model::media::{
    Condition, FilterValue, Media, MediaField, MediaFilter, MediaQuery, MediaScope, MediaType, created_at_of_id,
};
use vod_wire::timefmt::{iso8601, parse_iso8601};
use vod_wire::{ApiError, Params};

use super::media::{AppAccess, Snapshots, cate_name, video_json};
use super::{ActionResult, Ctx, body};
use crate::authn::Principal;
use crate::error::core_to_api;

// ---- Match ----------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(String),
    LParen,
    RParen,
    Comma,
    Eq,
    EqEq,
}

fn bad(reason: impl Into<String>) -> ApiError {
    ApiError::invalid_because("Match", &reason.into())
}

fn tokenize(s: &str) -> Result<Vec<Tok>, ApiError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '=' => {
                if chars.get(i + 1) == Some(&'=') {
                    out.push(Tok::EqEq);
                    i += 2;
                } else {
                    out.push(Tok::Eq);
                    i += 1;
                }
            }
            '\'' | '"' => {
                let quote = c;
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(bad("A quoted value is not closed.")),
                        Some('\\') if i + 1 < chars.len() => {
                            text.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(&q) if q == quote => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            text.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(text));
            }
            c if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                out.push(Tok::Num(chars[start..i].iter().collect()));
            }
            c if c.is_alphanumeric() || c == '_' || c == '.' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.' | '-' | ':')) {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            other => return Err(bad(format!("Unexpected character {other:?}."))),
        }
    }
    Ok(out)
}

fn field_of(name: &str) -> Option<MediaField> {
    Some(match name.to_ascii_lowercase().as_str() {
        "videoid" | "audioid" | "mediaid" | "imageid" => MediaField::MediaId,
        "title" => MediaField::Title,
        "description" => MediaField::Description,
        "tags" => MediaField::Tags,
        "cateid" => MediaField::CateId,
        "status" => MediaField::Status,
        "storagelocation" => MediaField::StorageLocation,
        "appid" => MediaField::AppId,
        "referenceid" => MediaField::ReferenceId,
        "creationtime" => MediaField::CreationTime,
        "modificationtime" => MediaField::ModificationTime,
        "duration" => MediaField::Duration,
        "size" => MediaField::Size,
        _ => return None,
    })
}

fn is_fuzzy(f: MediaField) -> bool {
    matches!(f, MediaField::Title | MediaField::Description)
}

fn is_range(f: MediaField) -> bool {
    matches!(
        f,
        MediaField::CreationTime | MediaField::ModificationTime | MediaField::Duration | MediaField::Size
    )
}

fn is_time(f: MediaField) -> bool {
    matches!(f, MediaField::CreationTime | MediaField::ModificationTime)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), ApiError> {
        if self.next() == Some(tok) {
            Ok(())
        } else {
            Err(bad(format!("Expected {what}.")))
        }
    }

    fn expr(&mut self) -> Result<MediaFilter, ApiError> {
        let mut items = vec![self.term()?];
        while self.keyword("or") {
            self.pos += 1;
            items.push(self.term()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            MediaFilter::Or(items)
        })
    }

    fn term(&mut self) -> Result<MediaFilter, ApiError> {
        let mut items = vec![self.factor()?];
        while self.keyword("and") {
            self.pos += 1;
            items.push(self.factor()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            MediaFilter::And(items)
        })
    }

    fn factor(&mut self) -> Result<MediaFilter, ApiError> {
        match self.next() {
            Some(Tok::LParen) => {
                let e = self.expr()?;
                self.expect(Tok::RParen, "')'")?;
                Ok(e)
            }
            Some(Tok::Word(name)) => {
                let field = field_of(&name).ok_or_else(|| bad(format!("{name} is not a searchable field.")))?;
                self.condition(field, &name)
            }
            _ => Err(bad("Expected a field name or '('.")),
        }
    }

    fn literal(&mut self, field: MediaField) -> Result<FilterValue, ApiError> {
        let raw = match self.next() {
            Some(Tok::Str(s)) => s,
            Some(Tok::Num(n)) => n,
            Some(Tok::Word(w)) => w,
            _ => return Err(bad("Expected a value.")),
        };
        value_of(field, &raw)
    }

    fn condition(&mut self, field: MediaField, name: &str) -> Result<MediaFilter, ApiError> {
        let cond = match self.next() {
            Some(Tok::EqEq) => Condition::AnyOf(vec![self.literal(field)?]),
            Some(Tok::Eq) if self.peek() == Some(&Tok::LParen) => {
                if !is_range(field) {
                    return Err(bad(format!("{name} does not support range queries.")));
                }
                self.pos += 1;
                let min = if self.peek() == Some(&Tok::Comma) {
                    None
                } else {
                    Some(self.literal(field)?)
                };
                self.expect(Tok::Comma, "',' in a range")?;
                let max = if self.peek() == Some(&Tok::RParen) {
                    None
                } else {
                    Some(self.literal(field)?)
                };
                self.expect(Tok::RParen, "')' closing a range")?;
                Condition::Range { min, max }
            }
            Some(Tok::Eq) => {
                let v = self.literal(field)?;
                match v {
                    FilterValue::Text(t) if is_fuzzy(field) => Condition::Contains(vec![t]),
                    v => Condition::AnyOf(vec![v]),
                }
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => {
                self.expect(Tok::LParen, "'(' after in")?;
                let mut values = vec![self.literal(field)?];
                while self.peek() == Some(&Tok::Comma) {
                    self.pos += 1;
                    values.push(self.literal(field)?);
                }
                self.expect(Tok::RParen, "')' closing the value list")?;
                if is_fuzzy(field) {
                    Condition::Contains(
                        values
                            .into_iter()
                            .map(|v| match v {
                                FilterValue::Text(t) => t,
                                FilterValue::Int(i) => i.to_string(),
                                FilterValue::Float(f) => f.to_string(),
                            })
                            .collect(),
                    )
                } else {
                    Condition::AnyOf(values)
                }
            }
            _ => return Err(bad(format!("Expected =, == or in after {name}."))),
        };
        Ok(MediaFilter::Cond(field, cond))
    }
}

/// A literal converted for its field: times to unix ms, numbers to numbers.
fn value_of(field: MediaField, raw: &str) -> Result<FilterValue, ApiError> {
    if is_time(field) {
        if let Some(ms) = parse_iso8601(raw.trim()) {
            return Ok(FilterValue::Int(ms));
        }
        return raw
            .trim()
            .parse::<i64>()
            .map(FilterValue::Int)
            .map_err(|_| bad(format!("{raw:?} is not a UTC time (yyyy-MM-ddTHH:mm:ssZ).")));
    }
    match field {
        MediaField::CateId | MediaField::Size => raw
            .trim()
            .parse::<i64>()
            .map(FilterValue::Int)
            .map_err(|_| bad(format!("{raw:?} is not an integer."))),
        MediaField::Duration => raw
            .trim()
            .parse::<f64>()
            .map(FilterValue::Float)
            .map_err(|_| bad(format!("{raw:?} is not a number."))),
        _ => Ok(FilterValue::Text(raw.to_string())),
    }
}

/// Parses a `Match` expression; empty means no filter.
pub fn parse_match(s: &str) -> Result<Option<MediaFilter>, ApiError> {
    let toks = tokenize(s)?;
    if toks.is_empty() {
        return Ok(None);
    }
    let mut p = Parser { toks, pos: 0 };
    let e = p.expr()?;
    if p.pos != p.toks.len() {
        return Err(bad("Unexpected text after the expression."));
    }
    Ok(Some(e))
}

// ---- SearchMedia ----------------------------------------------------------------------

/// Fields of SearchMedia's `Video`/`Audio` objects that GetVideoInfo has and they do not.
const NOT_IN_SEARCH: &[&str] = &["RegionId", "AuditStatus", "UserData", "TemplateGroupId"];

fn search_item(ctx: &Ctx<'_>, m: &Media, cate: Option<&str>, fields: &[String]) -> Value {
    let (kind, id_key) = match m.media_type {
        MediaType::Audio => ("Audio", "AudioId"),
        _ => ("Video", "VideoId"),
    };
    let mut v = video_json(ctx, m, cate, Snapshots::Direct, id_key);
    for k in NOT_IN_SEARCH {
        v.remove(*k);
    }
    v.insert("SpriteSnapshots".into(), json!([]));
    v.insert("MediaSource".into(), json!("general"));
    v.insert("PreprocessStatus".into(), json!("UnPreprocess"));
    let mode = if m.wants_transcode() {
        "AsyncTranscode"
    } else {
        "NoTranscode"
    };
    v.insert("TranscodeMode".into(), json!(mode));
    if !fields.is_empty() {
        v.retain(|k, _| k == id_key || fields.iter().any(|f| f.eq_ignore_ascii_case(k)));
    }
    let mut item = Map::new();
    item.insert("MediaId".into(), json!(m.media_id));
    item.insert("MediaType".into(), json!(m.media_type.as_str()));
    item.insert("CreationTime".into(), json!(iso8601(m.created_at)));
    item.insert(kind.into(), Value::Object(v));
    Value::Object(item)
}

/// The apps a RAM user may search (`None`: no restriction).
async fn searchable_apps(ctx: &Ctx<'_>) -> Result<Option<Vec<FilterValue>>, ApiError> {
    if matches!(ctx.caller.principal, Principal::Root) {
        return Ok(None);
    }
    let query = vod_core::ports::AppQuery {
        page_no: 1,
        page_size: 1000,
        ..Default::default()
    };
    let (apps, _) = ctx
        .state
        .store()
        .list_apps(&ctx.caller.account_id, &query)
        .await
        .map_err(core_to_api)?;
    let mut access = AppAccess::default();
    let mut allowed = Vec::new();
    for a in apps {
        if access.allows(ctx, &a.app_id).await? {
            allowed.push(FilterValue::Text(a.app_id));
        }
    }
    Ok(Some(allowed))
}

pub async fn search_media(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let search_type = p
        .one_of("SearchType", &["video", "audio", "image", "attached"], Some("video"))?
        .unwrap_or("video");
    let media_types = match search_type {
        "video" => vec![MediaType::Video],
        "audio" => vec![MediaType::Audio],
        // Images and attached media are not in the library yet: nothing matches.
        _ => Vec::new(),
    };
    let mut filter = parse_match(p.get("Match").unwrap_or_default())?;
    let ascending = match p.get("SortBy").map(str::trim) {
        None => false,
        Some(s) if s.eq_ignore_ascii_case("CreationTime:Desc") => false,
        Some(s) if s.eq_ignore_ascii_case("CreationTime:Asc") => true,
        Some(_) => {
            return Err(ApiError::invalid_because(
                "SortBy",
                "It must be CreationTime:Desc or CreationTime:Asc.",
            ));
        }
    };
    let page_no = p.i64_in("PageNo", 1, i64::from(u32::MAX), 1)? as u64;
    let page_size = p.i64_in("PageSize", 1, 100, 10)? as u32;
    let after = match p.get("ScrollToken").map(str::trim) {
        None => None,
        Some(t) => Some((
            created_at_of_id(t).ok_or_else(|| {
                ApiError::invalid_because("ScrollToken", "It must be a token returned by SearchMedia.")
            })?,
            t.to_ascii_lowercase(),
        )),
    };
    let fields: Vec<String> = p.list("Fields");
    if let Some(apps) = searchable_apps(ctx).await? {
        let only = MediaFilter::Cond(MediaField::AppId, Condition::AnyOf(apps));
        filter = Some(match filter {
            Some(f) => MediaFilter::And(vec![only, f]),
            None => only,
        });
    }
    let query = MediaQuery {
        scope: MediaScope::Vod,
        media_types,
        filter,
        ascending,
        after,
        offset: (page_no - 1).saturating_mul(u64::from(page_size)),
        limit: page_size,
    };
    let (list, total) = ctx
        .state
        .store()
        .search_media(&ctx.caller.account_id, &query)
        .await
        .map_err(core_to_api)?;
    let mut items = Vec::with_capacity(list.len());
    for m in &list {
        let name = cate_name(ctx, m).await?;
        items.push(search_item(ctx, m, name.as_deref(), &fields));
    }
    let scroll = list.last().map(|m| m.media_id.clone()).unwrap_or_default();
    Ok(body([
        ("Total", json!(total)),
        ("ScrollToken", json!(scroll)),
        ("MediaList", Value::Array(items)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> FilterValue {
        FilterValue::Text(s.into())
    }

    #[test]
    fn parses_the_documented_forms() {
        let f = parse_match("Title = 'cat' and Status in ('Normal','UploadSucc')")
            .unwrap()
            .unwrap();
        assert_eq!(
            f,
            MediaFilter::And(vec![
                MediaFilter::Cond(MediaField::Title, Condition::Contains(vec!["cat".into()])),
                MediaFilter::Cond(
                    MediaField::Status,
                    Condition::AnyOf(vec![text("Normal"), text("UploadSucc")])
                ),
            ])
        );
        let f = parse_match("CreationTime = ('2024-01-01T00:00:00Z','2024-01-02T00:00:00Z')")
            .unwrap()
            .unwrap();
        assert_eq!(
            f,
            MediaFilter::Cond(
                MediaField::CreationTime,
                Condition::Range {
                    min: Some(FilterValue::Int(1_704_067_200_000)),
                    max: Some(FilterValue::Int(1_704_153_600_000))
                }
            )
        );
        let f = parse_match("duration = (,60.5)").unwrap().unwrap();
        assert_eq!(
            f,
            MediaFilter::Cond(
                MediaField::Duration,
                Condition::Range {
                    min: None,
                    max: Some(FilterValue::Float(60.5))
                }
            )
        );
        let f = parse_match(r#"(title == "a \"b\"" OR cateId = 7) and VideoId in (abc)"#)
            .unwrap()
            .unwrap();
        assert_eq!(
            f,
            MediaFilter::And(vec![
                MediaFilter::Or(vec![
                    MediaFilter::Cond(MediaField::Title, Condition::AnyOf(vec![text("a \"b\"")])),
                    MediaFilter::Cond(MediaField::CateId, Condition::AnyOf(vec![FilterValue::Int(7)])),
                ]),
                MediaFilter::Cond(MediaField::MediaId, Condition::AnyOf(vec![text("abc")])),
            ])
        );
        assert_eq!(parse_match("  ").unwrap(), None);
    }

    #[test]
    fn refuses_what_it_cannot_answer() {
        for bad in [
            "Title",
            "Title = ",
            "Nope = 'x'",
            "Title = 'x' and",
            "Title = ('a','b')",
            "CreationTime = ('yesterday',)",
            "CateId = 'seven'",
            "Title = 'x' Status = 'y'",
            "(Title = 'x'",
            "Title = 'open",
            "Title != 'x'",
        ] {
            let e = parse_match(bad).unwrap_err();
            assert_eq!(e.code, "InvalidParameter", "{bad}");
            assert!(e.message.contains("\"Match\""), "{bad}: {}", e.message);
        }
    }
}
