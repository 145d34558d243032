//! `switchyard replay LOG --policy candidate.toml|dir`: every logged step routed again under
//! a candidate policy — how many change tier, the from→to matrix, the dollar change at the
//! logged token counts, the rules that gain and lose traffic, and the steps the candidate
//! would not route. `--fail-if-cost-increases PCT` makes it a CI check.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::report::{
    lines_summary, log_reader, plural, print_out, read_failed, report_bad_lines, table, visible,
};
use crate::calllog::replay::{replay, Replay};
use crate::calllog::report::{format_usd, format_usd_change};

/// Arguments of `switchyard replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A call log (JSON lines); `-` reads stdin.
    #[arg(value_name = "LOG")]
    pub log: PathBuf,
    /// The candidate: a policy file, or a directory of policies (a policy set).
    #[arg(long, short = 'p', value_name = "PATH")]
    pub policy: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReplayFormat::Text)]
    pub format: ReplayFormat,
    /// Exit 1 when the candidate's cost on the routed steps exceeds the logged cost by more
    /// than PCT percent (0 fails on any increase).
    #[arg(long, value_name = "PCT", value_parser = parse_percent)]
    pub fail_if_cost_increases: Option<f64>,
    /// Exit 1 when more than N logged steps cannot be routed by the candidate (unknown
    /// workload, rejected by a guard, invalid). With --fail-if-cost-increases the limit is
    /// 0 unless given, so a candidate that routes nothing never passes the gate.
    #[arg(long, value_name = "N")]
    pub max_unroutable: Option<u64>,
    /// The longest log line read, in bytes; a longer line is skipped as a bad line.
    #[arg(long, value_name = "BYTES", default_value_t = crate::lines::DEFAULT_MAX_LINE_BYTES as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_line_bytes: u64,
}

/// Output formats of `replay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplayFormat {
    /// For a person.
    Text,
    /// One JSON object.
    Json,
}

