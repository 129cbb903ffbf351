//! Business parameters of one RPC request, with typed accessors that fail with the
//! Alibaba error naming the parameter (`MissingParameter` / `InvalidParameter`).

use crate::ApiError;

/// The decoded parameters of a request (query string and form body merged, in arrival order).
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The first value of `name` (names are case-sensitive, as on Alibaba's gateway).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The value of `name`, treating an empty string as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.raw(name).filter(|v| !v.trim().is_empty())
    }

    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| ApiError::missing(name))
    }

    /// An optional string of at most `max_chars` characters.
    pub fn opt_str_max(&self, name: &str, max_chars: usize) -> Result<Option<&str>, ApiError> {
        match self.get(name) {
            Some(v) if v.chars().count() > max_chars => Err(ApiError::invalid_because(
                name,
                &format!("It must be at most {max_chars} characters."),
            )),
            v => Ok(v),
        }
    }

    /// A boolean, accepted case-insensitively (`true`, `True`, `TRUE`, `false`, ...).
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::invalid(name)),
        }
    }

    pub fn opt_i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| ApiError::invalid(name)),
        }
    }

    /// An integer within `min..=max`, or `default` when absent.
    pub fn i64_in(&self, name: &str, min: i64, max: i64, default: i64) -> Result<i64, ApiError> {
        match self.opt_i64(name)? {
            None => Ok(default),
            Some(v) if (min..=max).contains(&v) => Ok(v),
            Some(_) => Err(ApiError::invalid_because(
                name,
                &format!("It must be between {min} and {max}."),
            )),
        }
    }

    /// A comma-separated list; items are trimmed and empty items dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// One of a fixed set of values (compared exactly), or `default` when absent.
    pub fn one_of<'a>(
        &'a self,
        name: &str,
        allowed: &[&'a str],
        default: Option<&'a str>,
    ) -> Result<Option<&'a str>, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => allowed
                .iter()
                .find(|a| **a == v)
                .map(|a| Some(*a))
                .ok_or_else(|| ApiError::invalid(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Params {
        Params::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn typed_accessors() {
        let ps = p(&[
            ("A", "True"),
            ("B", "fAlSe"),
            ("C", "x"),
            ("N", "12"),
            ("L", " a, ,b ,c"),
            ("E", ""),
        ]);
        assert_eq!(ps.opt_bool("A").unwrap(), Some(true));
        assert_eq!(ps.opt_bool("B").unwrap(), Some(false));
        assert_eq!(ps.opt_bool("C").unwrap_err().code, "InvalidParameter");
        assert_eq!(ps.opt_i64("N").unwrap(), Some(12));
        assert!(ps.i64_in("N", 1, 10, 5).is_err());
        assert_eq!(ps.i64_in("Z", 1, 10, 5).unwrap(), 5);
        assert_eq!(ps.list("L"), vec!["a", "b", "c"]);
        let e = ps.required("E").unwrap_err();
        assert_eq!(e.code, "MissingParameter");
        assert!(e.message.contains("\"E\""));
        assert_eq!(ps.one_of("C", &["x", "y"], None).unwrap(), Some("x"));
        assert!(ps.one_of("A", &["x"], None).is_err());
    }
}
