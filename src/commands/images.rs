//! `reimage images`: every image found, after the rules, in the form asked for.

use std::io::Write;
use std::path::Path;

use reimage::error::Error;
use reimage::inventory;
use reimage::mirrors::{containerd, openshift, registries_conf, MirrorSet};

use super::{write_stdout, Session};
use crate::cli::{Format, ImagesArgs};

pub fn run(session: &mut Session<'_>, args: &ImagesArgs) -> Result<(), Error> {
    let settings = session.settings;
    match (args.format, &args.output_dir) {
        (Format::ContainerdHosts, None) => {
            return Err(Error::OutputDir(
                "`--format containerd-hosts` writes one file per registry: pass --output-dir DIR",
            ))
        }
        (Format::ContainerdHosts, Some(_)) | (_, None) => {}
        (_, Some(_)) => {
            return Err(Error::OutputDir(
                "--output-dir is only for `--format containerd-hosts`; other formats go to standard output",
            ))
        }
    }
    // Listing what to lock and copy is the first step, before there is a lock file.
    let lock = settings.lock_if_present()?;
    let input = session.read_input()?;
    let lock = session.resolved(&input, lock)?;
    // An inventory lists what is there, policy or not.
    let rendered = reimage::render_unchecked(&input, &settings.rules, lock.as_ref())?;
    session.report(&rendered.report);
    let report = &rendered.report;
    let insecure = &settings.network.insecure;
    let mirrors = || MirrorSet::new(&settings.rules, report);
    let out = match args.format {
        Format::Text => inventory::text(report, args.source),
        Format::Json => inventory::json(report),
        Format::Mirror => inventory::mirror(report)?,
        Format::SkopeoSync => inventory::skopeo_sync(report)?,
        Format::HelmAnnotation => inventory::helm_annotation(report),
        Format::JsonPatch => report.json_patch()?,
        Format::RegistriesConf => {
            let set = mirrors();
            notes(session, set.notes.iter().map(|n| n.line()));
            registries_conf::text(&set, insecure)
        }
        Format::Idms => {
            let set = mirrors();
            notes(session, openshift::notes(&set).into_iter());
            openshift::text(&set)
        }
        Format::ContainerdHosts => {
            let dir = args.output_dir.as_deref().unwrap_or(Path::new("."));
            let hosts = containerd::hosts(&mirrors(), insecure);
            notes(session, hosts.notes.iter().cloned());
            write_files(session, dir, &hosts.files)?;
            String::new()
        }
        Format::Hauler => inventory::hauler(report)?,
        Format::Zarf => inventory::zarf(report)?,
        Format::OcMirror => inventory::oc_mirror(report)?,
    };
    write_stdout(|stdout| stdout.write_all(out.as_bytes()))
}

/// What a mirror configuration cannot say, as warnings.
fn notes(session: &mut Session<'_>, lines: impl Iterator<Item = String>) {
    for line in lines {
        let warning = format!("reimage: warning: {line}");
        if !session.settings.quiet {
            eprintln!("{warning}");
        }
        session.log.push(warning);
    }
}

/// Writes each `(relative path, text)` under `dir`, and lists them on standard error.
fn write_files(
    session: &mut Session<'_>,
    dir: &Path,
    files: &[(String, String)],
) -> Result<(), Error> {
    for (name, text) in files {
        let path = dir.join(name);
        let write = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        write.map_err(|cause| Error::WriteFile {
            path: path.clone(),
            cause,
        })?;
        session.summary(format!("wrote {}", path.display()));
    }
    Ok(())
}
