//! `reimage images`: every image found, after the rules, in the form asked for.

use std::io::Write;

use reimage::error::Error;
use reimage::inventory;

use super::{write_stdout, Session};
use crate::cli::{Format, ImagesArgs};

pub fn run(session: &mut Session<'_>, args: &ImagesArgs) -> Result<(), Error> {
    let settings = session.settings;
    // Listing what to lock and copy is the first step, before there is a lock file.
    let lock = settings.lock_if_present()?;
    let input = session.read_input()?;
    let lock = session.resolved(&input, lock)?;
    // An inventory lists what is there, policy or not.
    let rendered = reimage::render_unchecked(&input, &settings.rules, lock.as_ref())?;
    session.report(&rendered.report);
    let report = &rendered.report;
    let out = match args.format {
        Format::Text => inventory::text(report, args.source),
        Format::Json => inventory::json(report),
        Format::Mirror => inventory::mirror(report)?,
        Format::SkopeoSync => inventory::skopeo_sync(report)?,
        Format::HelmAnnotation => inventory::helm_annotation(report),
        Format::JsonPatch => report.json_patch()?,
    };
    write_stdout(|stdout| stdout.write_all(out.as_bytes()))
}
