//! `tufield simulate --epsilon-nash N1,N2,…`: the copy counts parsed and the study's
//! summary lines (the study itself is [`crate::run::epsilon_nash`]).

use crate::report::format::num;
use crate::run::epsilon_nash::EpsilonStudy;
use crate::{AppError, AppResult};

/// Parses the counts: at least two distinct numbers, each ≥ 2.
pub fn parse(source: &str, s: &str) -> AppResult<Vec<usize>> {
    let bad = |m: String| AppError::invalid(source, "--epsilon-nash", m);
    let mut v = s
        .split(',')
        .map(|t| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| bad(format!("{t:?} is not a number of copies")))
        })
        .collect::<AppResult<Vec<usize>>>()?;
    if v.iter()
        .any(|&n| !(2..=tufield_solvers::particles::MAX_COPIES).contains(&n))
    {
        return Err(bad(format!(
            "copy counts must be in 2..={} (one copy deviates, at least one other plays the policy)",
            tufield_solvers::particles::MAX_COPIES
        )));
    }
    v.sort_unstable();
    v.dedup();
    if v.len() < 2 {
        return Err(bad(
            "give at least two different copy counts, e.g. 10,100,1000".into(),
        ));
    }
    Ok(v)
}

/// Summary lines.
pub fn summary(st: &EpsilonStudy, names: &[String]) -> String {
    let mut s = format!(
        "  ε-Nash (one copy best-responds; exact, Monte Carlo ± 2 s.e. over {} paths): N {:?}\n",
        st.replicates, st.copies
    );
    for (k, name) in names.iter().enumerate() {
        let row: Vec<String> = (0..st.copies.len())
            .map(|i| {
                format!(
                    "{:.3e} ({:.2e} ± {:.1e})",
                    st.epsilon[[i, k]],
                    st.monte_carlo[[i, k]],
                    2.0 * st.standard_error[[i, k]]
                )
            })
            .collect();
        let rate = if st.rate[k].is_finite() {
            format!("ε − ε(∞) slope {}", num(st.rate[k], 3))
        } else {
            "ε − ε(∞) not positive at every N: no rate".into()
        };
        s.push_str(&format!(
            "    {:<10} ε {}; ε(∞) {:.2e}; {rate}\n",
            name,
            row.join(" "),
            st.limit[k]
        ));
    }
    s
}
