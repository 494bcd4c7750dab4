//! Finding where the last N lines of a log begin, reading its files backwards from the
//! end so that a short tail of a long log costs little.
//!
//! A line is one full record, or partial records followed by a full one of the same
//! stream; an unfinished line at the end counts as a line too. Lines are counted by where
//! they start. The two streams' records interleave, so a long line of one stream may
//! have started before the tail while the other stream's lines fill it: the reader is
//! told to skip the rest of such a line rather than show a piece of it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io;

use super::files::{BackwardLines, Position};
use crate::record::parse_record;

/// Which of a stream's records a reader starting at a tail must leave out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Skip {
    Nothing,
    /// Records before the stream's first line of the tail.
    Before(Position),
    /// The rest of a line that started before the tail, up to its full record.
    ThroughNextFull,
}

/// Where reading starts, and what each stream (by [`crate::LogStream::index`]) skips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReadStart {
    pub(crate) position: Position,
    pub(crate) skips: [Skip; 2],
}

impl ReadStart {
    pub(crate) const BEGINNING: ReadStart = ReadStart {
        position: Position { file: 0, offset: 0 },
        skips: [Skip::Nothing; 2],
    };
}

/// Finds where the last `lines` lines of `files` (oldest first) begin.
pub(crate) fn find_tail_start(files: &[File], lines: u64) -> io::Result<ReadStart> {
    let wanted = usize::try_from(lines).unwrap_or(usize::MAX);
    let mut search = TailSearch {
        wanted,
        newest_starts: BinaryHeap::new(),
        candidates: [None; 2],
        last_records: [None; 2],
    };
    let mut log_end = None;
    for (index, file) in files.iter().enumerate().rev() {
        let mut backward = BackwardLines::new(file)?;
        let end = *log_end.get_or_insert(Position {
            file: index,
            offset: backward.end(),
        });
        loop {
            if let Some(boundary) = search.settled_boundary(end) {
                return Ok(search.read_start(boundary));
            }
            let Some((offset, line)) = backward.next_back()? else {
                break;
            };
            if let Ok(record) = parse_record(line) {
                search.add(
                    Position {
                        file: index,
                        offset,
                    },
                    record.stream.index(),
                    record.partial,
                );
            }
        }
    }
    // At the start of the oldest file, the lines still being traced back start there.
    for stream in 0..2 {
        if let Some(start) = search.candidates[stream].take() {
            search.push_start(start, stream);
        }
    }
    match search.newest_starts.peek() {
        Some(Reverse((boundary, _))) if search.newest_starts.len() == wanted => {
            let boundary = *boundary;
            Ok(search.read_start(boundary))
        }
        _ => Ok(ReadStart::BEGINNING),
    }
}

struct TailSearch {
    wanted: usize,
    /// The latest line starts found so far, at most `wanted`, with their streams.
    newest_starts: BinaryHeap<Reverse<(Position, usize)>>,
    /// Per stream, the earliest record seen of the line being traced back: where that
    /// line starts unless earlier partial records of it turn up.
    candidates: [Option<Position>; 2],
    /// Per stream, its last record in the log.
    last_records: [Option<Position>; 2],
}

impl TailSearch {
    /// Takes in the record before the ones seen so far.
    fn add(&mut self, position: Position, stream: usize, partial: bool) {
        self.last_records[stream].get_or_insert(position);
        if !partial {
            // A full record ends the previous line, so the line traced back so far
            // starts where it was last seen.
            if let Some(start) = self.candidates[stream] {
                self.push_start(start, stream);
            }
        }
        self.candidates[stream] = Some(position);
    }

    fn push_start(&mut self, start: Position, stream: usize) {
        self.newest_starts.push(Reverse((start, stream)));
        if self.newest_starts.len() > self.wanted {
            self.newest_starts.pop();
        }
    }

    /// The tail's first position once nothing earlier can change it: enough lines are
    /// found, and every line still being traced back starts before them. `end` is where
    /// an empty tail starts.
    fn settled_boundary(&self, end: Position) -> Option<Position> {
        if self.newest_starts.len() < self.wanted {
            return None;
        }
        let boundary = self
            .newest_starts
            .peek()
            .map_or(end, |Reverse((start, _))| *start);
        self.candidates
            .iter()
            .flatten()
            .all(|candidate| *candidate < boundary)
            .then_some(boundary)
    }

    fn read_start(&self, boundary: Position) -> ReadStart {
        let skips = [0, 1].map(|stream| {
            let first_start = self
                .newest_starts
                .iter()
                .filter(|Reverse((_, of))| *of == stream)
                .map(|Reverse((start, _))| *start)
                .min();
            match (first_start, self.last_records[stream]) {
                (Some(first_start), _) => Skip::Before(first_start),
                (None, Some(last_record)) if last_record >= boundary => Skip::ThroughNextFull,
                (None, _) => Skip::Nothing,
            }
        });
        ReadStart {
            position: boundary,
            skips,
        }
    }
}
