//! A render as a KRM function (kustomize, kpt): standard input is one `ResourceList`, its
//! `functionConfig` holds the rules, and standard output is the list with its items edited and
//! `results` for what the run reports. A failed run writes the list too, its items as they
//! came and one `error` result, as the KRM Functions Specification reserves standard output
//! for the list; the message goes to standard error as well, and the exit code is a render's.

use reimage::error::Error;
use reimage::krm::results;
use reimage::krm::{FunctionError, ResourceList};

use super::{write_stdout, Session};

pub fn run(session: &mut Session<'_>, list: &ResourceList<'_>) -> Result<(), Error> {
    let error = match render(session, list) {
        Ok(output) => return write_stdout(|out| output.write_to(out)),
        Err(e) => e,
    };
    if let Ok(output) = list.failed(&error.to_string()) {
        // The run's own error is the one to report, whether or not the list could be written.
        let _ = write_stdout(|out| output.write_to(out));
    }
    Err(error)
}

/// The list with the rules of its `functionConfig` applied and its `results`.
fn render<'a>(
    session: &mut Session<'_>,
    list: &ResourceList<'a>,
) -> Result<reimage::apply::Output<'a>, Error> {
    if !session.settings.rule_options.is_empty() {
        return Err(FunctionError::RulesTwice {
            options: session.settings.rule_options.join(", "),
        }
        .into());
    }
    let (rules, origin) = list.rules()?;
    session.header.rules = Some(origin.to_string());
    let settings = session.settings.with_rules(rules);
    let mut session = Session {
        settings: &settings,
        log: session.log,
        header: session.header,
    };
    let input = list.text().as_bytes();
    let lock = settings.lock()?;
    let lock = session.resolved(input, lock)?;
    let detail = session.detail();
    let rendered = reimage::render_with(input, &settings.rules, lock.as_ref(), detail)?;
    session.report(&rendered.report);
    let entries = results::from_report(&rendered.report, &list.files(), settings.explain.is_some());
    Ok(list.with_results(rendered.output, &entries)?)
}
