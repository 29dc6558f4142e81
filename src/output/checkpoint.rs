//! The checkpoint file of the fixed-point iteration (`tufield solve`; where and when it is
//! written: [`crate::checkpoint`]): the complete [`FixedPointState`] after an iteration,
//! written atomically (temporary file + rename, see
//! [`AtomicH5`]) so a killed run always leaves the previous or the new checkpoint, never a
//! torn one. `--resume` reloads it and continues bit for bit.
//!
//! Layout (HDF5; the names are [`schema`]'s checkpoint and history constants):
//!
//! ```text
//! /            attrs tufield_version, scenario (TOML after overrides), kind = "checkpoint",
//!                    memory (number of Anderson pairs), length (of x)
//! /x           (length)            the next iterate
//! /past_x      (memory, length)    Anderson memory (absent when memory = 0)
//! /past_f      (memory, length)
//! /history/residual, damping, wall_s (iterations) f64; accelerated (iterations) u8
//! /evaluated_x (length)            the point of the last completed evaluation (absent
//!                                  before the first)
//! ```
//!
//! Root attributes recording the run, so that `tufield solve --resume CHECKPOINT` alone
//! continues it: `scenario_file` (the scenario path as given), `base_dir` (absolute
//! directory that relative initial-law paths resolve against), `overrides` (the `--set`
//! overrides, a string list; absent when there are none) and `out` (absolute output path).
//! Checkpoints without them need the scenario on the command line.
//!
//! A run whose fixed point has stopped (converged, max_iterations, stagnated, diverged)
//! leaves a checkpoint from which [`tufield_solvers::fixed_point::FixedPoint::finished`]
//! reads that outcome: a resume evaluates the map once more at `/evaluated_x` (no new
//! iteration) and writes the same file as the uninterrupted run.

use super::schema::{
    self, ATTR_BASE_DIR, ATTR_KIND, ATTR_LENGTH, ATTR_MEMORY, ATTR_OUT, ATTR_OVERRIDES,
    ATTR_SCENARIO, ATTR_SCENARIO_FILE, CHECKPOINT_EVALUATED_X, CHECKPOINT_HISTORY,
    CHECKPOINT_PAST_F, CHECKPOINT_PAST_X, CHECKPOINT_X, HISTORY_ACCELERATED, HISTORY_DAMPING,
    HISTORY_RESIDUAL, HISTORY_WALL_S, KIND_CHECKPOINT,
};
use crate::h5::AtomicH5;
use crate::{AppError, AppResult};
use ndarray::{Array1, Array2};
use std::path::{Path, PathBuf};
use tufield_solvers::fixed_point::{FixedPointState, IterationRecord};

/// What a checkpoint records about its run besides the iteration state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunRecord {
    /// The scenario path as given on the command line (names the scenario in messages).
    pub scenario_file: String,
    /// Absolute directory relative initial-law paths resolve against.
    pub base_dir: PathBuf,
    /// The `--set` overrides, as given.
    pub overrides: Vec<String>,
    /// Absolute output path.
    pub out: PathBuf,
}

/// Writes `state` for the scenario text `scenario` to `path` atomically, with the record
/// of the run (if known) and the point of the last completed evaluation (if any).
pub fn save(
    path: &Path,
    scenario: &str,
    run: Option<&RunRecord>,
    state: &FixedPointState,
    evaluated: Option<&[f64]>,
) -> AppResult<()> {
    let w = AtomicH5::create(path, scenario)?;
    let root = w.root()?.clone();
    let len = state.x.len();
    let memory = state.past_x.len();
    w.str_attr(&root, ATTR_KIND, KIND_CHECKPOINT)?;
    w.scalar_attr(&root, ATTR_MEMORY, memory as u64)?;
    w.scalar_attr(&root, ATTR_LENGTH, len as u64)?;
    if let Some(r) = run {
        w.str_attr(&root, ATTR_SCENARIO_FILE, &r.scenario_file)?;
        w.str_attr(&root, ATTR_BASE_DIR, &r.base_dir.to_string_lossy())?;
        if !r.overrides.is_empty() {
            w.str_list_attr(&root, ATTR_OVERRIDES, &r.overrides)?;
        }
        w.str_attr(&root, ATTR_OUT, &r.out.to_string_lossy())?;
    }
    w.array(&root, CHECKPOINT_X, &Array1::from(state.x.clone()))?;
    if let Some(e) = evaluated {
        w.array(&root, CHECKPOINT_EVALUATED_X, &Array1::from(e.to_vec()))?;
    }
    if memory > 0 {
        for (name, rows) in [
            (CHECKPOINT_PAST_X, &state.past_x),
            (CHECKPOINT_PAST_F, &state.past_f),
        ] {
            let flat: Vec<f64> = rows.iter().flatten().copied().collect();
            let a = Array2::from_shape_vec((memory, len), flat).map_err(|_| AppError::Io {
                path: path.display().to_string(),
                message: format!("checkpoint: {name} rows do not all have length {len}"),
            })?;
            w.array(&root, name, &a)?;
        }
    }
    let hist = w.group(&format!("/{CHECKPOINT_HISTORY}"))?;
    let h = &state.history;
    w.array(
        &hist,
        HISTORY_RESIDUAL,
        &h.iter().map(|r| r.residual).collect::<Array1<f64>>(),
    )?;
    w.array(
        &hist,
        HISTORY_DAMPING,
        &h.iter().map(|r| r.damping).collect::<Array1<f64>>(),
    )?;
    w.array(
        &hist,
        HISTORY_WALL_S,
        &h.iter().map(|r| r.wall_s).collect::<Array1<f64>>(),
    )?;
    w.array(
        &hist,
        HISTORY_ACCELERATED,
        &h.iter()
            .map(|r| u8::from(r.accelerated))
            .collect::<Array1<u8>>(),
    )?;
    w.commit()?;
    Ok(())
}

