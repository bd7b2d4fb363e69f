//! A bitmask sudoku solver for `b² × b²` boards (4×4, 9×9): counts solutions up to a limit and
//! measures its search effort, which rates a puzzle's difficulty; and a generator of puzzles
//! with exactly one solution, reduced to (near-)minimal clue sets.

use crate::rng::SplitMix;

/// A board geometry: box side `b`, side `n = b²`, digits `1..=n`, 0 for blank.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Box side.
    pub b: usize,
}

impl Geometry {
    /// The classic 9×9.
    pub const NINE: Geometry = Geometry { b: 3 };
    /// 4×4 (for fast tests).
    pub const FOUR: Geometry = Geometry { b: 2 };

    /// The board of side `side`, if ouro builds it (9 or 4).
    pub fn of_side(side: usize) -> Option<Geometry> {
        [Geometry::NINE, Geometry::FOUR].into_iter().find(|g| g.n() == side)
    }

    /// Side length.
    pub fn n(self) -> usize {
        self.b * self.b
    }

    /// Cells.
    pub fn cells(self) -> usize {
        self.n() * self.n()
    }

    fn box_of(self, cell: usize) -> usize {
        let (r, c) = (cell / self.n(), cell % self.n());
        (r / self.b) * self.b + c / self.b
    }
}

/// Search statistics of one solve.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Effort {
    /// Branch points with more than one candidate (guesses).
    pub guesses: u64,
    /// Cells filled, forced or guessed, including those undone.
    pub placements: u64,
}

struct Solver {
    g: Geometry,
    rows: Vec<u32>,
    cols: Vec<u32>,
    boxes: Vec<u32>,
    full: u32,
    effort: Effort,
    /// Try candidates in a random order (generation) or ascending (rating).
    shuffle: Option<SplitMix>,
}

impl Solver {
    /// Sets up the masks; `None` if the clues already conflict.
    fn new(g: Geometry, grid: &[u8], shuffle: Option<SplitMix>) -> Option<Solver> {
        let n = g.n();
        let mut s = Solver {
            g,
            rows: vec![0; n],
            cols: vec![0; n],
            boxes: vec![0; n],
            full: (1u32 << n) - 1,
            effort: Effort::default(),
            shuffle,
        };
        for (cell, &v) in grid.iter().enumerate() {
            if v != 0 {
                let bit = 1u32 << (v - 1);
                let (r, c, bx) = (cell / n, cell % n, g.box_of(cell));
                if (s.rows[r] | s.cols[c] | s.boxes[bx]) & bit != 0 {
                    return None;
                }
                s.rows[r] |= bit;
                s.cols[c] |= bit;
                s.boxes[bx] |= bit;
            }
        }
        Some(s)
    }

    fn candidates(&self, cell: usize) -> u32 {
        let n = self.g.n();
        self.full & !(self.rows[cell / n] | self.cols[cell % n] | self.boxes[self.g.box_of(cell)])
    }

    fn set(&mut self, cell: usize, bit: u32) {
        let n = self.g.n();
        self.rows[cell / n] ^= bit;
        self.cols[cell % n] ^= bit;
        self.boxes[self.g.box_of(cell)] ^= bit;
    }

    /// Counts solutions up to `limit`, leaving the first found in `first`.
    fn count(&mut self, grid: &mut [u8], limit: u64, first: &mut Option<Vec<u8>>) -> u64 {
        // The blank with the fewest candidates (MRV).
        let mut best: Option<(usize, u32)> = None;
        for (cell, &v) in grid.iter().enumerate() {
            if v == 0 {
                let c = self.candidates(cell);
                let k = c.count_ones();
                if k == 0 {
                    return 0;
                }
                if best.is_none_or(|(_, bc)| k < bc.count_ones()) {
                    best = Some((cell, c));
                    if k == 1 {
                        break;
                    }
                }
            }
        }
        let Some((cell, mut cands)) = best else {
            if first.is_none() {
                *first = Some(grid.to_vec());
            }
            return 1;
        };
        if cands.count_ones() > 1 {
            self.effort.guesses += 1;
        }
        let mut order = Vec::with_capacity(cands.count_ones() as usize);
        while cands != 0 {
            let bit = cands & cands.wrapping_neg();
            order.push(bit);
            cands ^= bit;
        }
        if let Some(rng) = &mut self.shuffle {
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i as u64 + 1) as usize);
            }
        }
        let mut found = 0;
        for bit in order {
            self.set(cell, bit);
            grid[cell] = bit.trailing_zeros() as u8 + 1;
            self.effort.placements += 1;
            found += self.count(grid, limit - found, first);
            grid[cell] = 0;
            self.set(cell, bit);
            if found >= limit {
                break;
            }
        }
        found
    }
}

