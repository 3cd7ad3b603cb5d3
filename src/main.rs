//! The `reimage` binary: parse arguments, run, map the outcome to an exit code.

mod cli;
mod log;

use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use cli::{CheckArgs, CheckFormat, Cli, Command, Format, ImagesArgs, LockArgs};
use log::{Header, Log};
use reimage::error::{Error, EXIT_INPUT};
use reimage::lock::Lock;
use reimage::report::Report;
use reimage::rules::Rules;
use reimage::{digest, inventory, policy, Detail};

fn main() -> ExitCode {
    quiet_parser_panics();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return refused(&e),
    };
    let mut log = match Log::open(cli.log.as_deref()) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("reimage: {e}");
            return ExitCode::from(EXIT_INPUT as u8);
        }
    };
    let mut header = Header {
        command: command_name(&cli),
        rules: rules_named(&cli),
        input: None,
    };
    let code = match run(&cli, &mut log, &mut header) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = reimage::report::printable(format!("reimage: {e}"), true);
            eprintln!("{message}");
            log.push(message);
            ExitCode::from(e.exit_code() as u8)
        }
    };
    log.finish(&header);
    code
}

/// A command line clap refused (or `--help`, `--version`): printed, and logged when a log can
/// be found on it or in `REIMAGE_LOG`, since Helm and Argo CD show neither.
fn refused(error: &clap::Error) -> ExitCode {
    let _ = error.print();
    if !error.use_stderr() {
        return ExitCode::SUCCESS;
    }
    let path = log::path_in_raw_args(std::env::args_os().skip(1));
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
    ExitCode::from(EXIT_INPUT as u8)
}

fn command_name(cli: &Cli) -> &'static str {
    match cli.command {
        None => "render",
        Some(Command::Images(_)) => "images",
        Some(Command::Lock(_)) => "lock",
        Some(Command::Check(_)) => "check",
    }
}

/// Where the rules come from, for the log: the file, then the flags that ask for changes.
fn rules_named(cli: &Cli) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(file) = &cli.rules.rules {
        parts.push(file.display().to_string());
    }
    if let Some(prefix) = &cli.rules.registry {
        parts.push(format!("--registry {prefix}"));
    }
    for name in &cli.rules.pull_secrets {
        parts.push(format!("--pull-secret {name}"));
    }
    if let Some(lock) = &cli.rules.lock {
        parts.push(format!("--lock {}", lock.display()));
    }
    if cli.network.resolve {
        parts.push("--resolve".to_string());
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// A panic inside the YAML parser is caught and reported as an error about the document
/// (`tree::Tree::parse`); it must not also print a backtrace. Every other panic prints as usual.
fn quiet_parser_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_parser = info
            .location()
            .is_some_and(|at| at.file().contains("libyaml-safer"));
        if !in_parser {
            default(info);
        }
    }));
}

