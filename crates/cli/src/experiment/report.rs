//! `ouro report GROUP`: the group's experiment guide, before the runs (the plan) and after.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use ouro_lab::guide::{Estimate, Plan, PlannedConfig};
use ouro_lab::{Catalog, OutputRoot};
use ouro_train::TrainConfig;

use super::{CostArgs, Layout, MemoryPlan, Placement, Planned, costed};
use crate::BackendArgs;

/// Write an experiment group's guide: before any run, the plan (hypothesis, variables, configs
/// with their recipes and estimated time, the commands that run them, success criteria); after,
/// the same guide with the measured results, the criteria checked, plots (SVG and PNG: curves,
/// final accuracy against the varied variable, throughput, wall time), time used and where the
/// results are. Markdown (`report.md`) and one self-contained HTML page (`report.html`).
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ouro report tiny                          # before, during or after the runs\n  ouro report exp01 --output-root gs://bucket/runs --out /tmp/exp01\n  ouro report exp01 --device-tflops 275     # estimates on another chip"
)]
pub struct ReportArgs {
    /// The experiment group: the catalog's configs with this `experiment_group`, and the runs
    /// in `<output-root>/<group>/`.
    group: String,
    /// Overrides the group's runs were given (as to `ouro batch --set`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    #[command(flatten)]
    layout: Layout,
    /// Where the guide goes (default: `<output-root>/<group>/report/`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    cost: CostArgs,
}

/// Runs `ouro report`.
pub fn report(backend: &BackendArgs, args: &ReportArgs) -> Result<()> {
    ouro_train::config::check_path_name("the experiment group", &args.group)?;
    let root = args.layout.root()?;
    // A duplicate's results are those of the run it names, possibly in another group.
    let wanted = ["/run.json", "/metrics.jsonl", "/config.yaml", "/notes.jsonl"];
    root.pull("", |r| wanted.iter().any(|f| r.ends_with(f)))?;
    let plan = plan(backend, args, &root)?;
    if plan.configs.is_empty() && !root.local().join(&args.group).is_dir() {
        anyhow::bail!(
            "no experiment group {:?}: no config of the catalog {} has `experiment_group: {}` and {} holds no such \
             group (`ouro batch --list` lists the catalog, `ouro status` the runs)",
            args.group,
            args.layout.catalog.display(),
            args.group,
            root.url("")
        );
    }
    let files = ouro_lab::report::write_report(&root, &plan, args.out.as_deref())?;
    if args.out.is_none() {
        root.push(&format!("{}/report", args.group))?;
        if root.is_remote() {
            println!("copied to {}", root.url(&format!("{}/report", args.group)));
        }
    }
    for s in &files.skipped {
        eprintln!("warning: left out of the report: {s}");
    }
    println!("{}", files.markdown.display());
    println!("{}", files.html.display());
    for p in &files.plots {
        println!("{}", p.display());
    }
    Ok(())
}

/// The group's configs from the catalog, each placed, costed and with its command; and the
/// commands that run the group.
fn plan(backend: &BackendArgs, args: &ReportArgs, root: &OutputRoot) -> Result<Plan> {
    let catalog = Catalog::new(&args.layout.catalog);
    let mut members: Vec<Planned> = Vec::new();
    // Every config's recipe hash, to name the experiments that share one.
    let mut hashes: Vec<(String, String)> = Vec::new();
    for name in catalog.names()? {
        let file = catalog.find(&name)?;
        let config = match TrainConfig::load(&file, &args.overrides) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("warning: {} left out: {}", file.display(), crate::error_chain(&e));
                continue;
            }
        };
        let group = config.study.experiment_group.clone().unwrap_or_else(|| "ungrouped".into());
        let p = args
            .layout
            .place(root, file, config, &args.overrides, &Placement::default())
            .with_context(|| format!("experiment {name}"))?;
        hashes.push((format!("{group}/{}", p.name), p.hash.clone()));
        if group == args.group {
            members.push(p);
        }
    }
    // A sweep's group holds no catalog config: its record names the runs.
    let sweep = ouro_lab::sweep::Record::read(&root.local().join(&args.group))?;
    let mut commands_of: Vec<String> = Vec::new();
    for run in sweep.iter().flat_map(|s| &s.runs) {
        let file = PathBuf::from(&run.config_file);
        let config =
            TrainConfig::load(&file, &run.overrides).with_context(|| format!("the sweep's run {}", run.name))?;
        let placement = Placement { group: Some(args.group.clone()), name: Some(run.name.clone()) };
        let p = args.layout.place(root, file, config, &run.overrides, &placement)?;
        let mut words = vec!["ouro".to_string(), "run".into(), run.config_file.clone()];
        words.extend(run.overrides.iter().cloned());
        words.extend(args.layout.flags());
        words.extend(placement.flags());
        commands_of.push(shell_words::join(words));
        hashes.push((format!("{}/{}", args.group, p.name), p.hash.clone()));
        members.push(p);
    }
    let mut memory = MemoryPlan::new(&args.cost, backend);
    let catalog_members = members.len() - commands_of.len();
    let configs = members
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let me = format!("{}/{}", args.group, p.name);
            let mut same_recipe: Vec<String> =
                hashes.iter().filter(|(n, h)| *h == p.hash && *n != me).map(|(n, _)| n.clone()).collect();
            same_recipe.extend(runs_with_hash(root, &p.hash, &me, &same_recipe));
            PlannedConfig {
                name: p.name.clone(),
                config: p.config.clone(),
                hash: p.hash.clone(),
                command: match i.checked_sub(catalog_members) {
                    Some(j) => commands_of[j].clone(),
                    None => run_command(&p.name, &args.overrides, &args.layout),
                },
                estimate: match costed(p, &args.cost, &mut memory) {
                    Ok(c) => Some(Estimate { seconds: c.seconds, basis: c.basis }),
                    Err(why) => {
                        eprintln!("warning: {}: no time estimate: {why}", p.name);
                        None
                    }
                },
                same_recipe,
            }
        })
        .collect();
    let names: Vec<String> = members.iter().map(|p| p.name.clone()).collect();
    let batch = match &sweep {
        Some(s) => s.command.clone(),
        None => batch_command(args, &names),
    };
    // Validation runs a config of the catalog: a sweep's first run is its config and overrides.
    let validate = match sweep.as_ref().and_then(|s| s.runs.first()) {
        Some(run) => Some((run.config_file.clone(), run.overrides.clone())),
        None => names.first().map(|name| (name.clone(), args.overrides.clone())),
    };
    Ok(Plan {
        group: args.group.clone(),
        configs,
        swept: sweep.as_ref().map(ouro_lab::sweep::Record::swept_keys).unwrap_or_default(),
        commands: commands(args, &batch, names.first(), validate, root),
        generated_by: shell_words::join(
            ["ouro", "report", args.group.as_str()].into_iter().map(String::from).chain(args.layout.flags()),
        ),
    })
}

