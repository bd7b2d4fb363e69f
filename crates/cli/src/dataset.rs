//! `ouro dataset`: generate puzzles, build datasets in the TRM format, inspect them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use ouro_data::build::arc::ArcOptions;
use ouro_data::build::held_out::Seen;
use ouro_data::build::maze::{self, MazeOptions};
use ouro_data::build::sudoku::{self, SudokuOptions};
use ouro_data::build::sudoku_solver::Geometry;
use ouro_data::build::{build_size, test_seed};
use ouro_data::writer::{DatasetFiles, SplitArrays, write_dataset};
use ouro_data::{PuzzleDataset, total_steps};

/// Arguments of `ouro dataset`.
#[derive(Args, Debug)]
pub struct DatasetArgs {
    #[command(subcommand)]
    command: DatasetCommand,
}

#[derive(Subcommand, Debug)]
enum DatasetCommand {
    /// Generate puzzles into a CSV of the sudoku-extreme / maze format.
    Generate(GenerateArgs),
    /// Build a dataset directory in the TRM format.
    #[command(subcommand)]
    Build(BuildCommand),
    /// Show a dataset's metadata, sizes and step counts.
    Info(InfoArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Sudoku,
    Maze,
}

#[derive(Args, Debug)]
struct GenerateArgs {
    /// What to generate.
    kind: Kind,
    /// How many puzzles.
    #[arg(long)]
    count: usize,
    /// Output CSV.
    #[arg(long)]
    out: PathBuf,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sudoku: side of the board (9, or 4 for fast tests).
    #[arg(long, default_value_t = 9)]
    size: usize,
    /// Sudoku: keep the hardest of this many minimal puzzles for each one.
    #[arg(long, default_value_t = 4)]
    candidates: usize,
    /// Maze: side of the grid.
    #[arg(long, default_value_t = 30)]
    side: usize,
    /// Maze: the shortest path must be longer than this.
    #[arg(long, default_value_t = 110)]
    min_path: usize,
    /// Maze: extra wall openings (loops).
    #[arg(long, default_value_t = 40)]
    loops: usize,
}

#[derive(Subcommand, Debug)]
enum BuildCommand {
    /// Sudoku from sudoku-extreme CSVs, or generated puzzles.
    Sudoku(SudokuBuildArgs),
    /// Maze from maze CSVs, or generated mazes.
    Maze(MazeBuildArgs),
    /// ARC from the ARC-AGI JSON files.
    Arc(ArcBuildArgs),
}

#[derive(Args, Debug)]
struct OutputArgs {
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing output directory.
    #[arg(long)]
    pub force: bool,
}

/// Where a build's training and test puzzles come from: CSVs, or generated.
#[derive(Args, Debug)]
struct PuzzleSource {
    /// Training CSV (the `source,question,answer,rating` format of the official datasets).
    #[arg(long, conflicts_with = "generate")]
    pub train_csv: Option<PathBuf>,
    /// Test CSV.
    #[arg(long, conflicts_with = "test_generate")]
    pub test_csv: Option<PathBuf>,
    /// Generate this many training puzzles instead of reading a CSV.
    #[arg(long)]
    pub generate: Option<usize>,
    /// Generate this many test puzzles instead of reading a CSV.
    #[arg(long)]
    pub test_generate: Option<usize>,
}

/// A split's rows: read from a CSV, or generated.
enum Rows<R> {
    /// Read.
    Read(Vec<R>),
    /// This many to generate.
    Generate(usize),
}

impl PuzzleSource {
    /// The training rows (generated from `seed`) and the test rows, read now or to be generated
    /// once the training split is known (from another random stream, held out from it).
    fn rows<R>(
        &self,
        seed: u64,
        read: impl Fn(&Path) -> Result<Vec<R>>,
        generate: impl Fn(usize, u64) -> Vec<R>,
    ) -> Result<(Vec<R>, Rows<R>)> {
        let train = match (&self.train_csv, self.generate) {
            (Some(path), _) => read(path)?,
            (None, Some(n)) => generate(n, seed),
            (None, None) => bail!("give --train-csv or --generate"),
        };
        let test = match (&self.test_csv, self.test_generate) {
            (Some(path), _) => Rows::Read(read(path)?),
            (None, Some(n)) => Rows::Generate(n),
            (None, None) => bail!("give --test-csv or --test-generate"),
        };
        Ok((train, test))
    }
}

impl<R> Rows<R> {
    /// How many rows there are or will be.
    fn len(&self) -> usize {
        match self {
            Rows::Read(rows) => rows.len(),
            Rows::Generate(n) => *n,
        }
    }

