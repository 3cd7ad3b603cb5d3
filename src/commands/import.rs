//! `reimage import FILE`: a kustomization's `images:` (or a Flux HelmRelease's kustomize
//! post-renderer images) as a rules file on standard output; what cannot be expressed goes to
//! standard error and the log, and into the file as comments ([`reimage::rules::import`]).

use std::io::Write;

use reimage::error::Error;
use reimage::rules::import::{self, ImportError};

use super::{write_stdout, Session};
use crate::cli::ImportArgs;

pub fn run(session: &mut Session<'_>, args: &ImportArgs) -> Result<(), Error> {
    let file = args.file.display().to_string();
    let text = std::fs::read_to_string(&args.file).map_err(|cause| ImportError::Read {
        file: file.clone(),
        cause,
    })?;
    let imported = import::import(&text, &file)?;
    for note in &imported.notes {
        session.summary(format!("not imported: {note}"));
    }
    write_stdout(|stdout| stdout.write_all(imported.text.as_bytes()))
}
