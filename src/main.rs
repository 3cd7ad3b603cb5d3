//! The `reimage` binary: parse arguments, run, map the outcome to an exit code.

mod cli;

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use cli::{CheckArgs, CheckFormat, Cli, Command, Format, ImagesArgs};
use reimage::error::{Error, EXIT_INPUT};
use reimage::lock::Lock;
use reimage::report::Report;
use reimage::rules::Rules;
use reimage::{inventory, policy};

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
    let output = match &cli.command {
        Some(Command::Check(args)) => return check(cli, args, &rules, lock.as_ref(), &input),
        Some(Command::Images(args)) => {
            // An inventory lists what is there, policy or not.
            let rendered = reimage::render_unchecked(&input, &rules, lock.as_ref())?;
            report(cli, &rendered.report);
            images(args, &rendered.report).into_bytes()
        }
        None => {
            let rendered = reimage::render(&input, &rules, lock.as_ref())?;
            report(cli, &rendered.report);
            rendered.output
        }
    };
    write_stdout(&output)
}

/// Warnings and the `--explain` / `--log` lines.
fn report(cli: &Cli, report: &Report) {
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
}

fn images(args: &ImagesArgs, report: &Report) -> String {
    match args.format {
        Format::Text => inventory::text(report, args.source),
        Format::Json => inventory::json(report),
        Format::Mirror => inventory::mirror(report),
        Format::SkopeoSync => inventory::skopeo_sync(report),
        Format::HelmAnnotation => inventory::helm_annotation(report),
    }
}

/// `reimage check`: the policy's violations on standard output, exit 1 if there are any.
fn check(
    cli: &Cli,
    args: &CheckArgs,
    rules: &Rules,
    lock: Option<&Lock>,
    input: &[u8],
) -> Result<(), Error> {
    let as_is;
    let applied = if args.as_is {
        as_is = Rules {
            paths: rules.paths.clone(),
            scan: rules.scan,
            ..Rules::empty()
        };
        &as_is
    } else {
        rules
    };
    let lock = if args.as_is { None } else { lock };
    let rendered = reimage::render_unchecked(input, applied, lock)?;
    report(cli, &rendered.report);
    let policy = rules.policy.clone().unwrap_or_default();
    let violations = policy::violations(&rendered.report, &policy, &rules.pull_secrets.remove);
    let out = match args.format {
        CheckFormat::Text => policy::text(&violations),
        CheckFormat::Json => serde_json::to_string_pretty(&violations).unwrap_or_default() + "\n",
        CheckFormat::Sarif => {
            serde_json::to_string_pretty(&policy::sarif(&violations)).unwrap_or_default() + "\n"
        }
    };
    write_stdout(out.as_bytes())?;
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::Violations(violations.len()))
    }
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