fn run(cli: &Cli, log: &mut Log, header: &mut Header) -> Result<(), Error> {
    // As a post-renderer, a render without rules would install every image unchanged
    // without a word.
    if cli.command.is_none() && rules_named(cli).is_none() {
        return Err(Error::NoRules);
    }
    let rules = match &cli.rules.rules {
        Some(path) => Rules::load(path)?,
        None => Rules::empty(),
    };
    let rules = rules.with_shorthands(
        cli.rules.registry.as_deref(),
        &cli.rules.pull_secrets,
        cli.rules.lock.as_deref(),
    )?;
    let nothing_to_check = rules.policy.is_none() && rules.pull_secrets.remove.is_empty();
    if matches!(cli.command, Some(Command::Check(_))) && nothing_to_check {
        return Err(Error::NoPolicy);
    }
    // `reimage lock` writes the lock file, which may not exist yet; `reimage images` lists
    // what to lock and copy, the first step before there is one.
    let lock = match &cli.command {
        Some(Command::Lock(_)) => None,
        Some(Command::Images(_)) => reimage::load_lock(&rules).or_else(|e| match e {
            Error::Lock(reimage::lock::LockError::Read { cause, .. })
                if cause.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(None)
            }
            e => Err(e),
        })?,
        _ => reimage::load_lock(&rules)?,
    };
    let input = read_stdin().map_err(Error::Input)?;
    if log.is_open() {
        let documents = reimage::stream::Stream::documents(&input).map_or(0, Iterator::count);
        header.input = Some((input.len(), documents));
    }
    let lock = resolve_inline(cli, &rules, &input, lock)?;
    let output = match &cli.command {
        Some(Command::Lock(args)) => return lock_command(cli, log, args, &rules, &input),
        Some(Command::Check(args)) => return check(cli, log, args, &rules, lock.as_ref(), &input),
        Some(Command::Images(args)) => {
            // An inventory lists what is there, policy or not.
            let rendered = reimage::render_unchecked(&input, &rules, lock.as_ref())?;
            report(cli, log, &rendered.report);
            images(args, &rendered.report)?.into_bytes()
        }
        None => {
            // The whole report only when it is written out; otherwise only what warns or
            // breaks the rules, which is all a render reads.
            let detail = if cli.explain || cli.log.is_some() {
                Detail::Full
            } else {
                Detail::Problems
            };
            let rendered = reimage::render_with(&input, &rules, lock.as_ref(), detail)?;
            report(cli, log, &rendered.report);
            return write_stdout(|out| rendered.output.write_to(out));
        }
    };
    write_stdout(|out| out.write_all(&output))
}

/// Warnings (on standard error unless `--quiet`, and in the log), and the `--explain` /
/// `--log` lines.
fn report(cli: &Cli, log: &mut Log, report: &Report) {
    for warning in report.warnings() {
        let warning = format!("reimage: {warning}");
        if !cli.quiet {
            eprintln!("{warning}");
        }
        log.push(warning);
    }
    if !cli.explain && !log.is_open() {
        return;
    }
    let explained = report.explain();
    if cli.explain {
        for line in &explained {
            eprintln!("{line}");
        }
    }
    log.extend(explained);
}

fn images(args: &ImagesArgs, report: &Report) -> Result<String, Error> {
    Ok(match args.format {
        Format::Text => inventory::text(report, args.source),
        Format::Json => inventory::json(report),
        Format::Mirror => inventory::mirror(report)?,
        Format::SkopeoSync => inventory::skopeo_sync(report)?,
        Format::HelmAnnotation => inventory::helm_annotation(report),
    })
}

/// `reimage check`: the policy's violations on standard output, exit 1 if there are any.
fn check(
    cli: &Cli,
    log: &mut Log,
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
    report(cli, log, &rendered.report);
    let policy = rules.policy.clone().unwrap_or_default();
    let violations = policy::violations(&rendered.report, &policy, &rules.pull_secrets.remove);
    let out = match args.format {
        CheckFormat::Text => policy::text(&violations),
        CheckFormat::Json => serde_json::to_string_pretty(&violations).unwrap_or_default() + "\n",
        CheckFormat::Sarif => {
            serde_json::to_string_pretty(&policy::sarif(&violations)).unwrap_or_default() + "\n"
        }
    };
    write_stdout(|stdout| stdout.write_all(out.as_bytes()))?;
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
fn lock_command(
    cli: &Cli,
    log: &mut Log,
    args: &LockArgs,
    rules: &Rules,
    input: &[u8],
) -> Result<(), Error> {
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
    log.extend(lines);
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

/// All of standard input. When it is a file, its size is known and the buffer is made that
/// large at once instead of growing (and being copied) a dozen times.
fn read_stdin() -> std::io::Result<Vec<u8>> {
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
    stdin.lock().read_to_end(&mut input)?;
    Ok(input)
}

/// Writes the output, which is complete before the first byte goes out; a closed pipe
/// (`| head`) is not an error.
fn write_stdout(
    write: impl FnOnce(&mut BufWriter<std::io::StdoutLock<'static>>) -> std::io::Result<()>,
) -> Result<(), Error> {
    let mut stdout = BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
    match write(&mut stdout).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Output(e)),
        _ => Ok(()),
    }
}