/// The number of solutions of `puzzle` (0 blank), counting at most `limit`, the first solution
/// found, and the effort of the search.
pub fn count_solutions(g: Geometry, puzzle: &[u8], limit: u64) -> (u64, Option<Vec<u8>>, Effort) {
    let Some(mut solver) = Solver::new(g, puzzle, None) else { return (0, None, Effort::default()) };
    let mut grid = puzzle.to_vec();
    let mut first = None;
    let n = solver.count(&mut grid, limit, &mut first);
    (n, first, solver.effort)
}

/// Whether `solution` is a complete, valid board that agrees with `puzzle`'s clues.
pub fn is_solution(g: Geometry, puzzle: &[u8], solution: &[u8]) -> bool {
    solution.len() == g.cells()
        && solution.iter().all(|&v| v >= 1 && v as usize <= g.n())
        && puzzle.iter().zip(solution).all(|(&p, &s)| p == 0 || p == s)
        && Solver::new(g, solution, None).is_some()
}

/// A uniformly shuffled complete board.
pub fn random_solution(g: Geometry, rng: &mut SplitMix) -> Vec<u8> {
    let seed = rng.next_u64();
    let mut solver =
        Solver::new(g, &vec![0; g.cells()], Some(SplitMix::new(seed))).expect("an empty board is consistent");
    let mut grid = vec![0; g.cells()];
    let mut first = None;
    solver.count(&mut grid, 1, &mut first);
    first.expect("every empty board has a solution")
}

/// A puzzle with a unique solution: clues removed from `solution` in random order while the
/// solution stays unique, so the result is minimal for that order.
pub fn minimal_puzzle(g: Geometry, solution: &[u8], rng: &mut SplitMix) -> Vec<u8> {
    let mut puzzle = solution.to_vec();
    let mut cells: Vec<usize> = (0..g.cells()).collect();
    for i in (1..cells.len()).rev() {
        cells.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for cell in cells {
        let kept = puzzle[cell];
        puzzle[cell] = 0;
        if count_solutions(g, &puzzle, 2).0 != 1 {
            puzzle[cell] = kept;
        }
    }
    puzzle
}

/// The difficulty rating: guesses of the deterministic solver proving the solution unique.
pub fn rating(g: Geometry, puzzle: &[u8]) -> u64 {
    count_solutions(g, puzzle, 2).2.guesses
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Vec<u8> {
        s.bytes().map(|b| if b == b'.' { 0 } else { b - b'0' }).collect()
    }

    #[test]
    fn solves_a_known_puzzle_uniquely() {
        // A well-known hard puzzle ("AI Escargot"), with its unique solution.
        let p = parse("1....7.9..3..2...8..96..5....53..9...1..8...26....4...3......1..4......7..7...3..");
        let (n, sol, effort) = count_solutions(Geometry::NINE, &p, 2);
        assert_eq!(n, 1);
        assert!(is_solution(Geometry::NINE, &p, sol.as_ref().unwrap()));
        assert_eq!(
            sol.unwrap(),
            parse("162857493534129678789643521475312986913586742628794135356478219241935867897261354")
        );
        assert!(effort.guesses > 10, "a hard puzzle needs guesses: {effort:?}");
    }

    #[test]
    fn detects_multiple_and_no_solutions() {
        assert_eq!(count_solutions(Geometry::NINE, &[0; 81], 2).0, 2);
        let mut conflict = vec![0; 81];
        conflict[0] = 5;
        conflict[1] = 5;
        assert_eq!(count_solutions(Geometry::NINE, &conflict, 2).0, 0);
    }

    #[test]
    fn generated_puzzles_have_one_solution() {
        let mut rng = SplitMix::new(1);
        for g in [Geometry::FOUR, Geometry::NINE] {
            for _ in 0..5 {
                let s = random_solution(g, &mut rng);
                assert!(is_solution(g, &vec![0; g.cells()], &s));
                let p = minimal_puzzle(g, &s, &mut rng);
                let (n, sol, _) = count_solutions(g, &p, 2);
                assert_eq!((n, sol.as_deref()), (1, Some(s.as_slice())));
                // Minimal: every remaining clue is needed.
                for cell in (0..g.cells()).filter(|&c| p[c] != 0) {
                    let mut q = p.clone();
                    q[cell] = 0;
                    assert_eq!(count_solutions(g, &q, 2).0, 2, "clue {cell} is redundant");
                }
            }
        }
    }
}
