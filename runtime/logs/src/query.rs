//! What a reader asks of a log: Kubernetes' PodLogOptions, less the container (which is
//! an argument of its own) and the stream selection (which Kubernetes has not released).

use jiff::{SignedDuration, Timestamp};

/// Options for reading a container's log, with the meaning of PodLogOptions' fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Read the previous instance of the container (the one before the last restart).
    pub previous: bool,
    /// Keep streaming new lines until the instance's writer is closed.
    pub follow: bool,
    /// Only the last this many lines.
    pub tail_lines: Option<i64>,
    /// Only lines logged at most this many seconds ago.
    pub since_seconds: Option<i64>,
    /// Only lines logged at or after this time.
    pub since_time: Option<Timestamp>,
    /// Prefix each line with the time it was logged.
    pub timestamps: bool,
    /// Stop after this many bytes of output.
    pub limit_bytes: Option<i64>,
}

/// An option out of range, with the API server's ValidatePodLogOptions messages.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("tailLines: Invalid value: {0}: must be greater than or equal to 0")]
    NegativeTailLines(i64),
    #[error("limitBytes: Invalid value: {0}: must be greater than 0")]
    LimitBytesNotPositive(i64),
    #[error("sinceSeconds: Invalid value: {0}: must be greater than 0")]
    SinceSecondsNotPositive(i64),
    #[error("at most one of `sinceTime` or `sinceSeconds` may be specified")]
    BothSinceTimeAndSinceSeconds,
}

impl LogQuery {
    /// Refuses what ValidatePodLogOptions refuses.
    pub fn validate(&self) -> Result<(), QueryError> {
        if let Some(tail_lines) = self.tail_lines.filter(|tail_lines| *tail_lines < 0) {
            return Err(QueryError::NegativeTailLines(tail_lines));
        }
        if let Some(limit_bytes) = self.limit_bytes.filter(|limit_bytes| *limit_bytes < 1) {
            return Err(QueryError::LimitBytesNotPositive(limit_bytes));
        }
        match (self.since_seconds, self.since_time) {
            (Some(_), Some(_)) => Err(QueryError::BothSinceTimeAndSinceSeconds),
            (Some(since_seconds), None) if since_seconds < 1 => {
                Err(QueryError::SinceSecondsNotPositive(since_seconds))
            }
            _ => Ok(()),
        }
    }

    /// The earliest time a shown line may have been logged, if there is a limit.
    pub(crate) fn since(&self, now: Timestamp) -> Option<Timestamp> {
        match (self.since_time, self.since_seconds) {
            (Some(since_time), _) => Some(since_time),
            (None, Some(since_seconds)) => Some(
                now.saturating_sub(SignedDuration::from_secs(since_seconds))
                    .unwrap_or(Timestamp::MIN),
            ),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_options_are_refused_with_the_api_servers_messages() {
        let cases = [
            (
                LogQuery {
                    tail_lines: Some(-1),
                    ..LogQuery::default()
                },
                QueryError::NegativeTailLines(-1),
            ),
            (
                LogQuery {
                    limit_bytes: Some(0),
                    ..LogQuery::default()
                },
                QueryError::LimitBytesNotPositive(0),
            ),
            (
                LogQuery {
                    since_seconds: Some(0),
                    ..LogQuery::default()
                },
                QueryError::SinceSecondsNotPositive(0),
            ),
            (
                LogQuery {
                    since_seconds: Some(5),
                    since_time: Some(Timestamp::UNIX_EPOCH),
                    ..LogQuery::default()
                },
                QueryError::BothSinceTimeAndSinceSeconds,
            ),
        ];
        for (query, error) in cases {
            assert_eq!(query.validate(), Err(error));
        }
        assert_eq!(
            QueryError::NegativeTailLines(-1).to_string(),
            "tailLines: Invalid value: -1: must be greater than or equal to 0"
        );
        LogQuery {
            tail_lines: Some(0),
            limit_bytes: Some(1),
            since_seconds: Some(1),
            ..LogQuery::default()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn since_seconds_counts_back_from_now() {
        let now: Timestamp = "2024-01-01T01:00:00Z".parse().unwrap();
        let query = LogQuery {
            since_seconds: Some(3600),
            ..LogQuery::default()
        };
        assert_eq!(
            query.since(now),
            Some("2024-01-01T00:00:00Z".parse().unwrap())
        );
        let query = LogQuery {
            since_seconds: Some(i64::MAX),
            ..LogQuery::default()
        };
        assert_eq!(query.since(now), Some(Timestamp::MIN));
        assert_eq!(LogQuery::default().since(now), None);
    }
}
