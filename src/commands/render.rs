//! A render: the stream with the rules applied, on standard output. A KRM `ResourceList` on
//! standard input is rendered as a function instead ([`super::function`]).

use std::io::IsTerminal;

use reimage::error::Error;
use reimage::krm::ResourceList;

use super::{write_stdout, Session};

pub fn run(session: &mut Session<'_>) -> Result<(), Error> {
    let settings = session.settings;
    // Without rules only a ResourceList, whose functionConfig holds them, can be rendered; a
    // terminal is not going to type one.
    if !settings.asks_for_changes() && std::io::stdin().is_terminal() {
        return Err(Error::NoRules);
    }
    let input = session.read_input()?;
    if let Some(list) = ResourceList::read(&input)? {
        return super::function::run(session, &list);
    }
    if !settings.asks_for_changes() {
        return Err(Error::NoRules);
    }
    let lock = settings.lock()?;
    let lock = session.resolved(&input, lock)?;
    let rendered = reimage::render_with(&input, &settings.rules, lock.as_ref(), session.detail())?;
    session.report(&rendered.report);
    write_stdout(|out| rendered.output.write_to(out))
}
