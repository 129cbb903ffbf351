//! SearchMedia on SQL: a [`MediaQuery`] (library, types, parsed `Match` filter, order,
//! page) becomes one page query and one count query with bound parameters, in SQL both
//! backends run unchanged. Fuzzy matches are case-insensitive `LIKE` with escaped
//! wildcards; tag matches compare whole tags (`,a,b,` contains `,x,`).

use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use vod_core::model::media::{Condition, FilterValue, MediaField, MediaFilter, MediaQuery};
use vod_core::{CoreError, CoreResult};

use crate::media::COLS;

/// One bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
    Float(f64),
    NullInt,
}

/// Binds `binds` in order.
pub(crate) fn bind_all<'q>(mut q: Query<'q, Any, AnyArguments>, binds: &[Bind]) -> Query<'q, Any, AnyArguments> {
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Int(i) => q.bind(*i),
            Bind::Float(f) => q.bind(*f),
            Bind::NullInt => q.bind(None::<i64>),
        };
    }
    q
}

/// The two statements of one search.
pub(crate) struct Compiled {
    pub page_sql: String,
    pub page_binds: Vec<Bind>,
    pub count_sql: String,
    pub count_binds: Vec<Bind>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Int,
    Float,
    Tags,
}

fn column(field: MediaField) -> (&'static str, Kind) {
    match field {
        MediaField::MediaId => ("media_id", Kind::Text),
        MediaField::Title => ("title", Kind::Text),
        MediaField::Description => ("description", Kind::Text),
        MediaField::Tags => ("tags", Kind::Tags),
        MediaField::CateId => ("cate_id", Kind::Int),
        MediaField::Status => ("status", Kind::Text),
        MediaField::StorageLocation => ("storage_location", Kind::Text),
        MediaField::AppId => ("app_id", Kind::Text),
        MediaField::ReferenceId => ("reference_id", Kind::Text),
        MediaField::CreationTime => ("created_at", Kind::Int),
        MediaField::ModificationTime => ("modified_at", Kind::Int),
        MediaField::Duration => ("duration", Kind::Float),
        MediaField::Size => ("size", Kind::Int),
    }
}

/// Escapes `%`, `_` and `\` for `LIKE … ESCAPE '\'`.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn bad(reason: String) -> CoreError {
    CoreError::invalid("Match", reason)
}

/// A value converted to the column's type.
fn typed(value: &FilterValue, kind: Kind, col: &str) -> CoreResult<Bind> {
    Ok(match (kind, value) {
        (Kind::Text | Kind::Tags, FilterValue::Text(s)) => Bind::Text(s.clone()),
        (Kind::Text | Kind::Tags, FilterValue::Int(i)) => Bind::Text(i.to_string()),
        (Kind::Text | Kind::Tags, FilterValue::Float(f)) => Bind::Text(f.to_string()),
        (Kind::Int, FilterValue::Int(i)) => Bind::Int(*i),
        (Kind::Int, FilterValue::Text(s)) => Bind::Int(
            s.trim()
                .parse()
                .map_err(|_| bad(format!("{col} needs an integer, not {s:?}")))?,
        ),
        (Kind::Int, FilterValue::Float(f)) if f.fract() == 0.0 => Bind::Int(*f as i64),
        (Kind::Int, FilterValue::Float(f)) => {
            return Err(bad(format!("{col} needs an integer, not {f}")));
        }
        (Kind::Float, FilterValue::Float(f)) => Bind::Float(*f),
        (Kind::Float, FilterValue::Int(i)) => Bind::Float(*i as f64),
        (Kind::Float, FilterValue::Text(s)) => Bind::Float(
            s.trim()
                .parse()
                .map_err(|_| bad(format!("{col} needs a number, not {s:?}")))?,
        ),
    })
}

fn push(binds: &mut Vec<Bind>, b: Bind) -> String {
    binds.push(b);
    format!("${}", binds.len())
}

fn compile_filter(f: &MediaFilter, binds: &mut Vec<Bind>) -> CoreResult<String> {
    match f {
        MediaFilter::And(items) | MediaFilter::Or(items) if items.is_empty() => Ok("1 = 1".into()),
        MediaFilter::And(items) => {
            let parts = items
                .iter()
                .map(|i| compile_filter(i, binds))
                .collect::<CoreResult<Vec<_>>>()?;
            Ok(format!("({})", parts.join(" AND ")))
        }
        MediaFilter::Or(items) => {
            let parts = items
                .iter()
                .map(|i| compile_filter(i, binds))
                .collect::<CoreResult<Vec<_>>>()?;
            Ok(format!("({})", parts.join(" OR ")))
        }
        MediaFilter::Cond(field, cond) => compile_cond(*field, cond, binds),
    }
}

