//! The `--log` file: what one run says, for users of Helm and Argo CD, which hide a
//! post-renderer's standard error.
//!
//! Each run appends one block: a header line that tells runs apart (time, version, process,
//! command, rules, input), then its warnings, its changes and its error. The block is written
//! in one `write` on a file opened for appending, so the blocks of runs that share a log never
//! interleave.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The log of one run; every method does nothing when no log was asked for.
pub struct Log {
    file: Option<(PathBuf, File)>,
    lines: Vec<String>,
}

/// The log file cannot be opened for appending.
#[derive(Debug, thiserror::Error)]
#[error("cannot write log file {}: {cause}; fix the path given by --log or REIMAGE_LOG, or leave it out", path.display())]
pub struct LogError {
    path: PathBuf,
    cause: std::io::Error,
}

impl Log {
    /// Opens `path` for appending (creating it), or no log at all.
    pub fn open(path: Option<&Path>) -> Result<Log, LogError> {
        let file = match path {
            None => None,
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|cause| LogError {
                        path: path.to_path_buf(),
                        cause,
                    })?;
                Some((path.to_path_buf(), file))
            }
        };
        Ok(Log {
            file,
            lines: Vec::new(),
        })
    }

    /// Whether a log was asked for.
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    pub fn push(&mut self, line: String) {
        if self.is_open() {
            self.lines.push(line);
        }
    }

    pub fn extend(&mut self, lines: impl IntoIterator<Item = String>) {
        if self.is_open() {
            self.lines.extend(lines);
        }
    }

    /// Appends the header and the run's lines. A log that fails now, after it was opened, is
    /// reported on standard error: the run's result stands.
    pub fn finish(self, header: &Header) {
        let Some((path, mut file)) = self.file else {
            return;
        };
        let mut text = header.line();
        text.push('\n');
        for line in &self.lines {
            text.push_str(line);
            text.push('\n');
        }
        if let Err(e) = file.write_all(text.as_bytes()) {
            eprintln!(
                "reimage: warning: cannot write log file {}: {e}",
                path.display()
            );
        }
    }
}

/// What the header line of a run says.
#[derive(Debug, Default)]
pub struct Header {
    /// `render`, `images`, `check`, `lock`, or `command line` when the arguments were refused.
    pub command: &'static str,
    /// The rules file, or the shorthand flags, or nothing.
    pub rules: Option<String>,
    /// Bytes and documents of standard input, once read.
    pub input: Option<(usize, usize)>,
}

impl Header {
    fn line(&self) -> String {
        let rules = self.rules.as_deref().unwrap_or("none");
        let input = match self.input {
            Some((bytes, documents)) => format!("{bytes} bytes, {documents} document(s)"),
            None => "not read".to_string(),
        };
        format!(
            "== reimage {} at {} (pid {}): {}; rules: {rules}; input: {input}",
            env!("CARGO_PKG_VERSION"),
            utc_timestamp(SystemTime::now()),
            std::process::id(),
            self.command,
        )
    }
}

/// Logs a command line that clap refused (it has printed it already), when a log can be found
/// on it or in `REIMAGE_LOG`: Helm and Argo CD show no standard error.
pub fn refused_command_line(error: &clap::Error) {
    let path = path_in_raw_args(std::env::args_os().skip(1));
    match Log::open(path.as_deref()) {
        Ok(mut log) => {
            let text = format!("reimage: {}", error.to_string().trim_end());
            log.push(reimage::report::printable(text, true));
            log.finish(&Header {
                command: "command line",
                ..Header::default()
            });
        }
        Err(e) => eprintln!("reimage: {e}"),
    }
}

/// The log named on a command line that clap refused, or by `REIMAGE_LOG`: `--log FILE` or
/// `--log=FILE`, the last one winning, as clap reads them.
pub fn path_in_raw_args(args: impl IntoIterator<Item = OsString>) -> Option<PathBuf> {
    let mut found = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        if arg == "--log" {
            found = args.next().map(PathBuf::from);
        } else if let Some(value) = arg.to_str().and_then(|a| a.strip_prefix("--log=")) {
            found = Some(PathBuf::from(value));
        }
    }
    found.or_else(|| std::env::var_os("REIMAGE_LOG").map(PathBuf::from))
}

/// `2026-12-01T11:58:25Z`.
fn utc_timestamp(now: SystemTime) -> String {
    let seconds = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_date(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_dates() {
        let at = |s| utc_timestamp(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_796_126_305), "2026-12-01T11:58:25Z");
    }

    #[test]
    fn the_log_is_found_on_a_refused_command_line() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            path_in_raw_args(args(&["reimage", "--registy", "x", "--log", "a.log"])),
            Some(PathBuf::from("a.log"))
        );
        assert_eq!(
            path_in_raw_args(args(&["reimage", "--log=b.log", "--bad"])),
            Some(PathBuf::from("b.log"))
        );
    }
}