/// Runs of recipe `hash` in the output root other than `me` and those already `named`.
fn runs_with_hash(root: &OutputRoot, hash: &str, me: &str, named: &[String]) -> Vec<String> {
    let Ok(scan) = ouro_lab::scan(root.local()) else { return Vec::new() };
    scan.runs
        .iter()
        .filter(|(_, r)| r.hash == hash && r.same_as.is_none())
        .filter_map(|(dir, _)| dir.strip_prefix(root.local()).ok().map(|d| d.display().to_string()))
        .filter(|n| n != me && !named.contains(n))
        .collect()
}

/// `ouro run NAME` with the group's overrides and layout, quoted for a shell.
fn run_command(name: &str, overrides: &[String], layout: &Layout) -> String {
    let mut words = vec!["ouro".to_string(), "run".into(), name.to_string()];
    words.extend(overrides.iter().cloned());
    words.extend(layout.flags());
    shell_words::join(words)
}

/// `ouro batch` of the group's configs with its overrides and layout.
fn batch_command(args: &ReportArgs, names: &[String]) -> String {
    let mut batch = vec!["ouro".to_string(), "batch".into()];
    batch.extend(names.iter().cloned());
    for o in &args.overrides {
        batch.extend(["--set".to_string(), o.clone()]);
    }
    batch.extend(args.layout.flags());
    shell_words::join(batch)
}

/// The commands that run the group (`batch`), watch it and report it.
fn commands(
    args: &ReportArgs,
    batch: &str,
    first: Option<&String>,
    validate: Option<(String, Vec<String>)>,
    root: &OutputRoot,
) -> Vec<(String, String)> {
    let group = &args.group;
    // `status` reads the output root alone.
    let root_flag = if args.layout.output_root == Layout::OUTPUT_ROOT {
        String::new()
    } else {
        format!(" --output-root {}", shell_words::quote(&args.layout.output_root))
    };
    let layout_flags = shell_words::join(args.layout.flags());
    let report_flags = if layout_flags.is_empty() { String::new() } else { format!(" {layout_flags}") };
    let log = root.local().join(group).join(first.map_or("NAME", String::as_str)).join("ouro.log");
    let mut out = vec![
        ("what would run, and its estimated time".to_string(), format!("{batch} --dry-run")),
        ("every config, one after the other (complete runs skipped, stopped ones resumed)".into(), batch.to_string()),
        (
            "the same in the background, surviving a closed terminal (its summary in the log)".into(),
            format!("nohup {batch} > {group}-batch.log 2>&1 &"),
        ),
        (
            format!("or in tmux: detach with Ctrl-B then D, reattach with `tmux attach -t {group}`"),
            format!("tmux new -s {group} {}", shell_words::quote(batch)),
        ),
        (
            "follow a run's log (a progress line every 30 s, each evaluation)".into(),
            format!("tail -f {}", log.display()),
        ),
        (
            "where every run stands: step, loss, accuracy, steps/s, time left".into(),
            format!("ouro status {group}{root_flag}"),
        ),
        (
            "stop the batch: each run saves a checkpoint and the same command continues".into(),
            "kill -TERM <batch pid>".into(),
        ),
    ];
    if let Some((config, overrides)) = validate {
        let mut words = vec!["ouro".to_string(), "validate".into(), config];
        words.extend(overrides);
        words.extend(args.layout.flags());
        out.push((
            "check a config first: a short run, scaled down, into the same stores".into(),
            shell_words::join(words),
        ));
    }
    out.push(("this guide again, with the results so far".into(), format!("ouro report {group}{report_flags}")));
    out
}
