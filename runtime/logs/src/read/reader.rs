//! Reading an instance's files one after another, and, when following, going on with
//! what its writer adds (across rotations) until the writer is closed.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::watch;

use super::files::{ForwardLines, Position};
use super::shaper::OutputShaper;
use crate::record::parse_record;
use crate::writer::{FollowState, InstanceLog};

/// How much output is gathered before it is passed on.
const OUTPUT_CHUNK_SIZE: usize = 32 * 1024;

/// What a reader did in one step.
pub(crate) enum Step {
    Output(Bytes),
    /// Everything written so far is read; more will come once the writer writes.
    WaitForWriter,
    End,
}

/// Following a live instance's writer.
pub(crate) struct Follow {
    log: Arc<InstanceLog>,
    /// The generation of the last file opened; `None` before any.
    generation: Option<u64>,
    changes: watch::Receiver<()>,
}

impl Follow {
    pub(crate) fn new(log: Arc<InstanceLog>, generation: Option<u64>) -> Follow {
        let changes = log.subscribe();
        Follow {
            log,
            generation,
            changes,
        }
    }

    /// The writer's state, taken before reading on, so that a change after it wakes the
    /// follower and everything written before it is in the files already.
    fn observe(&mut self) -> FollowState {
        self.changes.mark_unchanged();
        self.log.follow_state()
    }
}

pub(crate) struct LogReader {
    /// The files still to read with their positions' file indexes; the front one is
    /// being read.
    files: VecDeque<(usize, ForwardLines)>,
    follow: Option<Follow>,
    shaper: OutputShaper,
    ended: bool,
}

impl LogReader {
    pub(crate) fn new(
        files: VecDeque<(usize, ForwardLines)>,
        follow: Option<Follow>,
        shaper: OutputShaper,
    ) -> LogReader {
        LogReader {
            files,
            follow,
            shaper,
            ended: false,
        }
    }

    /// Reads on. This blocks on file reads, so it runs on a blocking thread.
    pub(crate) fn step(&mut self) -> io::Result<Step> {
        if self.ended {
            return Ok(Step::End);
        }
        loop {
            let observed = self.follow.as_mut().map(Follow::observe);
            let at_end = self.read_available()?;
            if self.shaper.limit_reached() {
                return Ok(self.end());
            }
            if !at_end {
                return Ok(Step::Output(self.shaper.take_output()));
            }
            if let (Some(follow), Some(state)) = (&mut self.follow, observed) {
                if Some(state.generation) > follow.generation
                    && let Some((generation, file)) = follow.log.open_after(follow.generation)?
                {
                    follow.generation = Some(generation);
                    let index = self.files.back().map_or(0, |(index, _)| index + 1);
                    self.files
                        .push_back((index, ForwardLines::starting_at(file, 0)?));
                    continue;
                }
                if !state.finished {
                    return Ok(match self.shaper.output_length() {
                        0 => Step::WaitForWriter,
                        _ => Step::Output(self.shaper.take_output()),
                    });
                }
            }
            self.shaper.finish();
            return Ok(self.end());
        }
    }

    /// Waits until the followed writer changes something.
    pub(crate) async fn wait_for_writer(&mut self) {
        if let Some(follow) = &mut self.follow {
            // The sender lives in the log this follower holds, so this cannot fail.
            let _ = follow.changes.changed().await;
        }
    }

    fn end(&mut self) -> Step {
        self.ended = true;
        match self.shaper.output_length() {
            0 => Step::End,
            _ => Step::Output(self.shaper.take_output()),
        }
    }

    /// Reads records until a chunk of output is gathered (false) or the last file has
    /// no more for now (true).
    fn read_available(&mut self) -> io::Result<bool> {
        while let Some((index, lines)) = self.files.front_mut() {
            let Some((offset, line)) = lines.next_line()? else {
                if self.files.len() == 1 {
                    return Ok(true);
                }
                self.files.pop_front();
                continue;
            };
            match parse_record(line) {
                Ok(record) => self.shaper.push(
                    Position {
                        file: *index,
                        offset,
                    },
                    &record,
                ),
                Err(error) => {
                    tracing::warn!(
                        %error,
                        line = %String::from_utf8_lossy(line),
                        "failed when parsing line in log file"
                    );
                }
            }
            if self.shaper.output_length() >= OUTPUT_CHUNK_SIZE || self.shaper.limit_reached() {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Opens files for reading from a start position: the files before its file are
/// skipped, and its file is read from its offset.
pub(crate) fn lines_from(
    files: Vec<File>,
    start: Position,
) -> io::Result<VecDeque<(usize, ForwardLines)>> {
    files
        .into_iter()
        .enumerate()
        .skip(start.file)
        .map(|(index, file)| {
            let offset = if index == start.file { start.offset } else { 0 };
            Ok((index, ForwardLines::starting_at(file, offset)?))
        })
        .collect()
}
