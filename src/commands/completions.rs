//! `reimage completions SHELL`: a completion script for the shell, generated from the clap
//! definitions of [`crate::cli`], so it offers exactly the commands and flags there are.

use std::io::Write;

use clap::CommandFactory;
use reimage::error::Error;

use super::write_stdout;
use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: &CompletionsArgs) -> Result<(), Error> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "reimage", &mut script);
    write_stdout(|stdout| stdout.write_all(&script))
}
