//! Files in a volume: a JSON document saved whole by writing a temporary file and
//! renaming it over the old one (so that a container stopped mid-write leaves the old
//! document, never half of the new one), an append-only log, and the clock's time as
//! RFC 3339 for both.

use std::fs::{self, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::json::{self, Value};

/// A JSON document kept in one file.
pub struct JsonFile {
    path: PathBuf,
}

impl JsonFile {
    pub fn new(path: impl Into<PathBuf>) -> JsonFile {
        JsonFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The document, or `None` when the file does not exist yet.
    pub fn load(&self) -> io::Result<Option<Value>> {
        match fs::read_to_string(&self.path) {
            Ok(text) => json::parse(&text)
                .map(Some)
                .map_err(|error| io::Error::new(ErrorKind::InvalidData, error)),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Replaces the document.
    pub fn save(&self, value: &Value) -> io::Result<()> {
        let mut temporary_name = self.path.clone().into_os_string();
        temporary_name.push(".tmp");
        let temporary = PathBuf::from(temporary_name);
        {
            let mut file = fs::File::create(&temporary)?;
            writeln!(file, "{value}")?;
            file.sync_all()?;
        }
        fs::rename(&temporary, &self.path)
    }
}

/// Appends `line` (and a line end) to the file at `path`, creating it if need be.
pub fn append_line(path: &Path, line: &str) -> io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(format!("{line}\n").as_bytes())
}

/// The current time as RFC 3339 in UTC, to the second: `2026-05-01T12:34:56Z`.
pub fn now_rfc3339() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    format_rfc3339(seconds)
}

/// Seconds since the Unix epoch as RFC 3339 in UTC (Howard Hinnant's civil-from-days).
pub fn format_rfc3339(seconds_since_epoch: u64) -> String {
    let days = seconds_since_epoch / 86_400;
    let second_of_day = seconds_since_epoch % 86_400;
    // Shifted so that eras start on 0000-03-01, which puts leap days at the year's end.
    let shifted_days = days + 719_468;
    let era = shifted_days / 146_097;
    let day_of_era = shifted_days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// The environment variable `name`, or `default` when it is unset or empty.
pub fn setting(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The port from `$PORT`, else 8080; `Err` names a value that is not a port.
pub fn port_setting() -> Result<u16, String> {
    let text = setting("PORT", "8080");
    text.trim()
        .parse()
        .map_err(|_| format!("PORT={text:?} is not a port from 0 to 65535"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_formatted_in_utc() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_rfc3339(1_767_225_599), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn a_document_is_saved_whole_and_loaded_back() {
        let directory = std::env::temp_dir().join(format!("shop-storage-{}", std::process::id()));
        fs::create_dir_all(&directory).expect("a directory");
        let file = JsonFile::new(directory.join("state.json"));
        assert_eq!(file.load().expect("no file yet"), None);
        let value = Value::Array(vec![Value::from_u64(7)]);
        file.save(&value).expect("saved");
        assert_eq!(file.load().expect("loaded"), Some(value));
        append_line(&directory.join("log"), "one").expect("appended");
        append_line(&directory.join("log"), "two").expect("appended");
        assert_eq!(
            fs::read_to_string(directory.join("log")).expect("the log"),
            "one\ntwo\n"
        );
        fs::remove_dir_all(&directory).expect("cleaned up");
    }
}
