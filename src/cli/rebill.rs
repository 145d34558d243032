//! `switchyard rebill LOG --models prices.toml`: a call log's dollars recomputed at the
//! prices of a catalog file; old and new totals, overall and by model; `--out` writes the
//! re-billed log (every line, in order).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::report::{lines_summary, print_out, read_failed, report_bad_lines, table};
use crate::calllog::rebill::{load_catalog, rebill, Rebill};
use crate::calllog::replay::change_percent;
use crate::calllog::report::{format_usd, format_usd_change};
use crate::money::PicosPerToken;

/// Arguments of `switchyard rebill`.
#[derive(Debug, Args)]
pub struct RebillArgs {
    /// A call log (JSON lines); `-` reads stdin.
    #[arg(value_name = "LOG")]
    pub log: PathBuf,
    /// The new prices: a catalog file of `[models.*]` tables, like policies/models.toml.
    #[arg(long, value_name = "PRICES.toml")]
    pub models: PathBuf,
    /// Write the re-billed log here: every line in order, records at the new prices, lines
    /// that are not records copied unchanged.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RebillFormat::Text)]
    pub format: RebillFormat,
}

/// Output formats of `rebill`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RebillFormat {
    /// For a person.
    Text,
    /// One JSON object.
    Json,
}

pub(super) fn run(args: RebillArgs) -> ExitCode {
    let catalog = match load_catalog(&args.models) {
        Ok(c) => c,
        Err(e) => return super::load_failed(&e),
    };
    if let Some(out) = &args.out {
        if same_file(out, &args.log) {
            eprintln!(
                "error: --out {} is the log being read; write the re-billed log to another file",
                out.display()
            );
            return ExitCode::from(super::USAGE);
        }
    }
    let input = match super::open_input(Some(&args.log), "a call log") {
        Ok(i) => i,
        Err(code) => return code,
    };
    let mut writer = match &args.out {
        None => None,
        Some(p) => match File::create(p) {
            Ok(f) => Some(BufWriter::new(f)),
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", p.display());
                return ExitCode::from(super::USAGE);
            }
        },
    };
    let result = rebill(
        input,
        &catalog,
        writer.as_mut().map(|w| w as &mut dyn Write),
    );
    let r = match result {
        Ok(r) => r,
        Err(e) => return read_failed(&args.log, &e),
    };
    if let (Some(w), Some(p)) = (writer.as_mut(), &args.out) {
        if let Err(e) = w.flush() {
            eprintln!("error: cannot write {}: {e}", p.display());
            return ExitCode::from(super::USAGE);
        }
    }
    report_bad_lines(&args.log, &r.lines);
    for m in r.models.iter().filter(|m| m.new_prices.is_none()) {
        eprintln!(
            "warning: the model `{}` is not in {}: its {} call{} keep their logged prices",
            m.model,
            args.models.display(),
            m.calls,
            super::report::plural(m.calls)
        );
    }
    let text = match args.format {
        RebillFormat::Text => text(&args.log, &args.models, args.out.as_deref(), &r),
        RebillFormat::Json => serde_json::to_string_pretty(&r).expect("serializes") + "\n",
    };
    print_out(&text)
}

/// Whether two paths name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn per_mtok(p: PicosPerToken) -> String {
    // Pico-dollars per token are micro-dollars per million tokens.
    format_usd(p.0 as u128 * 1_000_000)
}

fn text(log: &Path, models: &Path, out: Option<&Path>, r: &Rebill) -> String {
    let mut s = lines_summary(log, &r.lines) + "\n";
    s += &format!(
        "re-billed {} of {} call{} at the prices in {}\n",
        r.repriced,
        r.lines.records,
        super::report::plural(r.lines.records),
        models.display()
    );
    let pct = change_percent(r.old_picos, r.new_picos)
        .map(|p| format!(" ({p:+.1}%)"))
        .unwrap_or_default();
    s += &format!(
        "  logged total  {}\n  new total     {}\n  change        {}{pct}\n\nby model\n",
        format_usd(r.old_picos),
        format_usd(r.new_picos),
        format_usd_change(r.new_picos, r.old_picos),
    );
    let rows: Vec<Vec<String>> = r
        .models
        .iter()
        .map(|m| {
            vec![
                m.model.clone(),
                m.calls.to_string(),
                format_usd(m.old_picos),
                format_usd(m.new_picos),
                format_usd_change(m.new_picos, m.old_picos),
                match m.new_prices {
                    Some((i, o)) => format!("{} / {} per Mtok", per_mtok(i), per_mtok(o)),
                    None => "not in the catalog: logged prices kept".into(),
                },
            ]
        })
        .collect();
    s += &table(
        &[
            "model",
            "calls",
            "logged",
            "new",
            "change",
            "new prices (in / out)",
        ],
        &rows,
        b"lrrrrl",
        "  ",
    );
    if let Some(out) = out {
        s += &format!("\nwrote the re-billed log to {}\n", out.display());
    }
    s
}
