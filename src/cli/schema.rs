//! `switchyard schema`: prints the policy file's JSON Schema (draft-07), for editors
//! (Taplo / Even Better TOML read it through a `#:schema` line) and for CI.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;

/// Arguments of `switchyard schema` (none: the schema is the same for every policy).
#[derive(Debug, Args)]
pub struct SchemaArgs {}

pub(super) fn run(_args: SchemaArgs) -> ExitCode {
    let text = crate::schema::policy_schema_text();
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the schema: {e}");
            ExitCode::from(super::USAGE)
        }
    }
}