/// A loaded checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Scenario text (after overrides) the run was started with.
    pub scenario: String,
    /// The iteration state.
    pub state: FixedPointState,
    /// The run it belongs to (`None` for checkpoints that do not record it).
    pub run: Option<RunRecord>,
    /// The point of the last completed evaluation.
    pub evaluated: Option<Vec<f64>>,
}

/// Reads a checkpoint written by [`save`]. Errors name the file and say what is wrong
/// (exit code 2: the `--resume` argument is invalid input).
pub fn load(path: &Path) -> AppResult<Checkpoint> {
    let bad = |what: String| AppError::Invalid {
        source_name: path.display().to_string(),
        key: "--resume".to_string(),
        message: what,
    };
    if !path.is_file() {
        return Err(bad("no such checkpoint file".to_string()));
    }
    let file =
        hdf5::File::open(path).map_err(|e| bad(format!("not a readable HDF5 checkpoint ({e})")))?;
    let read_str = |name: &str| -> AppResult<String> {
        let a = file.attr(name).map_err(|_| {
            bad(format!(
                "missing root attribute {name}; not a tufield checkpoint"
            ))
        })?;
        let s: hdf5::types::VarLenUnicode = a
            .read_scalar()
            .map_err(|e| bad(format!("attribute {name}: {e}")))?;
        Ok(s.as_str().to_string())
    };
    if read_str(ATTR_KIND)? != KIND_CHECKPOINT {
        return Err(bad(format!(
            "this file is not a checkpoint (attribute {ATTR_KIND} ≠ \"{KIND_CHECKPOINT}\"); pass \
             the <output>.checkpoint.h5 file written next to the output"
        )));
    }
    let scenario = read_str(ATTR_SCENARIO)?;
    let read_u64 = |name: &str| -> AppResult<u64> {
        file.attr(name)
            .and_then(|a| a.read_scalar::<u64>())
            .map_err(|e| bad(format!("attribute {name}: {e}")))
    };
    let memory = read_u64(ATTR_MEMORY)? as usize;
    let len = read_u64(ATTR_LENGTH)? as usize;
    let vec = |name: &str| -> AppResult<Vec<f64>> {
        file.dataset(name)
            .and_then(|d| d.read_raw::<f64>())
            .map_err(|e| bad(format!("dataset {name}: {e}")))
    };
    let x = vec(CHECKPOINT_X)?;
    if x.len() != len {
        return Err(bad(format!(
            "/{CHECKPOINT_X} has {} values, expected {len}",
            x.len()
        )));
    }
    let evaluated = if file.link_exists(CHECKPOINT_EVALUATED_X) {
        let e = vec(CHECKPOINT_EVALUATED_X)?;
        if e.len() != len {
            return Err(bad(format!(
                "/{CHECKPOINT_EVALUATED_X} has {} values, expected {len}",
                e.len()
            )));
        }
        Some(e)
    } else {
        None
    };
    let run = if file.attr(ATTR_SCENARIO_FILE).is_ok() {
        let overrides: Vec<String> = match file.attr(ATTR_OVERRIDES) {
            Ok(a) => a
                .read_raw::<hdf5::types::VarLenUnicode>()
                .map_err(|e| bad(format!("attribute {ATTR_OVERRIDES}: {e}")))?
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
            Err(_) => Vec::new(),
        };
        Some(RunRecord {
            scenario_file: read_str(ATTR_SCENARIO_FILE)?,
            base_dir: PathBuf::from(read_str(ATTR_BASE_DIR)?),
            overrides,
            out: PathBuf::from(read_str(ATTR_OUT)?),
        })
    } else {
        None
    };
    let rows = |name: &str| -> AppResult<Vec<Vec<f64>>> {
        if memory == 0 {
            return Ok(Vec::new());
        }
        let flat = vec(name)?;
        if flat.len() != memory * len {
            return Err(bad(format!("/{name} has the wrong size")));
        }
        Ok(flat.chunks(len).map(|c| c.to_vec()).collect())
    };
    let past_x = rows(CHECKPOINT_PAST_X)?;
    let past_f = rows(CHECKPOINT_PAST_F)?;
    let history = |name: &str| schema::member(CHECKPOINT_HISTORY, name);
    let residual = vec(&history(HISTORY_RESIDUAL))?;
    let damping = vec(&history(HISTORY_DAMPING))?;
    let wall_s = vec(&history(HISTORY_WALL_S))?;
    let accelerated_name = history(HISTORY_ACCELERATED);
    let accelerated = file
        .dataset(&accelerated_name)
        .and_then(|d| d.read_raw::<u8>())
        .map_err(|e| bad(format!("dataset {accelerated_name}: {e}")))?;
    let n = residual.len();
    if damping.len() != n || wall_s.len() != n || accelerated.len() != n {
        return Err(bad(format!(
            "the /{CHECKPOINT_HISTORY} datasets have different lengths"
        )));
    }
    let history = (0..n)
        .map(|i| IterationRecord {
            residual: residual[i],
            damping: damping[i],
            accelerated: accelerated[i] != 0,
            wall_s: wall_s[i],
        })
        .collect();
    Ok(Checkpoint {
        scenario,
        state: FixedPointState {
            x,
            past_x,
            past_f,
            history,
        },
        run,
        evaluated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trips_bit_for_bit() {
        let dir = tempfile::TempDir::new().unwrap();
        let p = dir.path().join("run.checkpoint.h5");
        let state = FixedPointState {
            x: vec![0.1, -2.5e-300, 3.0, f64::MIN_POSITIVE],
            past_x: vec![vec![1.0, 2.0, 3.0, 4.0], vec![5.0, 6.0, 7.0, 8.0 + 1e-15]],
            past_f: vec![vec![-1.0, 0.0, 1.0, 2.0], vec![0.5, 0.25, 0.125, 1.0 / 3.0]],
            history: vec![
                IterationRecord {
                    residual: 0.3,
                    damping: 1.0,
                    accelerated: false,
                    wall_s: 0.01,
                },
                IterationRecord {
                    residual: 1.0 / 7.0,
                    damping: 0.5,
                    accelerated: true,
                    wall_s: 0.02,
                },
            ],
        };
        let run = RunRecord {
            scenario_file: "sc/a b.toml".into(),
            base_dir: "/abs/sc".into(),
            overrides: vec!["solver.points=51".into(), "cost.q=[[1]]".into()],
            out: "/abs/runs/a.h5".into(),
        };
        let evaluated = vec![0.5, 1.5, -3.0, 1e-300];
        save(&p, "name = \"x\"\n", Some(&run), &state, Some(&evaluated)).unwrap();
        let back = load(&p).unwrap();
        assert_eq!(back.scenario, "name = \"x\"\n");
        assert_eq!(back.state, state);
        assert_eq!(back.run, Some(run));
        assert_eq!(back.evaluated, Some(evaluated));
        // No Anderson memory: the datasets are absent and come back empty.
        let plain = FixedPointState::new(vec![1.0, 2.0]);
        let mut plain = plain;
        plain.history.push(state.history[0]);
        save(&p, "s", None, &plain, None).unwrap();
        let back = load(&p).unwrap();
        assert_eq!(back.state, plain);
        assert_eq!((back.run, back.evaluated), (None, None));
    }

    #[test]
    fn loading_a_non_checkpoint_names_the_option() {
        let dir = tempfile::TempDir::new().unwrap();
        let missing = load(&dir.path().join("nope.h5")).unwrap_err();
        assert!(missing.to_string().contains("--resume"), "{missing}");
        let p = dir.path().join("other.h5");
        let w = AtomicH5::create(&p, "s").unwrap();
        w.commit().unwrap();
        let e = load(&p).unwrap_err();
        assert!(e.to_string().contains("not a tufield checkpoint"), "{e}");
        assert_eq!(e.exit_code(), crate::error::EXIT_INVALID);
    }
}
