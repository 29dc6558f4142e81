//! The cooperative-game toolkit against hand-computed answers and the axioms.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tufield_solvers::coop::{TuGame, ValueKind};

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

/// The paper's Example 1 cost-saving game: v({i}) = 0, v({1,2}) = 60, v({1,3}) = 70,
/// v({2,3}) = 60, v(N) = 130 (masks: bit 0 = player 1).
fn example_1_savings() -> TuGame {
    TuGame::new(3, vec![0., 0., 0., 60., 0., 70., 60., 130.]).unwrap()
}

/// The minimum-spanning-tree costs c(S) of Example 1.
const EXAMPLE_1_COSTS: [f64; 8] = [0., 100., 90., 130., 80., 110., 110., 140.];

#[test]
fn example_1_shapley_value() {
    // By hand: player 1's marginal contributions 0, 60, 70, 70 with weights 1/3, 1/6, 1/6,
    // 1/3 give 45; player 2: 0, 60, 60, 60 → 40; player 3: 0, 70, 60, 70 → 45.
    let v = example_1_savings();
    assert!(close(&v.shapley_value(), &[45.0, 40.0, 45.0], 1e-12));
    // The cost game: cost shares c({i}) − φ_i(v) = (55, 50, 35).
    let c = TuGame::from_kind(3, EXAMPLE_1_COSTS.to_vec(), ValueKind::Cost).unwrap();
    let y = ValueKind::Cost.to_user(&c.shapley_value());
    assert!(close(&y, &[55.0, 50.0, 35.0], 1e-12), "{y:?}");
    assert!(v.is_in_core(&[45.0, 40.0, 45.0], 1e-9).unwrap());
}

#[test]
fn example_1_core_and_nucleolus() {
    let v = example_1_savings();
    assert!(v.imputation_set_nonempty());
    // Least core by hand: maximise t with x_i ≥ t, x_1 ≤ 70 − t, x_2 ≤ 60 − t,
    // x_3 ≤ 70 − t (the pairs' surpluses) and x(N) = 130: summing the upper bounds,
    // 200 − 3t ≥ 130, so t* = 70/3 and every upper bound is tight:
    // x = (140/3, 110/3, 140/3). The least core is that single point, hence the nucleolus.
    let core = v.core().unwrap();
    assert!(core.nonempty);
    assert!((core.least_core.epsilon - 70.0 / 3.0).abs() < 1e-9);
    let expect = [140.0 / 3.0, 110.0 / 3.0, 140.0 / 3.0];
    assert!(close(&core.least_core.point, &expect, 1e-9));
    let nu = v.nucleolus().unwrap().unwrap();
    assert!(close(&nu, &expect, 1e-9), "{nu:?}");
    // The cost game gives the cost shares c({i}) − x_i = (160/3, 160/3, 100/3).
    let c = TuGame::from_kind(3, EXAMPLE_1_COSTS.to_vec(), ValueKind::Cost).unwrap();
    let y = ValueKind::Cost.to_user(&c.nucleolus().unwrap().unwrap());
    assert!(
        close(&y, &[160.0 / 3.0, 160.0 / 3.0, 100.0 / 3.0], 1e-9),
        "{y:?}"
    );
    let core_c = c.core().unwrap();
    assert!(core_c.nonempty);
    assert!(c.is_in_core(&core_c.least_core.point, 1e-9).unwrap());
    // "Any redistribution that gives players 1 and 2 less than 60 $" is not in the core.
    assert!(v.is_imputation(&[30.0, 20.0, 80.0], 0.0).unwrap());
    assert!(!v.is_in_core(&[30.0, 20.0, 80.0], 0.0).unwrap());
}

#[test]
fn empty_core() {
    // The 3-player majority game: v(S) = 1 for |S| ≥ 2. Any x with x(N) = 1 leaves some
    // pair with x(S) ≤ 2/3 < 1; the least core is the equal split with ε* = −1/3.
    let v = TuGame::from_fn(3, |s| if s.count_ones() >= 2 { 1.0 } else { 0.0 }).unwrap();
    let core = v.core().unwrap();
    assert!(!core.nonempty);
    assert!((core.least_core.epsilon + 1.0 / 3.0).abs() < 1e-9);
    assert!(v.imputation_set_nonempty());
    // Symmetric: the nucleolus and the Shapley value are the equal split.
    let third = [1.0 / 3.0; 3];
    assert!(close(&v.nucleolus().unwrap().unwrap(), &third, 1e-9));
    assert!(close(&v.shapley_value(), &third, 1e-12));
    assert!(!v.is_in_core(&third, 1e-9).unwrap());
}

