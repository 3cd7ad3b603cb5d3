//! The commands, one module each, all driven by one [`Settings`]: a render (no subcommand),
//! which runs as a KRM function when standard input is a `ResourceList`, `images`, `check`,
//! `lock`, `init` and `import`. [`Session`] holds what they share: standard input and output,
//! the warnings, `--explain` and the log. `schema`, `completions` and `man` read no rules and
//! need none of it.

pub mod check;
pub mod completions;
mod function;
pub mod images;
pub mod import;
pub mod init;
pub mod lock;
pub mod man;
pub mod mirror;
mod pins;
pub mod render;
pub mod schema;

use std::io::{BufWriter, Read, Write};

use reimage::error::Error;
use reimage::lock::Lock;
use reimage::report::Report;

use crate::cli::ExplainFormat;
use crate::log::{Header, Log};
use crate::settings::Settings;

/// One run of a command: its settings, its log and the log's header.
pub struct Session<'s> {
    pub settings: &'s Settings,
    pub log: &'s mut Log,
    pub header: &'s mut Header,
}

impl Session<'_> {
    /// How much of the report a render keeps: the whole report only when it is written out
    /// (`--explain`, `--log`); otherwise only what warns or breaks the rules, which is all a
    /// render reads.
    pub fn detail(&self) -> reimage::Detail {
        if self.settings.explain.is_some() || self.settings.logging {
            reimage::Detail::Full
        } else {
            reimage::Detail::Problems
        }
    }

    /// All of standard input; its size goes into the log's header. When it is a file, its
    /// size is known and the buffer is made that large at once instead of growing (and being
    /// copied) a dozen times.
    pub fn read_input(&mut self) -> Result<Vec<u8>, Error> {
        use std::os::fd::AsFd;
        let stdin = std::io::stdin();
        let size = stdin
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from)
            .and_then(|file| file.metadata())
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map_or(0, |meta| meta.len());
        let mut input = Vec::with_capacity(usize::try_from(size).unwrap_or(0).max(64 << 10));
        stdin.lock().read_to_end(&mut input).map_err(Error::Input)?;
        if self.log.is_open() {
            let documents = reimage::stream::Stream::documents(&input).map_or(0, Iterator::count);
            self.header.input = Some((input.len(), documents));
        }
        Ok(input)
    }

    /// The lock, with every digest it lacks asked of the registries when `--resolve` (or
    /// `digests.resolve: true`) says so; otherwise as it is, and no network at all.
    pub fn resolved(&self, input: &[u8], lock: Option<Lock>) -> Result<Option<Lock>, Error> {
        if self.settings.resolve {
            Ok(Some(pins::complete(input, self.settings, lock)?))
        } else {
            Ok(lock)
        }
    }

    /// Warnings (on standard error unless `--quiet`, and in the log), and what changed: as
    /// `--explain` says on standard error, and as lines in the log.
    pub fn report(&mut self, report: &Report) {
        for warning in report.warnings() {
            let warning = format!("reimage: {warning}");
            if !self.settings.quiet {
                eprintln!("{warning}");
            }
            self.log.push(warning);
        }
        if self.settings.explain == Some(ExplainFormat::JsonPatch) {
            match report.json_patch() {
                Ok(text) => eprint!("{text}"),
                Err(e) => eprintln!("reimage: {e}"),
            }
            if self.log.is_open() {
                self.log.extend(report.explain());
            }
        } else if self.settings.explain.is_some() || self.log.is_open() {
            self.explain(report.explain());
        }
    }

    /// Lines of what changed: on standard error with `--explain` (`lock` has no other form),
    /// and in the log.
    pub fn explain(&mut self, lines: Vec<String>) {
        if self.settings.explain.is_some() {
            for line in &lines {
                eprintln!("{line}");
            }
        }
        self.log.extend(lines);
    }

    /// A summary line: on standard error unless `--quiet`, and in the log.
    pub fn summary(&mut self, line: String) {
        if !self.settings.quiet {
            eprintln!("reimage: {line}");
        }
        self.log.push(line);
    }
}

/// Writes the output, which is complete before the first byte goes out; a closed pipe
/// (`| head`) is not an error.
pub fn write_stdout(
    write: impl FnOnce(&mut BufWriter<std::io::StdoutLock<'static>>) -> std::io::Result<()>,
) -> Result<(), Error> {
    let mut stdout = BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
    match write(&mut stdout).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Output(e)),
        _ => Ok(()),
    }
}
