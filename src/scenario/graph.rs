//! The `[graph]` table: the interaction graph of the populations.

use super::raw::RawGraph;
use crate::error::{AppError, AppResult};
use tufield_solvers::graph::{Graph, GraphKind};

pub(super) fn graph(src: &str, raw: Option<RawGraph>, p: usize) -> AppResult<(Graph, String)> {
    let Some(raw) = raw else {
        if p > 1 {
            return Err(AppError::invalid(
                src,
                "graph",
                format!(
                    "missing; with {p} populations a [graph] is required: kind = \"chain\" | \"ring\" | \"complete\" | \"star\" | \"edges\""
                ),
            ));
        }
        return Ok((
            Graph::single(),
            "single population (tracks its own mean)".to_string(),
        ));
    };
    let name = raw.kind.clone().unwrap_or_else(|| "edges".to_string());
    let kind = match (raw.kind.as_deref(), raw.edges) {
        (Some("edges") | None, Some(edges)) => {
            let mut list = Vec::with_capacity(edges.len());
            for (i, e) in edges.iter().enumerate() {
                let key = format!("graph.edges[{}]", i + 1);
                if e.len() != 2 {
                    return Err(AppError::invalid(src, key, format!("an edge is a pair [i, j], got {} numbers", e.len())));
                }
                let mut ends = [0usize; 2];
                for (slot, &x) in ends.iter_mut().zip(e) {
                    if x < 1 || x > p as i64 {
                        return Err(AppError::invalid(
                            src,
                            key,
                            format!("population {x} does not exist; populations are numbered 1..={p}"),
                        ));
                    }
                    *slot = x as usize - 1;
                }
                list.push((ends[0], ends[1]));
            }
            GraphKind::Edges(list)
        }
        (Some("edges") | None, None) => {
            return Err(AppError::invalid(
                src,
                "graph.edges",
                "missing; kind = \"edges\" needs edges = [[i, j], …] (1-based population numbers)",
            ))
        }
        (Some(other), Some(_)) => {
            return Err(AppError::invalid(
                src,
                "graph.edges",
                format!("edges are only read with kind = \"edges\", but kind = {other:?}; remove edges or set kind = \"edges\""),
            ))
        }
        (Some("chain"), None) => GraphKind::Chain,
        (Some("ring"), None) => GraphKind::Ring,
        (Some("complete"), None) => GraphKind::Complete,
        (Some("star"), None) => GraphKind::Star,
        (Some(other), None) => {
            return Err(AppError::invalid(
                src,
                "graph.kind",
                format!("unknown kind {other:?}; allowed: \"chain\", \"ring\", \"complete\", \"star\", \"edges\""),
            ))
        }
    };
    let g = Graph::new(p, &kind).map_err(|e| AppError::from_solver(src, "graph", e))?;
    let name = if p == 1 {
        "single population (tracks its own mean)".to_string()
    } else {
        name
    };
    Ok((g, name))
}
