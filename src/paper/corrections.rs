//! The corrections tufield makes to the paper, each with its reason (the report of
//! `tufield paper` lists them; docs/design.md §7 and docs/paper.md give the details).

/// One correction: where in the paper, what the paper has, what tufield uses, why.
#[derive(Debug, Clone, Copy)]
pub struct Correction {
    /// Where in the paper.
    pub place: &'static str,
    /// What the paper prints.
    pub paper: &'static str,
    /// What tufield uses.
    pub tufield: &'static str,
    /// Why.
    pub reason: &'static str,
}

/// Every correction, in the paper's order.
pub const CORRECTIONS: [Correction; 7] = [
    Correction {
        place: "(15), (35), (39): the χ equation",
        paper: "χ' + … + ½σ²φ = 0, χ(T) = ½Sρ(T)",
        tufield: "χ' = −½hᵀAh − ½ρᵀQρ − ½σ² tr φ, χ(T) = ½ρ(T)ᵀSρ(T)",
        reason: "the Laplacian of ½xᵀφx is tr φ, a number, not the matrix φ; the terminal \
                 value of v = ½xᵀφx + hᵀx + χ at the terminal cost ½(ρ − x)ᵀS(ρ − x) keeps the \
                 quadratic form in ρ",
    },
    Correction {
        place: "(17): well-posedness",
        paper: "A = −BR⁻¹Bᵀ + Γ⁻¹ with B = B_H (Section 8 simulates B_H)",
        tufield: "the augmented B of (2); n = 3 needs γ > 1.698 with R = I, Γ = γ²I",
        reason: "with B_H alone BBᵀ is singular (eigenvalues 0,0,0,0,2,2,8), so A is not \
                 negative definite for any γ and the HJI is ill-posed",
    },
    Correction {
        place: "Theorem 4, the \"Furthermore\" clause",
        paper: "m̄_k' = (−BR⁻¹Bᵀ + Γ⁻¹)φ(ρ_k − m̄_k)",
        tufield: "m̄_k' = Aφ(m̄_k − ρ_k) (the sign that follows from h = −φρ_k)",
        reason: "with h = −φρ_k the feedback is Aφ(x − ρ_k); Aφ has negative eigenvalues, so \
                 the printed sign would drive the means apart instead of to consensus \
                 (Remark 4)",
    },
    Correction {
        place: "Table 4 step 7 and Theorem 4: the second-order policy",
        paper: "Theorem 4: h_k driven by ρ_k (the neighbours' average of the means)",
        tufield: "--policy second-order feeds back towards μ_k of (43), population k's own \
                  mean; `tufield lq` computes Theorem 4's consensus heuristic h = −φρ_k",
        reason: "Table 4 computes m̄ from (43) and feeds it to each copy; this is Section 7's \
                 feedback with h = −φμ_k, not Theorem 4. Both end at the same consensus \
                 (ρ_k = μ_k once the means agree); only the transient differs",
    },
    Correction {
        place: "(43): the normalised Laplacian",
        paper: "L has \"the reciprocal of the degree\" off the diagonal",
        tufield: "L = I − D⁻¹Adj (−1/deg off the diagonal)",
        reason: "with +1/deg, L does not annihilate constant vectors and (43) is not a \
                 consensus dynamics",
    },
    Correction {
        place: "Table 5: std(m₀)",
        paper: "180",
        tufield: "5.5, as the text of Section 8.2 says",
        reason: "the populations' means are 100 apart; with standard deviation 180 they \
                 would overlap completely and the figures' separated bundles could not arise",
    },
    Correction {
        place: "(42): the noise",
        paper: "x(t + dt) = x(t) + (Bu − w)dt + σ·rand[−1, 1] (standard deviation σ/√3 per \
                step, whatever dt)",
        tufield: "Euler–Maruyama σ√dt ξ, ξ standard normal (standard deviation 0.316σ per \
                  step at dt = 0.1, ≈ 0.55× the paper's)",
        reason: "(42) is stated to be (4) discretised; a Brownian increment over dt has \
                 standard deviation σ√dt, so the noise does not change when dt is refined",
    },
];