#[test]
fn empty_imputation_set_has_no_nucleolus() {
    let v = TuGame::new(2, vec![0.0, 2.0, 2.0, 3.0]).unwrap();
    assert!(!v.imputation_set_nonempty());
    assert_eq!(v.nucleolus().unwrap(), None);
    assert!(!v.core().unwrap().nonempty);
}

#[test]
fn two_players_split_the_surplus() {
    // Standard solution: x_i = v({i}) + (v(N) − v({1}) − v({2}))/2 for both concepts.
    let v = TuGame::new(2, vec![0.0, 1.0, 3.0, 10.0]).unwrap();
    let expect = [4.0, 6.0];
    assert!(close(&v.shapley_value(), &expect, 1e-12));
    assert!(close(&v.nucleolus().unwrap().unwrap(), &expect, 1e-9));
    let core = v.core().unwrap();
    assert!(core.nonempty);
    // Core: x_1 ∈ [1, 7]; the least core is its midpoint, ε* = 3.
    assert!((core.least_core.epsilon - 3.0).abs() < 1e-9);
    assert!(v.is_in_core(&[7.0, 3.0], 0.0).unwrap());
    assert!(!v.is_in_core(&[7.5, 2.5], 1e-9).unwrap());
}

#[test]
fn one_player() {
    let v = TuGame::new(1, vec![0.0, 2.5]).unwrap();
    assert_eq!(v.shapley_value(), vec![2.5]);
    assert_eq!(v.nucleolus().unwrap(), Some(vec![2.5]));
    assert!(v.core().unwrap().nonempty);
    assert!(v.is_in_core(&[2.5], 0.0).unwrap());
}

#[test]
fn symmetric_games_give_the_equal_split() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for n in 2..=10 {
        // v(S) depends on |S| only.
        let by_size: Vec<f64> = (0..=n)
            .map(|k| {
                if k == 0 {
                    0.0
                } else {
                    rng.random_range(-2.0..5.0) * k as f64
                }
            })
            .collect();
        let mut by_size = by_size;
        by_size[n] = by_size[1] * n as f64 + rng.random_range(0.0..3.0); // I(v) ≠ ∅
        let v = TuGame::from_fn(n, |s| by_size[s.count_ones() as usize]).unwrap();
        let equal = vec![by_size[n] / n as f64; n];
        assert!(close(&v.shapley_value(), &equal, 1e-9), "Shapley, n = {n}");
        let nu = v.nucleolus().unwrap().unwrap();
        assert!(close(&nu, &equal, 1e-7), "nucleolus, n = {n}: {nu:?}");
    }
}

/// A random game with a non-empty core: v(S) = x₀(S) − r(S) with r ≥ 0, v(N) = x₀(N).
fn random_balanced(rng: &mut ChaCha8Rng, n: usize) -> TuGame {
    let x0: Vec<f64> = (0..n).map(|_| rng.random_range(-5.0..10.0)).collect();
    let grand = (1 << n) - 1;
    TuGame::from_fn(n, |s| {
        let base = TuGame::coalition_sum(&x0, s);
        if s == grand {
            base
        } else {
            base - rng.random_range(0.0..4.0) * (rng.random_range(0.0..1.0) < 0.7) as u8 as f64
        }
    })
    .unwrap()
}

#[test]
fn nucleolus_is_in_a_nonempty_core() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for n in 2..=10 {
        let games = if n <= 6 { 5 } else { 2 };
        for _ in 0..games {
            let v = random_balanced(&mut rng, n);
            let core = v.core().unwrap();
            assert!(core.nonempty, "n = {n}");
            let tol = 100.0 * v.tolerance();
            assert!(v.is_in_core(&core.least_core.point, tol).unwrap());
            let nu = v.nucleolus().unwrap().unwrap();
            assert!(v.is_in_core(&nu, tol).unwrap(), "n = {n}: {nu:?}");
            // The nucleolus maximises the smallest surplus: it is in the least core.
            let (min, _) = v.min_surplus(&nu).unwrap();
            assert!((min - core.least_core.epsilon).abs() <= tol, "n = {n}");
        }
    }
}

