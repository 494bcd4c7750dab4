//! The query parameters of pods/log (Kubernetes' `PodLogOptions`): decoded and
//! validated as the API server does before anything is asked of the node, then encoded
//! again for the node agent's log endpoint.

use crate::api::query::{Query, parse_bool, parse_number};
use crate::api::status::{ApiError, ApiResult, StatusCause};

#[derive(Debug, PartialEq)]
pub struct LogOptions {
    pub container: Option<String>,
    pub follow: bool,
    pub previous: bool,
    pub timestamps: bool,
    pub since_seconds: Option<i64>,
    pub since_time: Option<jiff::Timestamp>,
    pub tail_lines: Option<i64>,
    pub limit_bytes: Option<i64>,
}

fn parse_time(value: &str) -> ApiResult<jiff::Timestamp> {
    value.parse().map_err(|error| {
        ApiError::bad_request(format!(
            "invalid value {value:?} for query parameter sinceTime: must be an RFC 3339 time: {error}"
        ))
    })
}

/// Kubernetes' `Invalid` error for `PodLogOptions`, with one cause per problem.
fn invalid(pod: &str, causes: Vec<StatusCause>) -> ApiError {
    ApiError::invalid_of_kind("", "PodLogOptions", pod, causes)
}

fn invalid_value(field: &str, value: i64, why: &str) -> StatusCause {
    StatusCause {
        reason: "FieldValueInvalid".to_owned(),
        message: format!("Invalid value: {value}: {why}"),
        field: field.to_owned(),
    }
}

impl LogOptions {
    /// Decodes the query of a pods/log request on `pod`: a value that is not of its
    /// parameter's type is a bad request naming the parameter, and values out of range
    /// are refused as `ValidatePodLogOptions` refuses them.
    pub fn from_query(query: &Query, pod: &str) -> ApiResult<Self> {
        let boolean = |name: &str| -> ApiResult<bool> {
            query
                .raw(name)
                .map_or(Ok(false), |value| parse_bool(name, value))
        };
        let integer = |name: &str| -> ApiResult<Option<i64>> {
            query
                .raw(name)
                .map(|value| parse_number(name, value))
                .transpose()
        };
        let options = LogOptions {
            container: query
                .raw("container")
                .filter(|container| !container.is_empty())
                .map(str::to_owned),
            follow: boolean("follow")?,
            previous: boolean("previous")?,
            timestamps: boolean("timestamps")?,
            since_seconds: integer("sinceSeconds")?,
            since_time: query.raw("sinceTime").map(parse_time).transpose()?,
            tail_lines: integer("tailLines")?,
            limit_bytes: integer("limitBytes")?,
        };
        let mut causes = Vec::new();
        if let Some(tail_lines) = options.tail_lines.filter(|lines| *lines < 0) {
            causes.push(invalid_value(
                "tailLines",
                tail_lines,
                "must be greater than or equal to 0",
            ));
        }
        if let Some(limit_bytes) = options.limit_bytes.filter(|bytes| *bytes < 1) {
            causes.push(invalid_value(
                "limitBytes",
                limit_bytes,
                "must be greater than 0",
            ));
        }
        match (options.since_seconds, options.since_time) {
            (Some(_), Some(_)) => causes.push(StatusCause {
                reason: "FieldValueForbidden".to_owned(),
                message: "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"
                    .to_owned(),
                field: String::new(),
            }),
            (Some(seconds), None) if seconds < 1 => causes.push(invalid_value(
                "sinceSeconds",
                seconds,
                "must be greater than 0",
            )),
            _ => {}
        }
        if causes.is_empty() {
            Ok(options)
        } else {
            Err(invalid(pod, causes))
        }
    }

    /// The query for the node agent's log endpoint, with the parameters in the order
    /// the API server writes them.
    pub fn node_query(&self) -> String {
        let mut parameters: Vec<(&str, String)> = Vec::new();
        for (name, set) in [
            ("follow", self.follow),
            ("previous", self.previous),
            ("timestamps", self.timestamps),
        ] {
            if set {
                parameters.push((name, "true".to_owned()));
            }
        }
        if let Some(seconds) = self.since_seconds {
            parameters.push(("sinceSeconds", seconds.to_string()));
        }
        if let Some(time) = self.since_time {
            parameters.push(("sinceTime", time.to_string()));
        }
        if let Some(lines) = self.tail_lines {
            parameters.push(("tailLines", lines.to_string()));
        }
        if let Some(bytes) = self.limit_bytes {
            parameters.push(("limitBytes", bytes.to_string()));
        }
        serde_urlencoded::to_string(&parameters).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn options(query: &str) -> ApiResult<LogOptions> {
        LogOptions::from_query(&Query::parse(Some(query))?, "web")
    }

    #[test]
    fn every_option_is_passed_on_to_the_node() {
        let parsed = options(
            "container=app&follow=true&previous=1&timestamps=true&tailLines=10&limitBytes=500&sinceTime=2024-05-01T10:00:00Z",
        );
        let Ok(parsed) = parsed else {
            panic!("the options parse: {parsed:?}");
        };
        assert_eq!(parsed.container.as_deref(), Some("app"));
        assert_eq!(
            parsed.node_query(),
            "follow=true&previous=true&timestamps=true&sinceTime=2024-05-01T10%3A00%3A00Z&tailLines=10&limitBytes=500"
        );
        assert_eq!(
            options("sinceSeconds=30")
                .map(|parsed| parsed.node_query())
                .ok(),
            Some("sinceSeconds=30".to_owned())
        );
        assert_eq!(
            options("follow=false")
                .map(|parsed| parsed.node_query())
                .ok(),
            Some(String::new())
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_a_bad_request_naming_the_parameter() {
        for (query, parameter) in [
            ("tailLines=ten", "tailLines"),
            ("sinceSeconds=1m", "sinceSeconds"),
            ("limitBytes=1k", "limitBytes"),
            ("follow=yes", "follow"),
            ("sinceTime=yesterday", "sinceTime"),
        ] {
            let error = options(query).err();
            assert!(
                error
                    .as_ref()
                    .is_some_and(|error| error.code == StatusCode::BAD_REQUEST
                        && error.message.contains(parameter)),
                "{query}: {error:?}"
            );
        }
    }

    #[test]
    fn values_out_of_range_are_invalid_as_kubernetes_says() {
        let error = options("tailLines=-1").err();
        assert_eq!(
            error
                .as_ref()
                .map(|error| (error.code, error.message.as_str())),
            Some((
                StatusCode::UNPROCESSABLE_ENTITY,
                "PodLogOptions \"web\" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0"
            ))
        );
        let error = options("sinceSeconds=0&limitBytes=0").err();
        assert_eq!(
            error.map(|error| error.message),
            Some("PodLogOptions \"web\" is invalid: [limitBytes: Invalid value: 0: must be greater than 0, sinceSeconds: Invalid value: 0: must be greater than 0]".to_owned())
        );
        let both = options("sinceSeconds=5&sinceTime=2024-05-01T10:00:00Z").err();
        assert!(both.is_some_and(|error| {
            error
                .message
                .contains("at most one of `sinceTime` or `sinceSeconds` may be specified")
        }),);
    }
}
