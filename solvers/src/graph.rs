//! Undirected graphs of populations (Section 7): who tracks whom.

use crate::error::{Param, Result, SolverError};
use ndarray::Array2;

/// An undirected graph on populations `0..p`. Population k tracks
/// ρ_k = average of the means of its neighbours (eq. (26)-(30)); a graph with a single
/// population is the single-population game, where ρ = m̄ (the population tracks itself).
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    neighbours: Vec<Vec<usize>>,
}

/// The shapes a scenario can name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphKind {
    /// 0–1–2–…–(p−1).
    Chain,
    /// Chain plus the edge (p−1)–0 (needs p ≥ 3).
    Ring,
    /// Every pair connected.
    Complete,
    /// Population 0 connected to all others.
    Star,
    /// Explicit 0-based edges.
    Edges(Vec<(usize, usize)>),
}

impl Graph {
    /// The single-population Param::Graph: population 0 tracks its own mean.
    pub fn single() -> Self {
        Graph {
            neighbours: vec![vec![0]],
        }
    }

    /// The graph on no populations (a model that only describes coefficients).
    pub(crate) fn empty() -> Self {
        Graph {
            neighbours: Vec::new(),
        }
    }

    /// Builds a graph on `p` populations. `p = 1` gives [`Graph::single`] whatever the kind.
    /// Errors (`Param::GraphKind` / `GraphEdges`) for self-loops, out-of-range endpoints,
    /// a ring on fewer than 3 populations, and any population without a neighbour.
    pub fn new(p: usize, kind: &GraphKind) -> Result<Self> {
        if p == 0 {
            return Err(SolverError::invalid(
                Param::Populations,
                "at least one [[population]] is required",
            ));
        }
        if p == 1 {
            return Ok(Self::single());
        }
        let mut edges: Vec<(usize, usize)> = Vec::new();
        match kind {
            GraphKind::Chain => edges.extend((1..p).map(|k| (k - 1, k))),
            GraphKind::Ring => {
                if p < 3 {
                    return Err(SolverError::invalid(
                        Param::GraphKind,
                        format!("\"ring\" needs at least 3 populations, got {p}; use \"chain\""),
                    ));
                }
                edges.extend((1..p).map(|k| (k - 1, k)));
                edges.push((p - 1, 0));
            }
            GraphKind::Complete => {
                for i in 0..p {
                    for j in i + 1..p {
                        edges.push((i, j));
                    }
                }
            }
            GraphKind::Star => edges.extend((1..p).map(|k| (0, k))),
            GraphKind::Edges(list) => {
                for &(i, j) in list {
                    if i >= p || j >= p {
                        return Err(SolverError::invalid(
                            Param::GraphEdges,
                            format!(
                                "edge [{}, {}] names a population outside 1..={p}",
                                i + 1,
                                j + 1
                            ),
                        ));
                    }
                    if i == j {
                        return Err(SolverError::invalid(
                            Param::GraphEdges,
                            format!("edge [{}, {}] is a self-loop", i + 1, j + 1),
                        ));
                    }
                    edges.push((i, j));
                }
            }
        }
        let mut neighbours = vec![Vec::new(); p];
        for (i, j) in edges {
            if !neighbours[i].contains(&j) {
                neighbours[i].push(j);
                neighbours[j].push(i);
            }
        }
        for (k, nb) in neighbours.iter_mut().enumerate() {
            if nb.is_empty() {
                return Err(SolverError::invalid(
                    Param::Graph,
                    format!("population {} has no neighbour", k + 1),
                ));
            }
            nb.sort_unstable();
        }
        Ok(Graph { neighbours })
    }

    /// Number of populations.
    pub fn len(&self) -> usize {
        self.neighbours.len()
    }

    /// Always false: a graph has at least one population.
    pub fn is_empty(&self) -> bool {
        self.neighbours.is_empty()
    }

    /// Sorted neighbours of population `k` (for the single population: `[0]`).
    pub fn neighbours(&self, k: usize) -> &[usize] {
        &self.neighbours[k]
    }

    /// Row-stochastic averaging matrix W (p×p): ρ_k = Σ_j W_kj m̄_j.
    pub fn averaging_matrix(&self) -> Array2<f64> {
        let p = self.len();
        let mut w = Array2::zeros((p, p));
        for (k, nb) in self.neighbours.iter().enumerate() {
            let share = 1.0 / nb.len() as f64;
            for &j in nb {
                w[[k, j]] = share;
            }
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_of_three_averages_neighbours() {
        let g = Graph::new(3, &GraphKind::Chain).unwrap();
        let w = g.averaging_matrix();
        assert_eq!(w.row(0).to_vec(), vec![0.0, 1.0, 0.0]);
        assert_eq!(w.row(1).to_vec(), vec![0.5, 0.0, 0.5]);
        assert_eq!(w.row(2).to_vec(), vec![0.0, 1.0, 0.0]);
    }

    #[test]
    fn isolated_population_is_refused() {
        let err = Graph::new(3, &GraphKind::Edges(vec![(0, 1)])).unwrap_err();
        assert!(
            err.to_string().contains("population 3 has no neighbour"),
            "{err}"
        );
    }

    #[test]
    fn ring_needs_three() {
        assert!(Graph::new(2, &GraphKind::Ring).is_err());
        let g = Graph::new(4, &GraphKind::Ring).unwrap();
        assert_eq!(g.neighbours(0), &[1, 3]);
    }

    #[test]
    fn single_population_tracks_itself() {
        let g = Graph::new(1, &GraphKind::Chain).unwrap();
        assert_eq!(g.averaging_matrix()[[0, 0]], 1.0);
    }
}
