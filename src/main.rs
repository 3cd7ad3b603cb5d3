//! The `reimage` binary: parse arguments, run, map the outcome to an exit code.

mod cli;

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, Format};
use reimage::error::{Error, EXIT_INPUT};
use reimage::rules::Rules;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_INPUT as u8 } else { 0 });
        }
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = format!("reimage: {e}");
            eprintln!("{message}");
            log(&cli, std::slice::from_ref(&message));
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn run(cli: &Cli) -> Result<(), Error> {
    let rules = match &cli.rules.rules {
        Some(path) => Rules::load(path)?,
        None => Rules::empty(),
    };
    let rules = rules.with_shorthands(
        cli.rules.registry.as_deref(),
        &cli.rules.pull_secrets,
        cli.rules.lock.as_deref(),
    )?;
    let lock = reimage::load_lock(&rules)?;
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(Error::Input)?;
    let rendered = reimage::render(&input, &rules, lock.as_ref())?;
    let report = &rendered.report;
    if !cli.quiet {
        for warning in report.warnings() {
            eprintln!("reimage: {warning}");
        }
    }
    let explained = report.explain();
    if cli.explain {
        for line in &explained {
            eprintln!("{line}");
        }
    }
    log(cli, &explained);
    let output = match &cli.command {
        None => rendered.output,
        Some(Command::Images(args)) => match args.format {
            Format::Text => report
                .image_list(args.source)
                .iter()
                .flat_map(|image| [image.as_bytes(), b"\n"].concat())
                .collect(),
            Format::Json => {
                let mut json = serde_json::to_vec_pretty(&report.findings).unwrap_or_default();
                json.push(b'\n');
                json
            }
        },
    };
    write_stdout(&output)
}

/// Writes the whole output at once; a closed pipe (`| head`) is not an error.
fn write_stdout(output: &[u8]) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(output).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Input(e)),
        _ => Ok(()),
    }
}

/// Appends lines to the `--log` file; a log that cannot be written is reported, not fatal.
fn log(cli: &Cli, lines: &[String]) {
    let Some(path) = &cli.log else {
        return;
    };
    if lines.is_empty() {
        return;
    }
    if let Err(e) = append(path, lines) {
        eprintln!(
            "reimage: warning: cannot write log file {}: {e}",
            path.display()
        );
    }
}

fn append(path: &Path, lines: &[String]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    file.write_all(text.as_bytes())
}
