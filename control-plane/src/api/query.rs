//! The query parameters of the resource verbs.

use std::collections::HashMap;
use std::time::Duration;

use super::status::{ApiError, ApiResult};

#[derive(Debug, Default)]
pub struct Query {
    pub watch: bool,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub allow_watch_bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Option<Duration>,
    pub dry_run: bool,
    pub field_validation: Option<String>,
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub include_object: Option<String>,
    pub raw: HashMap<String, String>,
}

pub(crate) fn parse_bool(name: &str, value: &str) -> ApiResult<bool> {
    match value {
        "true" | "1" | "True" => Ok(true),
        "false" | "0" | "False" | "" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "invalid value {value:?} for query parameter {name}: must be true or false"
        ))),
    }
}

pub(crate) fn parse_number<T: std::str::FromStr>(name: &str, value: &str) -> ApiResult<T> {
    value.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "invalid value {value:?} for query parameter {name}: must be a number"
        ))
    })
}

impl Query {
    pub fn parse(query: Option<&str>) -> ApiResult<Self> {
        let pairs: Vec<(String, String)> = match query {
            Some(query) => serde_urlencoded::from_str(query)
                .map_err(|error| ApiError::bad_request(format!("invalid query string: {error}")))?,
            None => Vec::new(),
        };
        let mut parsed = Query::default();
        for (name, value) in pairs {
            match name.as_str() {
                "watch" => parsed.watch = parse_bool(&name, &value)?,
                "labelSelector" => parsed.label_selector = Some(value.clone()),
                "fieldSelector" => parsed.field_selector = Some(value.clone()),
                "limit" => {
                    parsed.limit =
                        Some(parse_number::<usize>(&name, &value)?).filter(|limit| *limit > 0)
                }
                "continue" => {
                    parsed.continue_token = Some(value.clone()).filter(|token| !token.is_empty())
                }
                "resourceVersion" => {
                    parsed.resource_version =
                        Some(value.clone()).filter(|version| !version.is_empty())
                }
                "resourceVersionMatch" => {
                    parsed.resource_version_match =
                        Some(value.clone()).filter(|rule| !rule.is_empty())
                }
                "allowWatchBookmarks" => parsed.allow_watch_bookmarks = parse_bool(&name, &value)?,
                "sendInitialEvents" => parsed.send_initial_events = parse_bool(&name, &value)?,
                "timeoutSeconds" => {
                    parsed.timeout = Some(Duration::from_secs(parse_number(&name, &value)?))
                }
                "dryRun" => parsed.dry_run = value == "All",
                "fieldValidation" => parsed.field_validation = Some(value.clone()),
                "gracePeriodSeconds" => {
                    parsed.grace_period_seconds = Some(parse_number(&name, &value)?)
                }
                "propagationPolicy" => parsed.propagation_policy = Some(value.clone()),
                "includeObject" => parsed.include_object = Some(value.clone()),
                _ => {}
            }
            parsed.raw.insert(name, value);
        }
        Ok(parsed)
    }

    pub fn raw(&self, name: &str) -> Option<&str> {
        self.raw.get(name).map(String::as_str)
    }
}
