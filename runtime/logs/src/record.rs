//! The CRI log format the kubelet reads: one record per line,
//! `<RFC3339Nano UTC timestamp> <stdout|stderr> <F|P> <content>\n`, where `P` marks a
//! piece of a line that was too long for one record and `F` the piece that ends it.

use jiff::Timestamp;
use jiff::fmt::temporal::DateTimeParser;

/// Parses RFC 3339 timestamps with any offset and up to nine fractional digits, like the
/// kubelet's RFC3339NanoLenient.
static TIMESTAMP_PARSER: DateTimeParser = DateTimeParser::new();

/// The longest content of one record, containerd's default maximum log line size. A
/// longer line is split into partial records of this size followed by a full one.
pub(crate) const MAXIMUM_RECORD_CONTENT: usize = 16 * 1024;

/// Which of a container's output streams bytes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogStream {
    Stdout,
    Stderr,
}

impl LogStream {
    /// The stream's name in a record.
    pub fn as_str(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        }
    }

    /// A slot for per-stream state kept in two-element arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            LogStream::Stdout => 0,
            LogStream::Stderr => 1,
        }
    }
}

/// Formats a timestamp as the kubelet prints them (RFC3339NanoFixed): always nine
/// fractional digits and `Z`, so that every record's header has the same width.
pub(crate) fn format_timestamp(timestamp: Timestamp) -> String {
    format!("{timestamp:.9}")
}

/// Appends one record whose content is the concatenation of `content_parts`.
pub(crate) fn append_record(
    output: &mut Vec<u8>,
    timestamp: &str,
    stream: LogStream,
    partial: bool,
    content_parts: &[&[u8]],
) {
    output.extend_from_slice(timestamp.as_bytes());
    output.push(b' ');
    output.extend_from_slice(stream.as_str().as_bytes());
    output.extend_from_slice(if partial { b" P " } else { b" F " });
    for part in content_parts {
        output.extend_from_slice(part);
    }
    output.push(b'\n');
}

/// One record read back from a log file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Record<'line> {
    pub(crate) timestamp: Timestamp,
    pub(crate) stream: LogStream,
    pub(crate) partial: bool,
    pub(crate) content: &'line [u8],
}

/// Why a line of a log file is not a record; the kubelet's parseCRILog messages.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordError {
    #[error("timestamp is not found")]
    MissingTimestamp,
    #[error("unexpected timestamp format: {0}")]
    BadTimestamp(#[source] jiff::Error),
    #[error("stream type is not found")]
    MissingStream,
    #[error("unexpected stream type {0:?}")]
    UnknownStream(String),
    #[error("log tag is not found")]
    MissingTag,
}

/// Parses one line of a log file, without its newline. Like the kubelet, the tag may
/// carry more `:`-separated tags after `P` or `F`, and only the first one counts.
pub(crate) fn parse_record(line: &[u8]) -> Result<Record<'_>, RecordError> {
    let (timestamp, rest) = split_field(line).ok_or(RecordError::MissingTimestamp)?;
    let timestamp = TIMESTAMP_PARSER
        .parse_timestamp(timestamp)
        .map_err(RecordError::BadTimestamp)?;
    let (stream, rest) = split_field(rest).ok_or(RecordError::MissingStream)?;
    let stream = match stream {
        b"stdout" => LogStream::Stdout,
        b"stderr" => LogStream::Stderr,
        other => {
            return Err(RecordError::UnknownStream(
                String::from_utf8_lossy(other).into_owned(),
            ));
        }
    };
    let (tags, content) = split_field(rest).ok_or(RecordError::MissingTag)?;
    let partial = tags.split(|byte| *byte == b':').next() == Some(b"P");
    Ok(Record {
        timestamp,
        stream,
        partial,
        content,
    })
}

/// Splits a line at its first space: the field before it and the rest after it.
fn split_field(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = line.iter().position(|byte| *byte == b' ')?;
    Some((&line[..space], &line[space + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_with_bytes_that_are_not_utf8() {
        let timestamp: Timestamp = "2024-05-06T07:08:09.5Z".parse().unwrap();
        let mut line = Vec::new();
        append_record(
            &mut line,
            &format_timestamp(timestamp),
            LogStream::Stderr,
            true,
            &[b"ab \xff", b"c"],
        );
        assert_eq!(line, b"2024-05-06T07:08:09.500000000Z stderr P ab \xffc\n");
        let record = parse_record(&line[..line.len() - 1]).unwrap();
        assert_eq!(
            record,
            Record {
                timestamp,
                stream: LogStream::Stderr,
                partial: true,
                content: b"ab \xffc"
            }
        );
    }

    #[test]
    fn records_written_by_other_runtimes_parse_too() {
        let record = parse_record(b"2016-10-06T00:17:09.669794202+00:00 stdout F:x ").unwrap();
        assert!(!record.partial);
        assert_eq!(record.content, b"");
        assert_eq!(
            record.timestamp,
            "2016-10-06T00:17:09.669794202Z".parse().unwrap()
        );
    }

    #[test]
    fn malformed_lines_say_what_is_missing() {
        let cases: [(&[u8], &str); 4] = [
            (b"no-spaces", "timestamp is not found"),
            (b"2016-10-06T00:17:09Z stdout", "stream type is not found"),
            (
                b"2016-10-06T00:17:09Z stdin F x",
                "unexpected stream type \"stdin\"",
            ),
            (b"2016-10-06T00:17:09Z stdout F", "log tag is not found"),
        ];
        for (line, message) in cases {
            assert_eq!(parse_record(line).unwrap_err().to_string(), message);
        }
        assert!(matches!(
            parse_record(b"yesterday stdout F x"),
            Err(RecordError::BadTimestamp(_))
        ));
    }
}
