//! `reimage check`: the policy's violations on standard output, exit 1 if there are any.

use std::io::Write;

use reimage::error::Error;
use reimage::policy;
use reimage::rules::Rules;

use super::{write_stdout, Session};
use crate::cli::{CheckArgs, CheckFormat};

pub fn run(session: &mut Session<'_>, args: &CheckArgs) -> Result<(), Error> {
    let settings = session.settings;
    let rules = &settings.rules;
    let lock = settings.lock()?;
    let input = session.read_input()?;
    // `--as-is` checks the stream as it is: only where images are found comes from the rules.
    let (applied, lock) = if args.as_is {
        let as_is = Rules {
            paths: rules.paths.clone(),
            scan: rules.scan.clone(),
            ..Rules::empty()
        };
        (as_is, None)
    } else {
        (rules.clone(), session.resolved(&input, lock)?)
    };
    let rendered = reimage::render_unchecked(&input, &applied, lock.as_ref())?;
    session.report(&rendered.report);
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
