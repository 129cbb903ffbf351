//! RAM-style policy documents and their evaluation: explicit Deny wins, then any Allow,
//! otherwise an implicit deny. Action names match case-insensitively with `*` and `?`
//! wildcards (`vod:*`, `vod:Get*`), resources match with wildcards too.

use serde::{Deserialize, Serialize};

/// One string or a list of strings, as RAM accepts both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let v: Vec<&str> = match self {
            Self::One(s) => vec![s.as_str()],
            Self::Many(v) => v.iter().map(String::as_str).collect(),
        };
        v.into_iter()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub effect: Effect,
    pub action: OneOrMany,
    #[serde(default = "any_resource")]
    pub resource: OneOrMany,
}

fn any_resource() -> OneOrMany {
    OneOrMany::One("*".into())
}

/// A RAM policy document: `{"Version":"1","Statement":[...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    #[serde(default = "version_one")]
    pub version: String,
    #[serde(default)]
    pub statement: Vec<Statement>,
}

fn version_one() -> String {
    "1".into()
}

/// The outcome of evaluating a policy for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

impl PolicyDocument {
    /// A policy that allows nothing.
    pub fn empty() -> Self {
        Self {
            version: version_one(),
            statement: Vec::new(),
        }
    }

    /// A policy allowing the given actions on every resource.
    pub fn allow(actions: &[&str]) -> Self {
        Self {
            version: version_one(),
            statement: vec![Statement {
                effect: Effect::Allow,
                action: OneOrMany::Many(actions.iter().map(|s| s.to_string()).collect()),
                resource: any_resource(),
            }],
        }
    }

    pub fn parse(json: &str) -> Result<Self, String> {
        let doc: Self = serde_json::from_str(json).map_err(|e| format!("policy document is not valid: {e}"))?;
        for st in &doc.statement {
            for a in st.action.iter() {
                if !a.contains(':') && a != "*" {
                    return Err(format!("action {a:?} must be written as product:Action"));
                }
            }
        }
        Ok(doc)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// Evaluates `action` (e.g. `vod:RefreshMediaPlayUrls`) on `resource` (e.g. `*` or an ARN).
    pub fn evaluate(&self, action: &str, resource: &str) -> Decision {
        let mut allowed = false;
        for st in &self.statement {
            let action_hit = st.action.iter().any(|p| wildcard_match(p, action, true));
            let resource_hit = st.resource.iter().any(|p| wildcard_match(p, resource, false));
            if action_hit && resource_hit {
                match st.effect {
                    Effect::Deny => return Decision::ExplicitDeny,
                    Effect::Allow => allowed = true,
                }
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        }
    }

    /// True when some Allow statement grants `action` on any resource and no Deny
    /// statement denies it on every resource: the gateway-level check.
    pub fn allows_action_somewhere(&self, action: &str) -> bool {
        let mut allowed = false;
        for st in &self.statement {
            if !st.action.iter().any(|p| wildcard_match(p, action, true)) {
                continue;
            }
            match st.effect {
                Effect::Deny if st.resource.iter().any(|r| r == "*") => return false,
                Effect::Deny => {}
                Effect::Allow => allowed = true,
            }
        }
        allowed
    }
}

/// Glob match with `*` (any run) and `?` (one char).
pub fn wildcard_match(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if case_insensitive {
        (
            pattern.to_lowercase().chars().collect(),
            text.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("vod:*", "vod:GetVideoInfo", true));
        assert!(wildcard_match("vod:Get*", "VOD:getvideoinfo", true));
        assert!(!wildcard_match("vod:Get*", "vod:DeleteVideo", true));
        assert!(wildcard_match("*", "anything", false));
        assert!(wildcard_match("a?c", "abc", false));
        assert!(!wildcard_match("acs:vod:*:*:app/app-1", "acs:vod:*:*:app/app-2", false));
    }

    #[test]
    fn deny_wins_and_default_is_deny() {
        let doc = PolicyDocument::parse(
            r#"{"Version":"1","Statement":[
                {"Effect":"Allow","Action":"vod:*","Resource":"*"},
                {"Effect":"Deny","Action":["vod:RefreshMediaPlayUrls"],"Resource":"*"}]}"#,
        )
        .unwrap();
        assert_eq!(doc.evaluate("vod:GetVideoInfo", "*"), Decision::Allow);
        assert_eq!(doc.evaluate("vod:RefreshMediaPlayUrls", "*"), Decision::ExplicitDeny);
        assert_eq!(doc.evaluate("ice:RefreshUploadMedia", "*"), Decision::ImplicitDeny);
        assert!(!doc.allows_action_somewhere("vod:RefreshMediaPlayUrls"));
        assert!(doc.allows_action_somewhere("vod:GetPlayInfo"));
    }

    #[test]
    fn resource_scoped_allow() {
        let doc = PolicyDocument::parse(
            r#"{"Statement":[{"Effect":"Allow","Action":"vod:*","Resource":"acs:vod:*:*:app/app-1000000"}]}"#,
        )
        .unwrap();
        assert!(doc.allows_action_somewhere("vod:GetVideoInfo"));
        assert_eq!(
            doc.evaluate("vod:GetVideoInfo", "acs:vod:*:*:app/app-1000000"),
            Decision::Allow
        );
        assert_eq!(
            doc.evaluate("vod:GetVideoInfo", "acs:vod:*:*:app/app-2"),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn rejects_malformed() {
        assert!(PolicyDocument::parse("not json").is_err());
        assert!(PolicyDocument::parse(r#"{"Statement":[{"Effect":"Allow","Action":"GetVideo"}]}"#).is_err());
        assert!(PolicyDocument::parse(r#"{"Statement":[{"Effect":"Maybe","Action":"vod:*"}]}"#).is_err());
    }
}
