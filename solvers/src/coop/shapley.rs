//! The Shapley value by its exact formula (Shapley 1953):
//!
//!   φ_i(v) = Σ_{S ⊆ N∖{i}} |S|! (n − |S| − 1)! / n! · (v(S ∪ {i}) − v(S)),
//!
//! each player's marginal contribution averaged over the n! orders in which the grand
//! coalition can form; O(n 2ⁿ) operations.

use super::TuGame;

impl TuGame {
    /// The Shapley value φ(v) ∈ Rⁿ. It is efficient (Σ φ_i = v(N)), symmetric, gives a
    /// null player 0 and is linear in v; for a convex game it lies in the core.
    pub fn shapley_value(&self) -> Vec<f64> {
        let n = self.players();
        // weight[s] = s! (n − s − 1)! / n!, computed as 1 / (n · C(n−1, s)).
        let weight: Vec<f64> = (0..n)
            .map(|s| {
                let mut binom = 1.0;
                for k in 0..s {
                    binom = binom * (n - 1 - k) as f64 / (k + 1) as f64;
                }
                1.0 / (n as f64 * binom)
            })
            .collect();
        (0..n)
            .map(|i| {
                let bit = 1usize << i;
                (0..1usize << n)
                    .filter(|s| s & bit == 0)
                    .map(|s| {
                        weight[s.count_ones() as usize] * (self.value(s | bit) - self.value(s))
                    })
                    .sum()
            })
            .collect()
    }
}
