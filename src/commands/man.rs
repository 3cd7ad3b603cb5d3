//! `reimage man`: the manual page, in roff, generated from the clap definitions of
//! [`crate::cli`] (`reimage man | man -l -`).

use std::io::Write;

use clap::CommandFactory;
use reimage::error::Error;

use super::write_stdout;
use crate::cli::Cli;

pub fn run() -> Result<(), Error> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(Error::Output)?;
    write_stdout(|stdout| stdout.write_all(&page))
}
