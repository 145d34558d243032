//! `switchyard rebill LOG --models prices.toml`: a call log's dollars recomputed at the
//! prices of a catalog file; old and new totals, overall and by model; `--out` writes the
//! re-billed log (every line, in order).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use tempfile::NamedTempFile;

use super::report::{
    lines_summary, log_reader, print_out, read_failed, report_bad_lines, shown, table, visible,
};
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
    /// The longest log line read, in bytes; a longer line is skipped as a bad line (and,
    /// with --out, stops the run: the re-billed log would lose it).
    #[arg(long, value_name = "BYTES", default_value_t = crate::lines::DEFAULT_MAX_LINE_BYTES as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_line_bytes: u64,
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
        if is_the_log(out, &args.log) {
            eprintln!(
                "error: --out {} is the log being read; write the re-billed log to another file",
                shown(out)
            );
            return ExitCode::from(super::USAGE);
        }
    }
    let input = match super::open_input(Some(&args.log), "a call log") {
        Ok(i) => i,
        Err(code) => return code,
    };
    // The re-billed log goes to a temporary file beside --out, renamed over it only once
    // every line is written: a failed run leaves --out (and the log) as they were.
    let mut writer = match &args.out {
        None => None,
        Some(p) => match temp_beside(p) {
            Ok(f) => Some(BufWriter::new(f)),
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", shown(p));
                return ExitCode::from(super::USAGE);
            }
        },
    };
    let result = rebill(
        log_reader(input, args.max_line_bytes),
        &catalog,
        writer.as_mut().map(|w| w as &mut dyn Write),
    );
    let r = match result {
        Ok(r) => r,
        Err(e) => return read_failed(&args.log, &e),
    };
    if let (Some(w), Some(p)) = (writer, &args.out) {
        if let Err(e) = finish(w, p) {
            eprintln!("error: cannot write {}: {e}", shown(p));
            return ExitCode::from(super::USAGE);
        }
    }
    report_bad_lines(&args.log, &r.lines);
    for m in r.models.iter().filter(|m| m.new_prices.is_none()) {
        eprintln!(
            "warning: the model `{}` is not in {}: its {} call{} keep their logged prices",
            visible(&m.model),
            shown(&args.models),
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

/// A new temporary file in `out`'s directory (so the final rename stays on one file
/// system), with `out`'s permissions when it exists.
fn temp_beside(out: &Path) -> io::Result<NamedTempFile> {
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file = NamedTempFile::with_prefix_in(".switchyard-rebill-", dir)?;
    let permissions = match fs::metadata(out) {
        Ok(m) => Some(m.permissions()),
        Err(_) => default_permissions(),
    };
    if let Some(p) = permissions {
        file.as_file().set_permissions(p)?;
    }
    Ok(file)
}

/// What a new output file gets: a temporary file is private (0600), an output is not.
#[cfg(unix)]
fn default_permissions() -> Option<fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn default_permissions() -> Option<fs::Permissions> {
    None
}

/// Flushes the temporary file and renames it over `out`.
fn finish(w: BufWriter<NamedTempFile>, out: &Path) -> io::Result<()> {
    let file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.as_file().sync_all()?;
    file.persist(out).map_err(|e| e.error)?;
    Ok(())
}

/// Whether `out` names the file the log is read from (`-`: stdin): the same device and
/// inode, so a hard link or another path to the log counts too.
fn is_the_log(out: &Path, log: &Path) -> bool {
    let Ok(out_meta) = fs::metadata(out) else {
        return false; // it does not exist yet: it cannot be the log
    };
    let log_meta = if log.as_os_str() == "-" {
        stdin_metadata()
    } else {
        fs::metadata(log).ok()
    };
    log_meta.is_some_and(|l| same_file(&l, &out_meta, out, log))
}

#[cfg(unix)]
fn stdin_metadata() -> Option<fs::Metadata> {
    use std::os::fd::AsFd;
    let fd = io::stdin().as_fd().try_clone_to_owned().ok()?;
    File::from(fd).metadata().ok()
}

#[cfg(not(unix))]
fn stdin_metadata() -> Option<fs::Metadata> {
    None
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata, _: &Path, _: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_: &fs::Metadata, _: &fs::Metadata, a: &Path, b: &Path) -> bool {
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
        shown(models)
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
        s += &format!("\nwrote the re-billed log to {}\n", shown(out));
    }
    s
}
