//! The `reimage` binary: parse the command line, build the settings once, run the command,
//! map the outcome to an exit code. Each command is a module of [`commands`].

// Strings are sliced with `get`, which cannot panic on a bad range or a char boundary; tests
// may slice directly.
#![deny(clippy::string_slice)]
#![cfg_attr(test, allow(clippy::string_slice))]

mod cli;
mod commands;
mod log;
mod settings;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use commands::Session;
use log::{Header, Log};
use reimage::error::{Error, EXIT_INPUT};
use settings::Settings;

fn main() -> ExitCode {
    quiet_parser_panics();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            if !e.use_stderr() {
                return ExitCode::SUCCESS;
            }
            log::refused_command_line(&e);
            return ExitCode::from(EXIT_INPUT as u8);
        }
    };
    let mut log = match Log::open(cli.log.as_deref()) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("reimage: {e}");
            return ExitCode::from(EXIT_INPUT as u8);
        }
    };
    let mut header = Header {
        command: cli.command_name(),
        rules: settings::rules_named(&cli),
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

fn run(cli: &Cli, log: &mut Log, header: &mut Header) -> Result<(), Error> {
    // Commands that read no rules, whatever `--rules` or REIMAGE_RULES names.
    match &cli.command {
        Some(Command::Schema) => return commands::schema::run(),
        Some(Command::Completions(args)) => return commands::completions::run(args),
        Some(Command::Man) => return commands::man::run(),
        _ => {}
    }
    let settings = Settings::new(cli)?;
    let mut session = Session {
        settings: &settings,
        log,
        header,
    };
    match &cli.command {
        None => commands::render::run(&mut session),
        Some(Command::Images(args)) => commands::images::run(&mut session, args),
        Some(Command::Check(args)) => commands::check::run(&mut session, args),
        Some(Command::Lock(args)) => commands::lock::run(&mut session, args),
        Some(Command::Mirror(args)) => commands::mirror::run(&mut session, args),
        Some(Command::Schema) => commands::schema::run(),
        Some(Command::Completions(args)) => commands::completions::run(args),
        Some(Command::Man) => commands::man::run(),
        Some(Command::Init) => commands::init::run(
            &mut session,
            cli.rules.registry.as_deref(),
            &cli.rules.pull_secrets,
        ),
        Some(Command::Import(args)) => commands::import::run(&mut session, args),
    }
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
