//! Reading a log file's lines forwards (as they are served) and backwards (to find where
//! the last lines begin). Both yield only lines ended by `\n`: bytes after the last one
//! are a record still being written, or one torn by a crash.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// How much of a file is read at a time, in either direction.
const BLOCK_SIZE: usize = 64 * 1024;

/// Where a record starts: the index of its file in the list being read (oldest first),
/// and its offset in that file. Positions order records across files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    pub(crate) file: usize,
    pub(crate) offset: u64,
}

/// A file's lines from a starting offset to its end; the end may move on as the file
/// grows, and reading again after `None` picks up what was appended.
pub(crate) struct ForwardLines {
    file: File,
    buffer: Vec<u8>,
    /// The unread lines are `buffer[start..end]`.
    start: usize,
    end: usize,
    /// The file offset of `buffer[0]`.
    buffer_offset: u64,
}

impl ForwardLines {
    pub(crate) fn starting_at(mut file: File, offset: u64) -> io::Result<ForwardLines> {
        file.seek(SeekFrom::Start(offset))?;
        Ok(ForwardLines {
            file,
            buffer: Vec::new(),
            start: 0,
            end: 0,
            buffer_offset: offset,
        })
    }

    /// The next line (without its `\n`) and the offset it starts at, or `None` at the
    /// end of the file for now.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<(u64, &[u8])>> {
        loop {
            if let Some(length) = self.buffer[self.start..self.end]
                .iter()
                .position(|byte| *byte == b'\n')
            {
                let line_start = self.start;
                self.start += length + 1;
                let offset = self.buffer_offset + line_start as u64;
                return Ok(Some((
                    offset,
                    &self.buffer[line_start..line_start + length],
                )));
            }
            if self.start > 0 {
                self.buffer.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.buffer_offset += self.start as u64;
                self.start = 0;
            }
            if self.end == self.buffer.len() {
                // Allocated on first use and grown for a line longer than the buffer.
                let grown = (self.buffer.len() * 2).max(BLOCK_SIZE);
                self.buffer.resize(grown, 0);
            }
            match self.file.read(&mut self.buffer[self.end..]) {
                Ok(0) => return Ok(None),
                Ok(read) => self.end += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }
}

/// A file's lines from its end towards its start.
pub(crate) struct BackwardLines<'file> {
    file: &'file File,
    /// The file's bytes from `data_start`; they end with a `\n` unless empty.
    data: Vec<u8>,
    data_start: u64,
    /// How much of `data` has not been returned yet: the line returned last is after it.
    unreturned: usize,
    /// The offset just after the last complete line.
    end: u64,
}

impl<'file> BackwardLines<'file> {
    pub(crate) fn new(file: &'file File) -> io::Result<BackwardLines<'file>> {
        let length = file.metadata()?.len();
        let mut lines = BackwardLines {
            file,
            data: Vec::new(),
            data_start: length,
            unreturned: 0,
            end: 0,
        };
        loop {
            if let Some(newline) = lines.data.iter().rposition(|byte| *byte == b'\n') {
                lines.data.truncate(newline + 1);
                break;
            }
            if !lines.load_earlier_block()? {
                lines.data.clear();
                break;
            }
        }
        lines.unreturned = lines.data.len();
        lines.end = lines.data_start + lines.data.len() as u64;
        Ok(lines)
    }

    /// The offset just after the file's last complete line.
    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    /// The previous line (without its `\n`) and the offset it starts at, or `None`
    /// once the start of the file is reached.
    pub(crate) fn next_back(&mut self) -> io::Result<Option<(u64, &[u8])>> {
        self.data.truncate(self.unreturned);
        loop {
            let Some(body_length) = self.data.len().checked_sub(1) else {
                if self.load_earlier_block()? {
                    continue;
                }
                return Ok(None);
            };
            match self.data[..body_length]
                .iter()
                .rposition(|byte| *byte == b'\n')
            {
                Some(newline) => {
                    self.unreturned = newline + 1;
                    let offset = self.data_start + self.unreturned as u64;
                    return Ok(Some((offset, &self.data[self.unreturned..body_length])));
                }
                None if self.data_start == 0 => {
                    self.unreturned = 0;
                    return Ok(Some((0, &self.data[..body_length])));
                }
                None => {
                    self.load_earlier_block()?;
                }
            }
        }
    }

    /// Puts the block before `data_start` in front of `data`; false at the file's start.
    fn load_earlier_block(&mut self) -> io::Result<bool> {
        if self.data_start == 0 {
            return Ok(false);
        }
        let block_start = self.data_start.saturating_sub(BLOCK_SIZE as u64);
        let mut block = vec![0; (self.data_start - block_start) as usize];
        let mut file = self.file;
        file.seek(SeekFrom::Start(block_start))?;
        file.read_exact(&mut block)?;
        block.extend_from_slice(&self.data);
        self.data = block;
        self.data_start = block_start;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A file of numbered lines long enough to cross several blocks, ending with an
    /// unfinished line that neither direction may return.
    fn numbered_file() -> (tempfile::NamedTempFile, Vec<(u64, Vec<u8>)>) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let mut lines = Vec::new();
        let mut offset = 0;
        for number in 0..20_000u32 {
            let line = format!("line {number} {}", "x".repeat((number % 50) as usize)).into_bytes();
            file.write_all(&line).unwrap();
            file.write_all(b"\n").unwrap();
            lines.push((offset, line.clone()));
            offset += line.len() as u64 + 1;
        }
        file.write_all(b"unfinished").unwrap();
        (file, lines)
    }

    #[test]
    fn both_directions_see_the_same_complete_lines() {
        let (file, expected) = numbered_file();
        let mut forward = ForwardLines::starting_at(File::open(file.path()).unwrap(), 0).unwrap();
        let mut seen_forward = Vec::new();
        while let Some((offset, line)) = forward.next_line().unwrap() {
            seen_forward.push((offset, line.to_vec()));
        }
        assert_eq!(seen_forward, expected);

        let opened = File::open(file.path()).unwrap();
        let mut backward = BackwardLines::new(&opened).unwrap();
        let (last_offset, last_line) = expected.last().unwrap();
        assert_eq!(backward.end(), last_offset + last_line.len() as u64 + 1);
        let mut seen_backward = Vec::new();
        while let Some((offset, line)) = backward.next_back().unwrap() {
            seen_backward.push((offset, line.to_vec()));
        }
        seen_backward.reverse();
        assert_eq!(seen_backward, expected);
    }

    #[test]
    fn forward_reading_resumes_when_the_file_grows_and_starts_at_an_offset() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"one\ntw").unwrap();
        let mut lines = ForwardLines::starting_at(File::open(file.path()).unwrap(), 4).unwrap();
        assert_eq!(lines.next_line().unwrap(), None);
        file.write_all(b"o\n").unwrap();
        assert_eq!(lines.next_line().unwrap(), Some((4, &b"two"[..])));
        assert_eq!(lines.next_line().unwrap(), None);
    }

    #[test]
    fn an_empty_file_has_no_lines_either_way() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let opened = File::open(file.path()).unwrap();
        let mut backward = BackwardLines::new(&opened).unwrap();
        assert_eq!(backward.end(), 0);
        assert_eq!(backward.next_back().unwrap(), None);
    }
}
