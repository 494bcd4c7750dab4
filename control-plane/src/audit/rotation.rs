//! The audit log file with rotation by size, as kube-apiserver's lumberjack backend does
//! it (`--audit-log-maxsize`, `--audit-log-maxbackup`): when a line would take the file
//! past its size limit, `audit.log` becomes `audit-<UTC time>.log` (the time as
//! `2006-01-02T15-04-05.000`), a new `audit.log` starts, and only the newest backups are
//! kept.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::AuditError;

/// lumberjack's size limit when none is given (a size of 0): 100 MiB.
pub const DEFAULT_MAX_SIZE_BYTES: u64 = 100 * 1024 * 1024;

/// The timestamp in a backup's name: UTC, to the millisecond, without colons so that
/// the name is valid everywhere.
const BACKUP_TIME_FORMAT: &str = "%Y-%m-%dT%H-%M-%S%.3f";

pub struct RotatingFile {
    path: PathBuf,
    max_size_bytes: u64,
    /// 0 keeps every backup, as lumberjack's MaxBackups does.
    max_backups: usize,
    /// None after a failed write, so that the next write opens the file afresh.
    file: Option<BufWriter<File>>,
    size: u64,
}

impl RotatingFile {
    /// Opens (or creates) the log for appending, creating its directory. Failing here,
    /// at start-up, is better than losing every event later.
    pub fn open(path: &Path, max_size_bytes: u64, max_backups: usize) -> Result<Self, AuditError> {
        if let Some(directory) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            fs::create_dir_all(directory).map_err(|source| AuditError::CreateDirectory {
                path: directory.to_owned(),
                source,
            })?;
        }
        let mut rotating = Self {
            path: path.to_owned(),
            max_size_bytes: if max_size_bytes == 0 {
                DEFAULT_MAX_SIZE_BYTES
            } else {
                max_size_bytes
            },
            max_backups,
            file: None,
            size: 0,
        };
        rotating
            .open_for_append()
            .map_err(|source| AuditError::Open {
                path: path.to_owned(),
                source,
            })?;
        Ok(rotating)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line (with its newline), rotating first when it would not fit.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let length = line.len() as u64;
        if length > self.max_size_bytes {
            return Err(io::Error::other(format!(
                "write length {length} exceeds maximum file size {}",
                self.max_size_bytes
            )));
        }
        if self.file.is_none() {
            self.open_for_append()?;
        }
        if self.size + length > self.max_size_bytes {
            self.rotate()?;
        }
        let result = match self.file.as_mut() {
            Some(file) => file.write_all(line),
            None => Err(io::Error::other("the audit log is not open")),
        };
        match result {
            Ok(()) => {
                self.size += length;
                Ok(())
            }
            Err(error) => {
                self.file = None;
                Err(error)
            }
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let result = file.flush();
        if result.is_err() {
            self.file = None;
        }
        result
    }

    fn open_for_append(&mut self) -> io::Result<()> {
        let file = new_file_options().append(true).open(&self.path)?;
        self.size = file.metadata()?.len();
        self.file = Some(BufWriter::new(file));
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        if let Some(mut file) = self.file.take() {
            file.flush()?;
        }
        let backup = self.next_backup_name()?;
        match fs::rename(&self.path, &backup) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        let file = new_file_options()
            .write(true)
            .truncate(true)
            .open(&self.path)?;
        self.file = Some(BufWriter::new(file));
        self.size = 0;
        if let Err(error) = self.remove_old_backups() {
            tracing::warn!(%error, path = %self.path.display(), "cannot remove old audit log backups");
        }
        Ok(())
    }

    /// The backup's name: now, or when rotations come faster than once a millisecond
    /// (or the clock went back), a millisecond after the newest backup, so that no
    /// backup overwrites another and the names sort in the order the files were written.
    fn next_backup_name(&self) -> io::Result<PathBuf> {
        let now = jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .datetime();
        let mut time = now
            .round(
                jiff::civil::DateTimeRound::new()
                    .smallest(jiff::Unit::Millisecond)
                    .mode(jiff::RoundMode::Trunc),
            )
            .unwrap_or(now);
        if let Some((newest, _)) = self.backups_with_times()?.first()
            && *newest >= time
        {
            time = newest
                .checked_add(jiff::SignedDuration::from_millis(1))
                .map_err(io::Error::other)?;
        }
        let (stem, extension) = self.name_parts();
        let stamp = time.strftime(BACKUP_TIME_FORMAT);
        Ok(self
            .path
            .with_file_name(format!("{stem}-{stamp}{extension}")))
    }

