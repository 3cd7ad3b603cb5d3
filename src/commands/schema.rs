//! `reimage schema`: the JSON Schema of the rules file on standard output, generated from the
//! serde types that read the file ([`reimage::rules::file`]), so it cannot drift from them.

use std::io::Write;

use reimage::error::Error;

use super::write_stdout;

pub fn run() -> Result<(), Error> {
    let schema = reimage::rules::file::json_schema();
    write_stdout(|stdout| stdout.write_all(schema.as_bytes()))
}