    /// The rows: those read, or `generate(n)`'s.
    fn get(self, generate: impl FnOnce(usize) -> ouro_data::Result<Vec<R>>) -> Result<Vec<R>> {
        Ok(match self {
            Rows::Read(rows) => rows,
            Rows::Generate(n) => generate(n)?,
        })
    }
}

/// Writes a build's splits to `out` and says so, with the `overlap`: how many test examples are
/// also training examples (none where the test set was generated).
fn write_built(
    out: &OutputArgs,
    train: SplitArrays,
    test: SplitArrays,
    overlap: usize,
    started: Instant,
) -> Result<()> {
    let examples = (train.puzzle_identifiers.len(), test.puzzle_identifiers.len());
    write_dataset(&out.out, &DatasetFiles::train_and_test(train, test), out.force)?;
    eprintln!(
        "built {} (train {}, test {}; {overlap} test examples are also training examples) in {:.1} s",
        out.out.display(),
        examples.0,
        examples.1,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[derive(Args, Debug)]
struct SudokuBuildArgs {
    #[command(flatten)]
    pub source: PuzzleSource,
    /// Side of the board (9, or 4).
    #[arg(long, default_value_t = 9)]
    pub size: usize,
    /// Keep the hardest of this many minimal puzzles per generated one.
    #[arg(long, default_value_t = 4)]
    pub candidates: usize,
    /// Keep this many training puzzles.
    #[arg(long)]
    pub subsample_size: Option<usize>,
    /// Keep puzzles rated at least this.
    #[arg(long)]
    pub min_difficulty: Option<i64>,
    /// Shuffled copies of each training puzzle.
    #[arg(long, default_value_t = 0)]
    pub num_aug: usize,
    /// Seed of the augmentation (numpy's legacy generator) and of generation.
    #[arg(long, default_value_t = 0)]
    pub seed: u32,
    /// Check that every CSV answer is the unique solution of its question.
    #[arg(long)]
    pub check: bool,
    /// Store augmented training tokens as int64 like the official builder (8× larger files).
    #[arg(long)]
    pub official_dtypes: bool,
    /// Seeded nested variants: with one --seed, a smaller --subsample-size keeps the first
    /// puzzles of a larger one and a smaller --num-aug the first shuffles of a larger one
    /// (each puzzle gets its own augmentation stream; the official builder's single stream
    /// does not nest).
    #[arg(long)]
    pub nested: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
struct MazeBuildArgs {
    #[command(flatten)]
    source: PuzzleSource,
    /// Keep this many training mazes.
    #[arg(long)]
    subsample_size: Option<usize>,
    /// Add the 8 dihedral transforms of each training maze.
    #[arg(long)]
    aug: bool,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u32,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args, Debug)]
struct ArcBuildArgs {
    /// Prefix of `<prefix>_<subset>_challenges.json`, e.g. `crates/data/tests/fixtures/arc-agi/arc-agi` (ARC-AGI-1, in the repository).
    #[arg(long)]
    input_prefix: PathBuf,
    /// Subsets, in order.
    #[arg(long, num_args = 1.., default_values_t = ["training".to_string(), "evaluation".to_string(), "concept".to_string()])]
    subsets: Vec<String>,
    /// The subset whose test pairs form the test split.
    #[arg(long, default_value = "evaluation")]
    test_set_name: String,
    /// Augmentations per task.
    #[arg(long, default_value_t = 1000)]
    num_aug: usize,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    seed: u32,
    /// First puzzle identifier.
    #[arg(long, default_value_t = 1)]
    puzzle_identifiers_start: usize,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args, Debug)]
struct InfoArgs {
    /// Dataset directories or gs:// / s3:// URLs (merged as the trainer merges `data_paths`).
    paths: Vec<String>,
    /// Epochs, for the step count.
    #[arg(long, default_value_t = 50_000)]
    epochs: u64,
    /// Global batch size, for the step count.
    #[arg(long, default_value_t = 768)]
    global_batch_size: usize,
}

fn geometry(size: usize) -> Result<Geometry> {
    Geometry::of_side(size).ok_or_else(|| anyhow::anyhow!("--size must be 9 or 4, got {size}"))
}

pub fn run(args: &DatasetArgs) -> Result<()> {
    match &args.command {
        DatasetCommand::Generate(g) => generate(g),
        DatasetCommand::Build(BuildCommand::Sudoku(b)) => build_sudoku(b),
        DatasetCommand::Build(BuildCommand::Maze(b)) => build_maze(b),
        DatasetCommand::Build(BuildCommand::Arc(b)) => build_arc(b),
        DatasetCommand::Info(i) => info(i),
    }
}

fn generate(g: &GenerateArgs) -> Result<()> {
    let started = Instant::now();
    match g.kind {
        Kind::Sudoku => {
            let geometry = geometry(g.size)?;
            let (_, bytes) = build_size(geometry.cells(), g.count, 0.0, 0);
            check_build_fits(&format!("{} puzzles", g.count), 0.0, bytes)?;
            let rows = sudoku::generate(geometry, g.count, g.candidates, g.seed);
            sudoku::write_csv(&g.out, &rows)?;
        }
        Kind::Maze => {
            if g.side < 7 {
                bail!("--side must be at least 7");
            }
            let (_, bytes) = build_size(g.side.saturating_mul(g.side), g.count, 0.0, 0);
            check_build_fits(&format!("{} puzzles", g.count), 0.0, bytes)?;
            let rows = maze::generate(g.count, g.side, g.min_path, g.loops, g.seed);
            maze::write_csv(&g.out, &rows)?;
        }
    }
    eprintln!("wrote {} puzzles to {} in {:.1} s", g.count, g.out.display(), started.elapsed().as_secs_f64());
    Ok(())
}

fn build_sudoku(b: &SudokuBuildArgs) -> Result<()> {
    let started = Instant::now();
    let g = geometry(b.size)?;
    let fits = |train: usize, test: usize| {
        let train = b.subsample_size.map_or(train, |k| k.min(train));
        let (examples, bytes) = build_size(g.cells(), train, 1.0 + b.num_aug as f64, test);
        check_build_fits(&format!("{train} training puzzles with --num-aug {}", b.num_aug), examples, bytes)
    };
    // Before generating, from the counts asked for; a CSV's, once read.
    if let (Some(train), Some(test)) = (b.source.generate, b.source.test_generate) {
        fits(train, test)?;
    }
    let seed = b.seed as u64;
    let (train, test) = b.source.rows(
        seed,
        |path| Ok(sudoku::read_csv(path, g, b.check)?),
        |n, seed| sudoku::generate(g, n, b.candidates, seed),
    )?;
    let options = SudokuOptions {
        subsample_size: b.subsample_size,
        min_difficulty: b.min_difficulty,
        num_aug: b.num_aug,
        seed: b.seed,
        official_dtypes: b.official_dtypes,
        nested: b.nested,
    };
    fits(train.len(), test.len())?;
    let train = sudoku::train_split(g, train, &options);
    let seen = Seen::of(&train, g.cells());
    let test = test.get(|n| sudoku::generate_held_out(g, n, b.candidates, test_seed(seed), &seen))?;
    let test = sudoku::test_split(g, test, &options);
    let overlap = seen.overlap(&test);
    write_built(&b.output, train, test, overlap, started)
}

/// Refuses a build the format cannot index or this machine's available memory cannot hold.
fn check_build_fits(what: &str, examples: f64, bytes: f64) -> Result<()> {
    Ok(ouro_data::build::check_fits(what, examples, bytes, ouro_nn::footprint::host_memory_available())?)
}

fn build_maze(b: &MazeBuildArgs) -> Result<()> {
    let started = Instant::now();
    // 30x30 mazes; with --aug each becomes its 8 dihedral images.
    let fits = |train: usize, test: usize| {
        let train = b.subsample_size.map_or(train, |k| k.min(train));
        let (examples, bytes) = build_size(900, train, if b.aug { 8.0 } else { 1.0 }, test);
        check_build_fits(&format!("{train} training mazes"), examples, bytes)
    };
    if let (Some(train), Some(test)) = (b.source.generate, b.source.test_generate) {
        fits(train, test)?;
    }
    let seed = b.seed as u64;
    let kind = (30, 110, 40);
    let (train, test) = b.source.rows(
        seed,
        |path| Ok(maze::read_csv(path)?),
        |n, seed| maze::generate(n, kind.0, kind.1, kind.2, seed),
    )?;
    fits(train.len(), test.len())?;
    let train =
        maze::train_split(&train, &MazeOptions { subsample_size: b.subsample_size, augment: b.aug, seed: b.seed });
    // The CSV's side, or the generated one.
    let side_squared = train.metadata.as_ref().map_or(kind.0 * kind.0, |m| m.seq_len);
    let seen = Seen::of(&train, side_squared);
    let test = maze::test_split(&test.get(|n| maze::generate_held_out(n, kind, test_seed(seed), &seen))?);
    let overlap = seen.overlap(&test);
    write_built(&b.output, train, test, overlap, started)
}

fn build_arc(b: &ArcBuildArgs) -> Result<()> {
    let started = Instant::now();
    let options = ArcOptions {
        input_prefix: b.input_prefix.clone(),
        subsets: b.subsets.clone(),
        test_set_name: b.test_set_name.clone(),
        test_set_name2: "your_test_set".into(),
        seed: b.seed,
        num_aug: b.num_aug,
        puzzle_identifiers_start: b.puzzle_identifiers_start,
    };
    let built = ouro_data::build::arc::build(&options, &b.output.out, b.output.force)?;
    eprintln!(
        "built {} (train {} examples, test {}; {} test examples are also training examples) in {:.1} s",
        b.output.out.display(),
        built.examples[0],
        built.examples[1],
        built.test_seen,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn info(i: &InfoArgs) -> Result<()> {
    if i.paths.is_empty() {
        bail!("give at least one dataset directory");
    }
    for split in ["train", "test"] {
        let ds =
            PuzzleDataset::open_locations(&i.paths, split).with_context(|| format!("opening the {split} split"))?;
        let m = &ds.metadata;
        println!(
            "{split}: {} examples, {} puzzles, {} groups, seq_len {}, vocab {}, {} puzzle identifiers",
            ds.num_examples(),
            m.total_puzzles,
            m.total_groups,
            m.seq_len,
            m.vocab_size,
            m.num_puzzle_identifiers
        );
        if split == "train" {
            println!(
                "  total_steps({} epochs, global batch {}) = {}",
                i.epochs,
                i.global_batch_size,
                total_steps(m, i.epochs, i.global_batch_size)
            );
        }
    }
    Ok(())
}