fn compile_cond(field: MediaField, cond: &Condition, binds: &mut Vec<Bind>) -> CoreResult<String> {
    let (col, kind) = column(field);
    let ors: Vec<String> = match cond {
        Condition::AnyOf(values) if kind == Kind::Tags => values
            .iter()
            .map(|v| {
                let Bind::Text(t) = typed(v, kind, col)? else {
                    unreachable!("tags are text")
                };
                let p = push(
                    binds,
                    Bind::Text(format!("%,{},%", like_escape(&t.trim().to_ascii_lowercase()))),
                );
                Ok(format!("(',' || LOWER(tags) || ',') LIKE {p} ESCAPE '\\'"))
            })
            .collect::<CoreResult<_>>()?,
        Condition::AnyOf(values) => {
            if values.is_empty() {
                return Ok("1 = 0".into());
            }
            let ps = values
                .iter()
                .map(|v| Ok(push(binds, typed(v, kind, col)?)))
                .collect::<CoreResult<Vec<_>>>()?;
            vec![format!("{col} IN ({})", ps.join(", "))]
        }
        Condition::Contains(words) => {
            if !matches!(kind, Kind::Text | Kind::Tags) {
                return Err(bad(format!("{col} cannot be matched fuzzily")));
            }
            words
                .iter()
                .map(|w| {
                    let p = push(binds, Bind::Text(format!("%{}%", like_escape(&w.to_ascii_lowercase()))));
                    format!("LOWER({col}) LIKE {p} ESCAPE '\\'")
                })
                .collect()
        }
        Condition::Range { min, max } => {
            let mut parts = Vec::new();
            if let Some(v) = min {
                parts.push(format!("{col} >= {}", push(binds, typed(v, kind, col)?)));
            }
            if let Some(v) = max {
                parts.push(format!("{col} <= {}", push(binds, typed(v, kind, col)?)));
            }
            if parts.is_empty() {
                parts.push(format!("{col} IS NOT NULL"));
            }
            return Ok(format!("({})", parts.join(" AND ")));
        }
    };
    if ors.is_empty() {
        return Ok("1 = 0".into());
    }
    Ok(format!("({})", ors.join(" OR ")))
}

/// The base condition (account, library, types, filter) with its binds.
fn base(account_id: &str, q: &MediaQuery, binds: &mut Vec<Bind>) -> CoreResult<String> {
    let account = push(binds, Bind::Text(account_id.into()));
    let scope = push(binds, Bind::Text(q.scope.as_str().into()));
    let types = q
        .media_types
        .iter()
        .map(|t| push(binds, Bind::Text(t.as_str().into())))
        .collect::<Vec<_>>();
    let mut sql = format!(
        "account_id = {account} AND scope = {scope} AND media_type IN ({})",
        types.join(", ")
    );
    if let Some(f) = &q.filter {
        sql.push_str(" AND ");
        sql.push_str(&compile_filter(f, binds)?);
    }
    Ok(sql)
}

pub(crate) fn compile_query(account_id: &str, q: &MediaQuery) -> CoreResult<Compiled> {
    let mut count_binds = Vec::new();
    let where_count = base(account_id, q, &mut count_binds)?;
    let count_sql = format!("SELECT COUNT(*) AS total FROM media WHERE {where_count}");

    let mut page_binds = Vec::new();
    let mut where_page = base(account_id, q, &mut page_binds)?;
    let (cmp, order) = if q.ascending { (">", "ASC") } else { ("<", "DESC") };
    if let Some((t, id)) = &q.after {
        let t1 = push(&mut page_binds, Bind::Int(*t));
        let t2 = push(&mut page_binds, Bind::Int(*t));
        let i = push(&mut page_binds, Bind::Text(id.clone()));
        where_page.push_str(&format!(
            " AND (created_at {cmp} {t1} OR (created_at = {t2} AND media_id {cmp} {i}))"
        ));
    }
    let limit = push(&mut page_binds, Bind::Int(i64::from(q.limit)));
    let offset = if q.after.is_some() {
        0
    } else {
        i64::try_from(q.offset).unwrap_or(i64::MAX)
    };
    let offset = push(&mut page_binds, Bind::Int(offset));
    let page_sql = format!(
        "SELECT {COLS} FROM media WHERE {where_page} ORDER BY created_at {order}, media_id {order} LIMIT {limit} OFFSET {offset}"
    );
    Ok(Compiled {
        page_sql,
        page_binds,
        count_sql,
        count_binds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vod_core::model::media::{MediaScope, MediaType};

    #[test]
    fn compiles_with_numbered_binds() {
        let filter = MediaFilter::And(vec![
            MediaFilter::Cond(MediaField::Title, Condition::Contains(vec!["a_b%".into()])),
            MediaFilter::Or(vec![
                MediaFilter::Cond(
                    MediaField::Status,
                    Condition::AnyOf(vec![FilterValue::Text("Normal".into())]),
                ),
                MediaFilter::Cond(
                    MediaField::CreationTime,
                    Condition::Range {
                        min: Some(FilterValue::Int(5)),
                        max: None,
                    },
                ),
            ]),
        ]);
        let q = MediaQuery {
            scope: MediaScope::Vod,
            media_types: vec![MediaType::Video],
            filter: Some(filter),
            ascending: false,
            after: Some((7, "x".into())),
            offset: 30,
            limit: 10,
        };
        let c = compile_query("acct", &q).unwrap();
        assert!(
            c.count_sql.contains("LOWER(title) LIKE $4 ESCAPE '\\'"),
            "{}",
            c.count_sql
        );
        assert!(c.count_sql.contains("status IN ($5)"), "{}", c.count_sql);
        assert!(c.count_sql.contains("created_at >= $6"), "{}", c.count_sql);
        assert_eq!(c.count_binds[3], Bind::Text("%a\\_b\\%%".into()));
        assert!(
            c.page_sql
                .contains("created_at < $7 OR (created_at = $8 AND media_id < $9)"),
            "{}",
            c.page_sql
        );
        assert!(c.page_sql.ends_with("LIMIT $10 OFFSET $11"), "{}", c.page_sql);
        assert_eq!(c.page_binds[10], Bind::Int(0), "keyset pagination ignores the offset");
    }

    #[test]
    fn type_errors_name_match() {
        let q = MediaQuery {
            scope: MediaScope::Vod,
            media_types: vec![MediaType::Video],
            filter: Some(MediaFilter::Cond(
                MediaField::CateId,
                Condition::AnyOf(vec![FilterValue::Text("x".into())]),
            )),
            ascending: true,
            after: None,
            offset: 0,
            limit: 10,
        };
        assert!(matches!(
            compile_query("a", &q),
            Err(CoreError::InvalidArgument { field: "Match", .. })
        ));
    }
}