    /// The file name's stem and extension (with its dot), as Go's filepath.Ext splits
    /// them: `audit.log` → (`audit`, `.log`).
    fn name_parts(&self) -> (String, String) {
        let stem = self
            .path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        let extension = self
            .path
            .extension()
            .map(|extension| format!(".{}", extension.to_string_lossy()))
            .unwrap_or_default();
        (stem, extension)
    }

    /// The backups beside the log, newest first (by the time in their names).
    fn backups_with_times(&self) -> io::Result<Vec<(jiff::civil::DateTime, PathBuf)>> {
        let directory = match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        let (stem, extension) = self.name_parts();
        let prefix = format!("{stem}-");
        let mut backups = Vec::new();
        for entry in fs::read_dir(&directory)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(stamp) = name
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(&extension))
            else {
                continue;
            };
            if let Ok(time) = jiff::civil::DateTime::strptime(BACKUP_TIME_FORMAT, stamp)
                && entry.file_type()?.is_file()
            {
                backups.push((time, entry.path()));
            }
        }
        backups.sort_by_key(|(time, _)| std::cmp::Reverse(*time));
        Ok(backups)
    }

    fn remove_old_backups(&self) -> io::Result<()> {
        if self.max_backups == 0 {
            return Ok(());
        }
        for (_, old) in self
            .backups_with_times()?
            .into_iter()
            .skip(self.max_backups)
        {
            fs::remove_file(old)?;
        }
        Ok(())
    }
}

/// Audit logs say who did what: readable by their owner only, as lumberjack creates them.
fn new_file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backups(log: &RotatingFile) -> Vec<PathBuf> {
        let backups = log.backups_with_times().expect("backups");
        backups.into_iter().map(|(_, path)| path).collect()
    }

    fn line(number: usize) -> Vec<u8> {
        format!("{{\"line\":{number:04}}}\n").into_bytes()
    }

    #[test]
    fn rotates_before_a_line_that_would_not_fit_and_keeps_the_newest_backups() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("logs").join("audit.log");
        // Each line is 14 bytes: four fit in 60, the fifth starts a new file.
        let mut log = RotatingFile::open(&path, 60, 2).expect("open");
        for number in 0..18 {
            log.write_line(&line(number)).expect("write");
        }
        log.flush().expect("flush");

        let backups = backups(&log);
        assert_eq!(backups.len(), 2, "{backups:?}");
        let current = fs::read_to_string(&path).expect("current file");
        assert_eq!(current, "{\"line\":0016}\n{\"line\":0017}\n");
        let newest = fs::read_to_string(&backups[0]).expect("newest backup");
        assert_eq!(newest.lines().count(), 4);
        assert!(newest.starts_with("{\"line\":0012}"), "{newest}");
        let older = fs::read_to_string(&backups[1]).expect("older backup");
        assert!(older.starts_with("{\"line\":0008}"), "{older}");
        for backup in &backups {
            let name = backup
                .file_name()
                .and_then(|name| name.to_str())
                .expect("name");
            // audit-2006-01-02T15-04-05.000.log
            assert_eq!(name.len(), "audit-".len() + 23 + ".log".len(), "{name}");
            assert!(
                name.starts_with("audit-") && name.ends_with(".log"),
                "{name}"
            );
            assert!(fs::metadata(backup).expect("metadata").len() <= 60);
        }
    }

    #[test]
    fn zero_backups_keeps_every_backup_and_an_existing_log_is_appended_to() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("audit.log");
        fs::write(&path, line(0)).expect("an earlier run's log");
        let mut log = RotatingFile::open(&path, 30, 0).expect("open");
        for number in 1..8 {
            log.write_line(&line(number)).expect("write");
        }
        log.flush().expect("flush");
        // 8 lines, two per file: three backups and the current file.
        assert_eq!(backups(&log).len(), 3);
        let oldest = backups(&log).pop().expect("oldest");
        assert_eq!(
            fs::read_to_string(oldest).expect("oldest backup"),
            "{\"line\":0000}\n{\"line\":0001}\n"
        );
    }

    #[test]
    fn a_line_longer_than_the_limit_is_refused_and_the_log_goes_on() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("audit.log");
        let mut log = RotatingFile::open(&path, 20, 1).expect("open");
        let error = log.write_line(&[b'x'; 21]).expect_err("too long");
        assert_eq!(
            error.to_string(),
            "write length 21 exceeds maximum file size 20"
        );
        log.write_line(&line(1)).expect("write");
        log.flush().expect("flush");
        assert_eq!(fs::read_to_string(&path).expect("log"), "{\"line\":0001}\n");
    }

    #[cfg(unix)]
    #[test]
    fn the_log_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("audit.log");
        RotatingFile::open(&path, 0, 0).expect("open");
        let mode = fs::metadata(&path).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
