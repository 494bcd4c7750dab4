//! logger: a sidecar that follows a log file another container of the pod writes into a
//! shared emptyDir volume, and prints each complete line to its own stdout, where
//! `kubectl logs POD -c logger` reads it (the streaming-sidecar pattern for a program
//! that logs to a file). Like `tail -n +1 -F`: it waits for the file to appear, starts
//! from its beginning, and starts over when the file is truncated or replaced by a
//! shorter one.

use std::fs::File;
use std::io::{self, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

/// How often the file is looked at for new lines.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Where a follower is in the file.
#[derive(Default)]
pub struct Follower {
    offset: u64,
    /// The start of a line whose end is not written yet.
    partial_line: Vec<u8>,
    waiting_reported: bool,
}

impl Follower {
    /// Reads what was appended to `path` since the last call and writes its complete
    /// lines to `output`.
    pub fn poll(&mut self, path: &Path, output: &mut impl Write) -> io::Result<()> {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == ErrorKind::NotFound => {
                if !self.waiting_reported {
                    writeln!(output, "logger: waiting for {} to appear", path.display())?;
                    output.flush()?;
                    self.waiting_reported = true;
                }
                return Ok(());
            }
            Err(error) => return Err(error),
        };
        let length = file.metadata()?.len();
        if length < self.offset {
            writeln!(
                output,
                "logger: {} was truncated; reading it from the start",
                path.display()
            )?;
            self.offset = 0;
            self.partial_line.clear();
        }
        if length == self.offset {
            return Ok(());
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut appended = Vec::new();
        file.take(length - self.offset).read_to_end(&mut appended)?;
        self.offset += appended.len() as u64;
        self.partial_line.extend_from_slice(&appended);
        if let Some(last_line_end) = self.partial_line.iter().rposition(|&byte| byte == b'\n') {
            let complete: Vec<u8> = self.partial_line.drain(..=last_line_end).collect();
            output.write_all(&complete)?;
            output.flush()?;
        }
        Ok(())
    }
}

/// Follows `path` for ever, printing its lines to stdout.
pub fn follow(path: &Path) -> ! {
    let mut follower = Follower::default();
    loop {
        if let Err(error) = follower.poll(path, &mut io::stdout()) {
            eprintln!("logger: reading {}: {error}", path.display());
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::append_line;

    #[test]
    fn complete_lines_are_printed_once_and_truncation_starts_over() {
        let directory = std::env::temp_dir().join(format!("shop-logger-{}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("a directory");
        let path = directory.join("app.log");
        let mut follower = Follower::default();
        let mut printed = Vec::new();
        follower.poll(&path, &mut printed).expect("waiting is fine");
        append_line(&path, "first").expect("appended");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(b"sec"))
            .expect("half a line");
        follower.poll(&path, &mut printed).expect("read");
        follower.poll(&path, &mut printed).expect("nothing new");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(b"ond\n"))
            .expect("the rest of the line");
        follower.poll(&path, &mut printed).expect("read");
        std::fs::write(&path, "new\n").expect("replaced");
        follower.poll(&path, &mut printed).expect("read");
        let printed = String::from_utf8(printed).expect("text");
        assert_eq!(
            printed,
            format!(
                "logger: waiting for {0} to appear\nfirst\nsecond\n\
                 logger: {0} was truncated; reading it from the start\nnew\n",
                path.display()
            )
        );
        std::fs::remove_dir_all(&directory).expect("cleaned up");
    }
}
