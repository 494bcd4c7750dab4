//! Turning records into what pods/log returns: each line's content, its partial records
//! joined, optionally prefixed by the time it was logged, filtered by time and cut off
//! after a number of bytes.

use bytes::Bytes;
use jiff::Timestamp;

use super::files::Position;
use super::tail::Skip;
use crate::record::{Record, format_timestamp};

/// The most of one line held back while waiting for its end. A longer line (a container
/// writing without ever ending its line) is passed on in pieces of this size, so that a
/// reader's memory stays bounded.
const MAXIMUM_HELD_LINE: usize = 1024 * 1024;

pub(crate) struct OutputShaper {
    timestamps: bool,
    since: Option<Timestamp>,
    /// Bytes still allowed by limitBytes.
    remaining: Option<u64>,
    skips: [Skip; 2],
    /// Each stream's unfinished line.
    lines: [Option<OpenLine>; 2],
    output: Vec<u8>,
}

struct OpenLine {
    /// When the line's first record was logged, which is the line's time.
    timestamp: Timestamp,
    /// Whether the line passes the since filter.
    shown: bool,
    /// Whether a piece of the line, and so its timestamp, was already passed on.
    started: bool,
    content: Vec<u8>,
}

impl OutputShaper {
    pub(crate) fn new(
        timestamps: bool,
        since: Option<Timestamp>,
        limit_bytes: Option<u64>,
        skips: [Skip; 2],
    ) -> OutputShaper {
        OutputShaper {
            timestamps,
            since,
            remaining: limit_bytes,
            skips,
            lines: [None, None],
            output: Vec::new(),
        }
    }

    /// Takes in the next record of the log.
    pub(crate) fn push(&mut self, position: Position, record: &Record<'_>) {
        let stream = record.stream.index();
        match self.skips[stream] {
            Skip::Before(first) if position < first => return,
            Skip::ThroughNextFull => {
                if !record.partial {
                    self.skips[stream] = Skip::Nothing;
                }
                return;
            }
            _ => {}
        }
        let since = self.since;
        let mut line = self.lines[stream].take().unwrap_or_else(|| OpenLine {
            timestamp: record.timestamp,
            shown: since.is_none_or(|since| record.timestamp >= since),
            started: false,
            content: Vec::new(),
        });
        line.content.extend_from_slice(record.content);
        if !record.partial {
            self.pass_on(&mut line, true);
        } else {
            if line.content.len() >= MAXIMUM_HELD_LINE {
                self.pass_on(&mut line, false);
            }
            self.lines[stream] = Some(line);
        }
    }

    /// Passes on the unfinished lines, earliest first, as they are: the log ends here.
    pub(crate) fn finish(&mut self) {
        let [first, second] = std::mem::take(&mut self.lines);
        let mut unfinished: Vec<OpenLine> = first.into_iter().chain(second).collect();
        unfinished.sort_by_key(|line| line.timestamp);
        for mut line in unfinished {
            self.pass_on(&mut line, false);
        }
    }

    fn pass_on(&mut self, line: &mut OpenLine, complete: bool) {
        if line.shown {
            if !line.started && self.timestamps {
                let prefix = format!("{} ", format_timestamp(line.timestamp));
                self.append(prefix.as_bytes());
            }
            line.started = true;
            self.append(&line.content);
            if complete {
                self.append(b"\n");
            }
        }
        line.content.clear();
    }

    fn append(&mut self, bytes: &[u8]) {
        let allowed = match &mut self.remaining {
            Some(remaining) => {
                let allowed = bytes
                    .len()
                    .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                *remaining -= allowed as u64;
                allowed
            }
            None => bytes.len(),
        };
        self.output.extend_from_slice(&bytes[..allowed]);
    }

    /// Whether limitBytes is used up, so that reading can stop.
    pub(crate) fn limit_reached(&self) -> bool {
        self.remaining == Some(0)
    }

    pub(crate) fn output_length(&self) -> usize {
        self.output.len()
    }

    pub(crate) fn take_output(&mut self) -> Bytes {
        Bytes::from(std::mem::take(&mut self.output))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LogStream;

    fn at(offset: u64) -> Position {
        Position { file: 0, offset }
    }

    fn record(seconds: i64, stream: LogStream, partial: bool, content: &[u8]) -> Record<'_> {
        Record {
            timestamp: Timestamp::from_second(seconds).unwrap(),
            stream,
            partial,
            content,
        }
    }

    #[test]
    fn partial_records_join_per_stream_and_the_line_takes_its_first_time() {
        let mut shaper = OutputShaper::new(true, None, None, [Skip::Nothing; 2]);
        shaper.push(at(0), &record(1, LogStream::Stdout, true, b"long "));
        shaper.push(at(1), &record(2, LogStream::Stderr, false, b"error"));
        shaper.push(at(2), &record(3, LogStream::Stdout, false, b"line"));
        assert_eq!(
            shaper.take_output(),
            "1970-01-01T00:00:02.000000000Z error\n1970-01-01T00:00:01.000000000Z long line\n"
        );
    }

    #[test]
    fn skipped_records_and_lines_before_since_are_left_out() {
        let since = Some(Timestamp::from_second(5).unwrap());
        let mut shaper = OutputShaper::new(
            false,
            since,
            None,
            [Skip::ThroughNextFull, Skip::Before(at(3))],
        );
        shaper.push(at(0), &record(9, LogStream::Stdout, true, b"rest of "));
        shaper.push(at(1), &record(9, LogStream::Stdout, false, b"an old line"));
        shaper.push(
            at(2),
            &record(9, LogStream::Stderr, false, b"before the tail"),
        );
        shaper.push(at(3), &record(4, LogStream::Stderr, false, b"too early"));
        shaper.push(
            at(4),
            &record(4, LogStream::Stdout, true, b"started early, "),
        );
        shaper.push(at(5), &record(6, LogStream::Stdout, false, b"ended late"));
        shaper.push(at(6), &record(6, LogStream::Stdout, false, b"shown"));
        shaper.push(at(7), &record(7, LogStream::Stderr, true, b"unfinished"));
        shaper.finish();
        assert_eq!(shaper.take_output(), "shown\nunfinished");
    }

    #[test]
    fn the_byte_limit_cuts_a_line_short_and_reports_itself_reached() {
        let mut shaper = OutputShaper::new(false, None, Some(7), [Skip::Nothing; 2]);
        shaper.push(at(0), &record(1, LogStream::Stdout, false, b"hello"));
        assert!(!shaper.limit_reached());
        shaper.push(at(1), &record(1, LogStream::Stdout, false, b"world"));
        assert!(shaper.limit_reached());
        assert_eq!(shaper.take_output(), "hello\nw");
    }
}
