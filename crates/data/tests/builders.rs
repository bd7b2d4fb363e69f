//! The builders against the official Python builders' own output, byte for byte, and the
//! generators' guarantees.

use std::path::{Path, PathBuf};

use ouro_data::build::arc::{ArcOptions, build};
use sha2::{Digest, Sha256};

fn shared_arc_prefix() -> PathBuf {
    // The ARC-AGI-1 JSON is committed with the tests (its README gives the licence).
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/arc-agi/arc-agi")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ouro-builders-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `sha256sum` lines of every file under `dir`, sorted by path, as fixtures store them.
fn tree_hashes(dir: &Path) -> String {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                let digest = Sha256::digest(std::fs::read(&path).unwrap());
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                out.push(format!("{hex}  ./{rel}"));
            }
        }
    }
    let mut lines = Vec::new();
    walk(dir, dir, &mut lines);
    lines.sort_by(|a, b| a[66..].cmp(&b[66..]));
    lines.join("\n") + "\n"
}

/// ARC-1 (training, evaluation, concept; test set evaluation; seed 42) with 4 augmentations,
/// compared with fixtures/arc1_aug4.sha256: the hashes of what the official
/// `dataset/build_arc_dataset.py --num-aug 4` wrote (see fixtures/make_official.sh).
#[test]
fn arc1_matches_the_official_builder_byte_for_byte() {
    let out = scratch("arc1");
    let options = ArcOptions { num_aug: 4, ..ArcOptions::arc1(shared_arc_prefix()) };
    let built = build(&options, &out, false).unwrap();
    assert_eq!(built.examples, [4 * 3988 + 3988, 5 * 419]);
    // The official builder's output holds two test inputs that are also training inputs.
    assert_eq!(built.test_seen, 2);
    assert_eq!(tree_hashes(&out), include_str!("fixtures/arc1_aug4.sha256"));
    std::fs::remove_dir_all(out).unwrap();
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The official `build_sudoku_dataset.py` (seeded with 7, `--subsample-size 20 --num-aug 5`) on
/// fixtures/sudoku_{train,test}.csv.
#[test]
fn sudoku_matches_the_official_builder_byte_for_byte() {
    use ouro_data::build::sudoku::{SudokuOptions, build, read_csv};
    use ouro_data::build::sudoku_solver::Geometry;
    let train = read_csv(&fixture("sudoku_train.csv"), Geometry::NINE, true).unwrap();
    let test = read_csv(&fixture("sudoku_test.csv"), Geometry::NINE, true).unwrap();
    let files = build(
        Geometry::NINE,
        train,
        test,
        &SudokuOptions {
            subsample_size: Some(20),
            num_aug: 5,
            seed: 7,
            min_difficulty: None,
            official_dtypes: true,
            nested: false,
        },
    );
    let out = scratch("sudoku");
    ouro_data::writer::write_dataset(&out, &files, false).unwrap();
    assert_eq!(tree_hashes(&out), include_str!("fixtures/sudoku_sub20_aug5.sha256"));
    std::fs::remove_dir_all(out).unwrap();
}

/// The official `build_maze_dataset.py` (seeded with 3, `--subsample-size 6 --aug`) on
/// fixtures/maze_{train,test}.csv.
#[test]
fn maze_matches_the_official_builder_byte_for_byte() {
    use ouro_data::build::maze::{MazeOptions, build, is_shortest_path, read_csv};
    let train = read_csv(&fixture("maze_train.csv")).unwrap();
    let test = read_csv(&fixture("maze_test.csv")).unwrap();
    for row in train.iter().chain(&test) {
        assert!(is_shortest_path(&row.question, &row.answer, row.side));
    }
    let files = build(&train, &test, &MazeOptions { subsample_size: Some(6), augment: true, seed: 3 });
    let out = scratch("maze");
    ouro_data::writer::write_dataset(&out, &files, false).unwrap();
    assert_eq!(tree_hashes(&out), include_str!("fixtures/maze_sub6_aug.sha256"));
    std::fs::remove_dir_all(out).unwrap();
}
