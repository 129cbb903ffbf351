//! Changing stored transcode template groups: the limits Alibaba documents, parsing of the
//! `TranscodeTemplateList` parameter, [`GroupRefusal`] (why a change is refused) and
//! [`GroupChange`], the one edit `TemplateRepo::update_template_group` applies atomically
//! with [`TemplateGroup::apply`].

use std::collections::HashSet;

use serde_json::Value;

use super::template::{TemplateGroup, TranscodeTemplate, watermark_ids};

/// Most templates one group holds (`TranscodeTemplateExceededMax`).
pub const MAX_TEMPLATES_PER_GROUP: usize = 20;
/// Most stored groups one app holds; the built-in groups do not count
/// (`TrasncodeTemplateGroupExceededMax`).
pub const MAX_GROUPS_PER_APP: u64 = 20;
/// Most watermarks one template names (`WatermarkExceededMax`).
pub const MAX_WATERMARKS_PER_TEMPLATE: usize = 4;
/// Longest group name, in bytes.
pub const MAX_GROUP_NAME_BYTES: usize = 128;

/// Why a template-group operation was refused (each maps to one Alibaba error code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRefusal {
    /// No such stored group (`InvalidTranscodeTemplateGroup.NotFound`).
    NotFound,
    /// The group is locked (`Forbidden.LockedTemplateGroup`).
    Locked,
    /// A built-in group cannot be changed (`Forbidden.SpecialTemplateGroup`).
    Special,
    /// The group is its app's default and cannot be deleted (`Forbidden.DefaultTemplateGroup`).
    Default,
    /// The app holds [`MAX_GROUPS_PER_APP`] groups already.
    TooManyGroups,
    /// The group would hold more than [`MAX_TEMPLATES_PER_GROUP`] templates.
    TooManyTemplates,
    /// A template names more than [`MAX_WATERMARKS_PER_TEMPLATE`] watermarks (which one).
    TooManyWatermarks(String),
    /// The template list is not valid: which template and what is wrong.
    Invalid(String),
}

/// One element of a `TranscodeTemplateList` parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedTemplate {
    pub template: TranscodeTemplate,
    /// Whether the element named its `TranscodeTemplateId` (an update of that template).
    pub had_id: bool,
}

/// `template 2 ("HD mp4")`, for error messages (1-based).
fn describe(index: usize, v: &Value) -> String {
    match v.get("TemplateName").and_then(Value::as_str).filter(|n| !n.is_empty()) {
        Some(name) => format!("template {} ({name:?})", index + 1),
        None => format!("template {}", index + 1),
    }
}

/// Parses a `TranscodeTemplateList` parameter: a JSON array of template objects (nested
/// settings may be objects or JSON strings). Templates without a `TranscodeTemplateId` get
/// `new_id()`; with `keep_ids = false` every template gets a new id.
pub fn parse_template_list(
    raw: &str,
    keep_ids: bool,
    new_id: &mut dyn FnMut() -> String,
) -> Result<Vec<ListedTemplate>, GroupRefusal> {
    let items = match serde_json::from_str::<Value>(raw) {
        Ok(Value::Array(items)) => items,
        Ok(obj @ Value::Object(_)) => vec![obj],
        _ => {
            return Err(GroupRefusal::Invalid(
                "It must be a JSON array of template objects.".into(),
            ));
        }
    };
    if items.len() > MAX_TEMPLATES_PER_GROUP {
        return Err(GroupRefusal::TooManyTemplates);
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let had_id = keep_ids
            && item
                .get("TranscodeTemplateId")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.trim().is_empty());
        let mut item = item.clone();
        if !keep_ids && let Some(o) = item.as_object_mut() {
            o.remove("TranscodeTemplateId");
        }
        let marks = watermark_ids(item.get("WatermarkIds")).len();
        if marks > MAX_WATERMARKS_PER_TEMPLATE {
            return Err(GroupRefusal::TooManyWatermarks(format!(
                "The {} names {marks} watermarks; at most {MAX_WATERMARKS_PER_TEMPLATE} are allowed.",
                describe(i, &item)
            )));
        }
        let template = TranscodeTemplate::from_json(&item, &mut *new_id)
            .map_err(|e| GroupRefusal::Invalid(format!("The {}: {e}.", describe(i, &item))))?;
        out.push(ListedTemplate { template, had_id });
    }
    Ok(out)
}

