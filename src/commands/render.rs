//! A render: the stream with the rules applied, on standard output.

use reimage::error::Error;
use reimage::Detail;

use super::{write_stdout, Session};

pub fn run(session: &mut Session<'_>) -> Result<(), Error> {
    let settings = session.settings;
    let lock = settings.lock()?;
    let input = session.read_input()?;
    let lock = session.resolved(&input, lock)?;
    // The whole report only when it is written out; otherwise only what warns or breaks the
    // rules, which is all a render reads.
    let detail = if settings.explain || settings.logging {
        Detail::Full
    } else {
        Detail::Problems
    };
    let rendered = reimage::render_with(&input, &settings.rules, lock.as_ref(), detail)?;
    session.report(&rendered.report);
    write_stdout(|out| rendered.output.write_to(out))
}
