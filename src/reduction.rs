//! From the scenario's `[game]` + `[cost]` to the reduced matrix A on the grid axes.
//!
//! This is the only place where the application calls the game module of the solvers
//! (coalition order of Table 1, B of eq. (2), A_P = −P B R⁻¹ Bᵀ Pᵀ + (Γ⁻¹)_JJ and
//! condition (17), docs/design.md §1-2).

use tufield_solvers::game::{self, ControlWeight, DisturbanceWeight, Game, ReducedGame};
use tufield_solvers::hamiltonian::ControlLaw;
use tufield_solvers::Result;

/// The game part of a scenario: n players, the projected coalitions J, R and Γ.
#[derive(Debug, Clone, PartialEq)]
pub struct GameSpec {
    /// Number of players n.
    pub players: usize,
    /// Selected coalitions as written in the scenario (1-based players), one per grid axis
    /// (for the modal reduction: all q coalitions in Table 1 order, see [`all_coalitions`]).
    pub coalitions: Vec<Vec<i64>>,
    /// R (`cost.r`, default I).
    pub r: ControlWeight,
    /// Γ (`cost.gamma` or `cost.gamma_matrix`).
    pub gamma: DisturbanceWeight,
}

impl GameSpec {
    /// Number of coalitions q = 2ⁿ − 1.
    pub fn num_coalitions(&self) -> Result<usize> {
        game::num_coalitions(self.players)
    }

    /// Number of controls n + q − 1 (the size of R).
    pub fn num_controls(&self) -> Result<usize> {
        Ok(self.players + self.num_coalitions()? - 1)
    }
}

/// All q = 2ⁿ − 1 coalitions in Table 1 order, as 1-based player lists (the axes of the
/// full game used by the modal decomposition). Field `game.players` unless 1 ≤ n ≤ 6.
pub fn all_coalitions(players: usize) -> Result<Vec<Vec<i64>>> {
    Ok(game::coalitions(players)?
        .iter()
        .map(|c| c.iter().map(|&p| p as i64 + 1).collect())
        .collect())
}

/// Builds A_P on the selected coalitions and checks condition (17):
/// [`tufield_solvers::SolverError::IllPosed`] carries the smallest admissible γ when
/// Γ = γ²I; invalid R, Γ or coalitions name their scenario field.
pub fn reduce(spec: &GameSpec) -> Result<ReducedGame> {
    let (_, selection) = selection(spec)?;
    game::projected_game(spec.players, &selection, &spec.r, &spec.gamma)
}

/// The game and the indices (Table 1 order) of the selected coalitions.
fn selection(spec: &GameSpec) -> Result<(Game, Vec<usize>)> {
    let g = Game::new(spec.players)?;
    let selection = spec
        .coalitions
        .iter()
        .map(|c| g.index_of(c))
        .collect::<Result<Vec<usize>>>()?;
    Ok((g, selection))
}

/// The control channels of the projected game ([`tufield_solvers::hamiltonian`]) with
/// the scenario's bounds on the allocations (`bounds.allocation`) and the disturbance
/// (`bounds.disturbance`); `None` = unbounded.
pub fn control_law(
    spec: &GameSpec,
    allocation: Option<f64>,
    disturbance: Option<f64>,
) -> Result<ControlLaw> {
    let (g, selection) = selection(spec)?;
    g.control_law(&selection, &spec.r, &spec.gamma, allocation, disturbance)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tufield_solvers::SolverError;

    #[test]
    fn three_players_coalitions_1_and_12() {
        // B R⁻¹ Bᵀ restricted to {1},{1,2} with R = I: rows of B are
        // {1}: e1 − s1, {1,2}: e1 + e2 − s4, so M = [[2, 1], [1, 3]]; A = γ⁻² I − M.
        let spec = GameSpec {
            players: 3,
            coalitions: vec![vec![1], vec![2, 1]],
            r: ControlWeight::Scalar(1.0),
            gamma: DisturbanceWeight::Gamma(2.0),
        };
        let red = reduce(&spec).unwrap();
        assert_eq!(
            red.axis_labels,
            vec!["{1}".to_string(), "{1,2}".to_string()]
        );
        let expect = ndarray::array![[0.25 - 2.0, -1.0], [-1.0, 0.25 - 3.0]];
        let err = (&red.a - &expect)
            .iter()
            .fold(0.0f64, |m, x| m.max(x.abs()));
        assert!(err < 1e-12, "{}", red.a);
    }

    #[test]
    fn full_three_player_game_with_gamma_one_is_ill_posed() {
        let spec = GameSpec {
            players: 3,
            coalitions: vec![vec![1], vec![2], vec![3]],
            r: ControlWeight::Scalar(1.0),
            gamma: DisturbanceWeight::Gamma(0.5),
        };
        match reduce(&spec) {
            Err(SolverError::IllPosed {
                min_gamma: Some(g), ..
            }) => assert!(g > 0.5),
            other => panic!("expected IllPosed, got {other:?}"),
        }
    }
}