/// Checks the templates of one group: at most [`MAX_TEMPLATES_PER_GROUP`], no two with the
/// same Definition and format (they would be the same stream), no id twice.
pub fn check_templates(templates: &[TranscodeTemplate]) -> Result<(), GroupRefusal> {
    if templates.len() > MAX_TEMPLATES_PER_GROUP {
        return Err(GroupRefusal::TooManyTemplates);
    }
    let mut seen = HashSet::new();
    for t in templates {
        if !seen.insert((t.definition.as_str(), t.format.as_str())) {
            return Err(GroupRefusal::Invalid(format!(
                "The group would hold two templates of Definition {} and format {}.",
                t.definition, t.format
            )));
        }
    }
    let mut ids = HashSet::new();
    if let Some(t) = templates.iter().find(|t| !ids.insert(t.template_id.as_str())) {
        return Err(GroupRefusal::Invalid(format!(
            "The template id {} appears twice.",
            t.template_id
        )));
    }
    Ok(())
}

/// An edit of one stored group. Fields left `None` / empty are not changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupChange {
    pub name: Option<String>,
    /// Locks (`Some(true)`) or unlocks the group.
    pub locked: Option<bool>,
    /// Templates appended to the group (with new ids).
    pub add: Vec<TranscodeTemplate>,
    /// Templates replacing the group's template with the same id (the Definition of a
    /// template cannot change).
    pub replace: Vec<TranscodeTemplate>,
    /// Ids of templates to remove; ids the group does not hold are reported back.
    pub remove: Vec<String>,
}

impl GroupChange {
    /// Whether the change touches anything but the lock.
    pub fn changes_content(&self) -> bool {
        self.name.is_some() || !self.add.is_empty() || !self.replace.is_empty() || !self.remove.is_empty()
    }
}

