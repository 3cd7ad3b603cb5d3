//! The `reimage` binary: parse arguments, run, map the outcome to an exit code.

mod cli;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use cli::{CheckArgs, CheckFormat, Cli, Command, Format, ImagesArgs, LockArgs};
use reimage::error::{Error, EXIT_INPUT};
use reimage::lock::Lock;
use reimage::report::Report;
use reimage::rules::Rules;
use reimage::{digest, inventory, policy};

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
    // `reimage lock` writes the lock file, which may not exist yet.
    let lock = match &cli.command {
        Some(Command::Lock(_)) => None,
        _ => reimage::load_lock(&rules)?,
    };
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(Error::Input)?;
    let lock = resolve_inline(cli, &rules, &input, lock)?;
    let output = match &cli.command {
        Some(Command::Lock(args)) => return lock_command(cli, args, &rules, &input),
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
    if !cli.explain && cli.log.is_none() {
        return;
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
            scan: rules.scan.clone(),
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

/// `--resolve` / `digests.resolve: true`: the lock plus every digest it lacks, from the
/// registries. Otherwise the lock as it is, and no network at all.
fn resolve_inline(
    cli: &Cli,
    rules: &Rules,
    input: &[u8],
    lock: Option<Lock>,
) -> Result<Option<Lock>, Error> {
    let asked = cli.network.resolve || digest::resolve_requested(rules);
    if !asked || matches!(cli.command, Some(Command::Lock(_))) {
        return Ok(lock);
    }
    let settings = net_settings(cli, rules);
    let client = digest::RegistryClient::new(&settings);
    let lock = digest::complete_lock(input, rules, lock, &client, settings.parallel)?;
    Ok(Some(lock))
}

/// `reimage lock`: resolve and write the lock file; a summary on standard error.
fn lock_command(cli: &Cli, args: &LockArgs, rules: &Rules, input: &[u8]) -> Result<(), Error> {
    let output = args
        .output
        .clone()
        .or_else(|| rules.digests.as_ref().and_then(|d| d.lock.clone()))
        .unwrap_or_else(|| PathBuf::from("images.lock.yaml"));
    let mode = match (args.update, args.refresh) {
        (true, _) => digest::Mode::Update,
        (_, true) => digest::Mode::Refresh,
        _ => digest::Mode::Fresh,
    };
    let settings = net_settings(cli, rules);
    let job = digest::LockJob {
        output: &output,
        mode,
        source: args.source,
        parallel: settings.parallel,
    };
    let client = digest::RegistryClient::new(&settings);
    let outcome = digest::command::run(input, rules, &job, &client)?;
    let mut lines = outcome.explain();
    if cli.explain {
        lines.iter().for_each(|line| eprintln!("{line}"));
    }
    lines.push(outcome.summary(&output));
    if !cli.quiet {
        eprintln!("reimage: {}", outcome.summary(&output));
    }
    log(cli, &lines);
    Ok(())
}

fn net_settings(cli: &Cli, rules: &Rules) -> digest::Settings {
    digest::Settings::new(
        rules,
        &cli.network.insecure_registries,
        cli.network.parallel.map(usize::from),
        cli.network.timeout.map(std::time::Duration::from_secs),
    )
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