fn parse_percent(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{s}` is not a percentage; write e.g. 5 or 2.5"))?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("`{s}`: the percentage must be a number >= 0"))
    }
}

pub(super) fn run(args: ReplayArgs) -> ExitCode {
    let router = match super::load_router(&args.policy) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let input = match super::open_input(Some(&args.log), "a call log") {
        Ok(i) => i,
        Err(code) => return code,
    };
    let set = router.current();
    let r = match replay(log_reader(input, args.max_line_bytes), &set) {
        Ok(r) => r,
        Err(e) => return read_failed(&args.log, &e),
    };
    report_bad_lines(&args.log, &r.lines);
    let text = match args.format {
        ReplayFormat::Text => text(&args.log, &r),
        ReplayFormat::Json => serde_json::to_string_pretty(&r).expect("serializes") + "\n",
    };
    let printed = print_out(&text);
    let unroutable_limit = args
        .max_unroutable
        .or(args.fail_if_cost_increases.map(|_| 0));
    let unroutable = r.not_routed_steps();
    if let Some(limit) = unroutable_limit.filter(|&l| unroutable > l) {
        let kinds: Vec<String> = r
            .not_routed
            .iter()
            .map(|n| format!("{} {}", n.steps, n.kind))
            .collect();
        eprintln!(
            "error: {unroutable} step{} the candidate cannot route ({}), more than the {limit} allowed by --max-unroutable",
            plural(unroutable),
            kinds.join(", "),
        );
        return ExitCode::from(super::PROBLEM);
    }
    if let Some(limit) = args.fail_if_cost_increases {
        if r.cost_increase_exceeds(limit) {
            eprintln!(
                "error: the candidate costs {} on the {} routed step{}, {} as logged: {} ({}), more than the {limit}% allowed",
                format_usd(r.candidate_picos),
                r.routed,
                plural(r.routed),
                format_usd(r.logged_picos),
                format_usd_change(r.candidate_picos, r.logged_picos),
                r.change_percent
                    .map_or("from nothing".into(), |p| format!("{p:+.2}%")),
            );
            return ExitCode::from(super::PROBLEM);
        }
    }
    printed
}

fn text(log: &Path, r: &Replay) -> String {
    let mut s = lines_summary(log, &r.lines) + "\n";
    let candidate: Vec<String> = r
        .candidate
        .iter()
        .map(|p| format!("{} (version {})", visible(&p.name), p.version))
        .collect();
    s += &format!("candidate: {}\n\n", candidate.join(", "));
    let not_routed = r.not_routed_steps();
    s += &format!(
        "replayed {} step{}: {} routed, {} not routed; {} changed tier, {} changed model\n",
        r.steps,
        plural(r.steps),
        r.routed,
        not_routed,
        r.changed_tier,
        r.changed_model
    );

    // Tiers in the candidate's order, then any others the log names.
    let mut tiers: Vec<&str> = Vec::new();
    for t in r.candidate.iter().flat_map(|p| &p.tiers) {
        if !tiers.contains(&t.as_str()) {
            tiers.push(t);
        }
    }
    let mut others: Vec<&str> = r
        .matrix
        .iter()
        .flat_map(|m| [m.from.as_str(), m.to.as_str()])
        .filter(|t| !tiers.contains(t))
        .collect();
    others.sort_unstable();
    others.dedup();
    tiers.extend(others);
    let froms: Vec<&str> = tiers
        .iter()
        .copied()
        .filter(|t| r.matrix.iter().any(|m| m.from == *t))
        .collect();
    if !froms.is_empty() {
        s += "\ntiers (rows: as logged, columns: under the candidate)\n";
        let mut headers = vec!["logged \\ candidate"];
        headers.extend(&tiers);
        let rows: Vec<Vec<String>> = froms
            .iter()
            .map(|from| {
                let mut row = vec![from.to_string()];
                row.extend(tiers.iter().map(|to| {
                    r.matrix
                        .iter()
                        .find(|m| m.from == *from && m.to == *to)
                        .map_or(0, |m| m.steps)
                        .to_string()
                }));
                row
            })
            .collect();
        s += &table(&headers, &rows, b"l", "  ");
    }

    let pct = r
        .change_percent
        .map(|p| format!(" ({p:+.1}%)"))
        .unwrap_or_default();
    s += &format!(
        "\ncost of the {} routed step{} at their logged token counts\n  as logged        {}\n  under candidate  {}\n  change           {}{pct}\n",
        r.routed,
        plural(r.routed),
        format_usd(r.logged_picos),
        format_usd(r.candidate_picos),
        format_usd_change(r.candidate_picos, r.logged_picos),
    );

    let moved: Vec<Vec<String>> = r
        .rules
        .iter()
        .filter(|t| t.change() != 0)
        .map(|t| {
            vec![
                t.policy.clone(),
                t.rule.clone(),
                t.logged.to_string(),
                t.candidate.to_string(),
                format!("{:+}", t.change()),
            ]
        })
        .collect();
    if moved.is_empty() {
        s += "\nno rule gains or loses traffic\n";
    } else {
        s += "\nrules that gain or lose traffic\n";
        s += &table(
            &["policy", "rule", "logged", "candidate", "change"],
            &moved,
            b"ll",
            "  ",
        );
    }

    if !r.not_routed.is_empty() {
        let logged: u128 = r.not_routed.iter().map(|n| n.logged_picos).sum();
        s += &format!(
            "\nnot routed under the candidate: {not_routed} step{} ({} as logged; not in the totals above)\n",
            plural(not_routed),
            format_usd(logged)
        );
        let rows: Vec<Vec<String>> = r
            .not_routed
            .iter()
            .map(|n| {
                let mut lines: Vec<String> = n.lines.iter().map(u64::to_string).collect();
                if n.steps as usize > n.lines.len() {
                    lines.push("…".into());
                }
                vec![
                    n.kind.clone(),
                    n.detail.clone(),
                    n.steps.to_string(),
                    format_usd(n.logged_picos),
                    lines.join(", "),
                ]
            })
            .collect();
        s += &table(
            &["kind", "detail", "steps", "logged", "lines"],
            &rows,
            b"llrrl",
            "  ",
        );
    }
    s
}