impl TemplateGroup {
    /// Applies `change` (all or nothing) and returns the ids of `change.remove` the group did
    /// not hold. Refused: built-in groups (`Special`); content changes of a locked group,
    /// unless the same change unlocks it (`Locked`); an unknown template id or a changed
    /// Definition in `replace`, or two templates of the result with the same Definition
    /// and format (`Invalid`); more than [`MAX_TEMPLATES_PER_GROUP`] templates.
    pub fn apply(&mut self, change: &GroupChange, now_ms: i64) -> Result<Vec<String>, GroupRefusal> {
        if self.is_builtin() {
            return Err(GroupRefusal::Special);
        }
        if self.locked && change.locked != Some(false) && change.changes_content() {
            return Err(GroupRefusal::Locked);
        }
        let mut templates = self.templates.clone();
        for t in &change.replace {
            let Some(slot) = templates.iter_mut().find(|x| x.template_id == t.template_id) else {
                return Err(GroupRefusal::Invalid(format!(
                    "The template {} is not in the group.",
                    t.template_id
                )));
            };
            if slot.definition != t.definition {
                return Err(GroupRefusal::Invalid(format!(
                    "The Definition of template {} cannot be changed ({} to {}).",
                    t.template_id, slot.definition, t.definition
                )));
            }
            *slot = t.clone();
        }
        templates.extend(change.add.iter().cloned());
        let mut missing = Vec::new();
        for id in &change.remove {
            let before = templates.len();
            templates.retain(|t| &t.template_id != id);
            if templates.len() == before && !missing.contains(id) {
                missing.push(id.clone());
            }
        }
        check_templates(&templates)?;
        self.templates = templates;
        if let Some(name) = &change.name {
            self.name = name.clone();
        }
        if let Some(locked) = change.locked {
            self.locked = locked;
        }
        self.modified_at = now_ms;
        Ok(missing)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::template::{DEFAULT_TEMPLATE_GROUP, builtin_group};

    fn ids() -> impl FnMut() -> String {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
        || format!("{:032x}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    fn list(v: Value, keep: bool) -> Result<Vec<ListedTemplate>, GroupRefusal> {
        parse_template_list(&v.to_string(), keep, &mut ids())
    }

    fn group(templates: Vec<TranscodeTemplate>) -> TemplateGroup {
        TemplateGroup {
            account_id: "a".into(),
            group_id: "g".repeat(32),
            app_id: "app-1000000".into(),
            name: "g".into(),
            is_default: false,
            locked: false,
            templates,
            created_at: 1,
            modified_at: 1,
        }
    }

    fn tpl(def: &str, format: &str) -> Value {
        json!({"TemplateName": format!("{def} {format}"), "Definition": def, "Container": {"Format": format}})
    }

    #[test]
    fn parse_lists() {
        let got = list(
            json!([tpl("LD", "mp4"), {"TranscodeTemplateId": "x1", "Definition": "SD",
                               "Container": "{\"Format\":\"m3u8\"}"}]),
            true,
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        assert!(!got[0].had_id && got[1].had_id);
        assert_eq!(got[1].template.template_id, "x1");
        let fresh = list(
            json!([{"TranscodeTemplateId": "x1", "Definition": "SD", "Container": {"Format": "mp4"}}]),
            false,
        )
        .unwrap();
        assert!(!fresh[0].had_id && fresh[0].template.template_id != "x1");

        let bad = list(
            json!([tpl("LD", "mp4"), {"TemplateName": "b", "Definition": "LD"}]),
            true,
        )
        .unwrap_err();
        assert_eq!(
            bad,
            GroupRefusal::Invalid("The template 2 (\"b\"): Container.Format is required.".into())
        );
        assert!(matches!(list(json!("[1"), true), Err(GroupRefusal::Invalid(_))));
        let many: Vec<Value> = (0..21).map(|_| tpl("LD", "mp4")).collect();
        assert_eq!(list(Value::Array(many), true), Err(GroupRefusal::TooManyTemplates));
        let mut marked = tpl("LD", "mp4");
        marked["WatermarkIds"] = json!(["a", "b", "c", "d", "e"]);
        assert!(matches!(
            list(json!([marked]), true),
            Err(GroupRefusal::TooManyWatermarks(_))
        ));
    }

    #[test]
    fn apply_add_replace_remove() {
        let first = list(json!([tpl("LD", "mp4"), tpl("SD", "mp4")]), false).unwrap();
        let mut g = group(first.into_iter().map(|l| l.template).collect());
        let ld = g.templates[0].template_id.clone();
        let mut replacement = g.templates[0].clone();
        replacement.name = "renamed".into();
        let change = GroupChange {
            name: Some("new".into()),
            add: vec![list(json!([tpl("HD", "m3u8")]), false).unwrap()[0].template.clone()],
            replace: vec![replacement],
            remove: vec!["nope".into(), g.templates[1].template_id.clone()],
            ..Default::default()
        };
        let missing = g.apply(&change, 5).unwrap();
        assert_eq!(missing, ["nope"]);
        assert_eq!((g.name.as_str(), g.modified_at, g.templates.len()), ("new", 5, 2));
        assert_eq!(
            (g.templates[0].template_id.as_str(), g.templates[0].name.as_str()),
            (ld.as_str(), "renamed")
        );

        let mut changed_def = g.templates[0].clone();
        changed_def.definition = "HD".into();
        let before = g.clone();
        let err = g
            .apply(
                &GroupChange {
                    replace: vec![changed_def],
                    ..Default::default()
                },
                6,
            )
            .unwrap_err();
        assert!(matches!(err, GroupRefusal::Invalid(m) if m.contains("cannot be changed")));
        let dup = list(json!([tpl("LD", "mp4")]), false).unwrap()[0].template.clone();
        let err = g
            .apply(
                &GroupChange {
                    add: vec![dup],
                    ..Default::default()
                },
                6,
            )
            .unwrap_err();
        assert!(matches!(err, GroupRefusal::Invalid(m) if m.contains("Definition LD and format mp4")));
        assert_eq!(g, before, "refused changes leave the group as it was");
    }

    #[test]
    fn locks_and_builtins() {
        let mut g = group(Vec::new());
        g.apply(
            &GroupChange {
                locked: Some(true),
                ..Default::default()
            },
            2,
        )
        .unwrap();
        assert!(g.locked);
        let rename = GroupChange {
            name: Some("x".into()),
            ..Default::default()
        };
        assert_eq!(g.apply(&rename, 3), Err(GroupRefusal::Locked));
        g.apply(
            &GroupChange {
                locked: Some(false),
                ..Default::default()
            },
            4,
        )
        .unwrap();
        g.apply(&rename, 5).unwrap();
        let mut b = builtin_group("a", "app-1000000", DEFAULT_TEMPLATE_GROUP).unwrap();
        assert_eq!(b.apply(&rename, 6), Err(GroupRefusal::Special));
    }
}
