//! Query parameters: only the names a route takes, each at most once, integers in range —
//! a typo or a repeated name is a 400 that says so, not a silent default.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;

use leaktrail_store::{Store, Target};

use super::ApiError;

/// A query string as its name-value pairs in order: a map would keep only the last of a
/// repeated name, silently.
pub(super) type RawQuery = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// Query parameters, checked against the names a route takes.
pub(super) struct Params(HashMap<String, String>);

impl Params {
    /// The pairs of `query`, refused if a name is not in `allowed` or comes twice.
    pub(super) fn parse(query: RawQuery, allowed: &[&str]) -> Result<Params, ApiError> {
        let Query(pairs) =
            query.map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))?;
        let mut map = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {name:?} (this route takes {})",
                    if allowed.is_empty() {
                        "none".to_owned()
                    } else {
                        allowed.join(", ")
                    }
                )));
            }
            if map.contains_key(&name) {
                return Err(ApiError::bad_request(format!(
                    "parameter {name:?} given more than once: give it once"
                )));
            }
            map.insert(name, value);
        }
        Ok(Params(map))
    }

    /// The text of `name`, refused when empty.
    pub(super) fn text(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(name).map(String::as_str) {
            Some("") => Err(ApiError::bad_request(format!("{name}: empty"))),
            v => Ok(v),
        }
    }

    /// An integer in `min..=max`.
    pub(super) fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.0.get(name) else {
            return Ok(None);
        };
        let n: i64 = v
            .trim()
            .parse()
            .map_err(|_| ApiError::bad_request(format!("{name}={v:?}: expected an integer")))?;
        if !(min..=max).contains(&n) {
            return Err(ApiError::bad_request(format!(
                "{name}={n}: expected {min} to {max}"
            )));
        }
        Ok(Some(n))
    }
}

/// The targets a request names: all of them, or the one called `name` (404 if none is).
pub(super) fn select_targets(store: &Store, name: Option<&str>) -> Result<Vec<Target>, ApiError> {
    let mut targets = store.targets()?;
    if let Some(name) = name {
        let known: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
        targets.retain(|t| t.name == name);
        if targets.is_empty() {
            return Err(ApiError::not_found(format!(
                "no target {name:?} in the store (targets: {})",
                if known.is_empty() {
                    "none yet".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        }
    }
    Ok(targets)
}
