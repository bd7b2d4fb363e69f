//! `ouro report GROUP`: the group's experiment guide, before any run (the plan) and after (the
//! measured results, criteria checked, plots), as Markdown and as a self-contained HTML page
//! (plots inline as SVG), rendered from the templates in `templates/`; each plot also as SVG
//! and PNG files beside them.

use std::path::{Path, PathBuf};

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Serde, Value};
use minijinja::{AutoEscape, Environment};

use ouro_train::TrainConfig;

use crate::error::{Error, Result};
use crate::group::{Group, GroupRun, load_group};
use crate::guide::{Plan, Plot, guide};
use crate::plots::plots;
use crate::root::OutputRoot;

/// The guide's templates, built into the binary.
const MARKDOWN: &str = include_str!("../templates/guide.md.j2");
const HTML: &str = include_str!("../templates/guide.html.j2");

/// The plots' size in pixels.
const PLOT_SIZE: (u32, u32) = (900, 520);

/// The files a report wrote.
#[derive(Clone, Debug)]
pub struct ReportFiles {
    /// The guide in Markdown.
    pub markdown: PathBuf,
    /// The guide as one HTML page.
    pub html: PathBuf,
    /// The plots (SVG and PNG of each).
    pub plots: Vec<PathBuf>,
    /// Runs left out (a record could not be read), each naming the file.
    pub skipped: Vec<String>,
}

/// Writes the guide of `plan` with what its group's runs under `root` measured, into `out`
/// (default `<root>/<group>/report/`).
pub fn write_report(root: &OutputRoot, plan: &Plan, out: Option<&Path>) -> Result<ReportFiles> {
    let group = load_group(root.local(), &plan.group)?;
    let out = out.map_or_else(|| root.local().join(&plan.group).join("report"), Path::to_path_buf);
    std::fs::create_dir_all(&out).map_err(|e| Error::io(format!("creating {}", out.display()), e))?;
    let (drawn, files) = draw_plots(&out, plan, &group)?;
    let guide = guide(plan, &group, root, drawn);
    let env = environment()?;
    let markdown = out.join("report.md");
    let html = out.join("report.html");
    for (template, path) in [("guide.md", &markdown), ("guide.html", &html)] {
        let text = env
            .get_template(template)
            .and_then(|t| t.render(Value::from(Serde(&guide))))
            .map_err(|e| Error::Render(format!("{template}: {e:#}")))?;
        std::fs::write(path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    }
    Ok(ReportFiles { markdown, html, plots: files, skipped: group.skipped })
}

/// The templates, HTML escaped in the page and nothing escaped in the Markdown.
fn environment() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    let syntax = SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).keep_trailing_newline(true).build();
    env.set_syntax(syntax.map_err(|e| Error::Render(format!("the templates' syntax: {e}")))?);
    env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
    for (name, source) in [("guide.md", MARKDOWN), ("guide.html", HTML)] {
        env.add_template(name, source).map_err(|e| Error::Render(format!("{name}: {e:#}")))?;
    }
    Ok(env)
}

/// Draws the plots of the runs that measured something into `out`: what the guide shows, and
/// the files written.
fn draw_plots(out: &Path, plan: &Plan, group: &Group) -> Result<(Vec<Plot>, Vec<PathBuf>)> {
    let measured: Vec<&GroupRun> = group.runs.iter().filter(|r| !r.metrics.train.is_empty()).collect();
    if measured.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let study = measured.iter().find_map(|r| r.config.as_ref()?.study.design.clone()).unwrap_or_default();
    let configs: Vec<&TrainConfig> = measured.iter().filter_map(|r| r.config.as_ref()).collect();
    let variables = crate::guide::variables(&study, &plan.swept, &configs);
    let (mut shown, mut files) = (Vec::new(), Vec::new());
    for drawing in plots(&plan.group, &measured, &variables) {
        let render = |e: ouro_plot::Error| Error::Render(format!("{}: {e}", drawing.name));
        let svg = drawing.figure.to_svg(PLOT_SIZE.0, PLOT_SIZE.1).map_err(render)?;
        let (svg_file, png_file) = (format!("{}.svg", drawing.name), format!("{}.png", drawing.name));
        let svg_path = out.join(&svg_file);
        std::fs::write(&svg_path, &svg).map_err(|e| Error::io(format!("writing {}", svg_path.display()), e))?;
        let png_path = out.join(&png_file);
        drawing.figure.write_png(&png_path, PLOT_SIZE.0, PLOT_SIZE.1).map_err(render)?;
        files.extend([svg_path, png_path]);
        shown.push(Plot { name: drawing.name.to_string(), title: drawing.title, svg_file, png_file, svg });
    }
    Ok((shown, files))
}