/// Sorted surpluses of the proper coalitions.
fn sorted_surpluses(v: &TuGame, x: &[f64]) -> Vec<f64> {
    let mut e: Vec<f64> = (1..v.grand()).map(|s| v.surplus(x, s).unwrap()).collect();
    e.sort_by(f64::total_cmp);
    e
}

/// `a` ≥ `b` lexicographically up to `tol`.
fn lex_geq(a: &[f64], b: &[f64], tol: f64) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x > &(y + tol) {
            return true;
        }
        if x < &(y - tol) {
            return false;
        }
    }
    true
}

#[test]
fn nucleolus_is_lexicographically_best_against_sampled_imputations() {
    // Independent check of the definition: no sampled imputation has a lexicographically
    // larger sorted surplus vector, for random games with and without a core.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for n in 3..=4 {
        for _ in 0..10 {
            let v = TuGame::from_fn(n, |s| {
                if s.count_ones() == 1 {
                    rng.random_range(-1.0..1.0)
                } else {
                    rng.random_range(0.0..6.0) * s.count_ones() as f64
                }
            })
            .unwrap();
            if !v.imputation_set_nonempty() {
                continue;
            }
            let nu = v.nucleolus().unwrap().unwrap();
            assert!(v.is_imputation(&nu, 1e-8).unwrap());
            let best = sorted_surpluses(&v, &nu);
            let vertices = v.imputation_vertices();
            for _ in 0..4000 {
                let mut w: Vec<f64> = (0..n)
                    .map(|_| rng.random_range(0.0..1.0f64).powi(3))
                    .collect();
                let sum: f64 = w.iter().sum();
                w.iter_mut().for_each(|x| *x /= sum);
                let x: Vec<f64> = (0..n)
                    .map(|i| vertices.iter().zip(&w).map(|(f, l)| f[i] * l).sum())
                    .collect();
                let other = sorted_surpluses(&v, &x);
                assert!(lex_geq(&best, &other, 1e-7), "{nu:?} beaten by {x:?}");
            }
        }
    }
}

#[test]
fn convex_game_has_its_shapley_value_in_the_core() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for n in 2..=8 {
        let w: Vec<f64> = (0..n).map(|_| rng.random_range(0.1..3.0)).collect();
        // v(S) = w(S)², supermodular.
        let v = TuGame::from_fn(n, |s| TuGame::coalition_sum(&w, s).powi(2)).unwrap();
        assert!(v.is_convex(1e-12));
        let phi = v.shapley_value();
        assert!(v.is_in_core(&phi, 1e-9).unwrap(), "n = {n}");
        let nu = v.nucleolus().unwrap().unwrap();
        assert!(v.is_in_core(&nu, 1e-7).unwrap(), "n = {n}");
    }
}

#[test]
fn shapley_axioms_on_random_games() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for n in 1..=10 {
        let v = TuGame::from_fn(n, |_| rng.random_range(-10.0..10.0)).unwrap();
        let phi = v.shapley_value();
        // Efficiency.
        let total: f64 = phi.iter().sum();
        assert!((total - v.grand_value()).abs() < 1e-9, "n = {n}");
        // Symmetry: make players 1 and 2 interchangeable and compare their values.
        if n >= 2 {
            let sym = TuGame::from_fn(n, |s| {
                let swapped = (s & !3) | ((s & 1) << 1) | ((s & 2) >> 1);
                (v.value(s) + v.value(swapped)) / 2.0
            })
            .unwrap();
            let p = sym.shapley_value();
            assert!((p[0] - p[1]).abs() < 1e-9, "n = {n}");
        }
        // Null player: a player who adds nothing gets nothing.
        if n >= 2 {
            let last = 1usize << (n - 1);
            let null = TuGame::from_fn(n, |s| v.value(s & !last)).unwrap();
            assert!(null.shapley_value()[n - 1].abs() < 1e-9, "n = {n}");
        }
    }
}
