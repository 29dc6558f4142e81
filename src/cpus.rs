//! The CPUs this process may use, for the default number of worker threads.
//!
//! [`std::thread::available_parallelism`] already honours the affinity mask
//! (`sched_getaffinity`) and the cgroup CPU quota on Linux; under Slurm the job's
//! `SLURM_CPUS_PER_TASK` caps it further (with `TaskPlugin=task/none` Slurm sets no
//! affinity, so the variable is the only sign of the allocation). `RAYON_NUM_THREADS`,
//! when set, may lower the count but never raise it above what is allowed.

/// Number of CPUs this process may use (at least 1).
pub fn allowed_cpus() -> usize {
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    cap(
        available,
        std::env::var("SLURM_CPUS_PER_TASK").ok().as_deref(),
    )
}

/// Default worker threads: [`allowed_cpus`], lowered by `RAYON_NUM_THREADS` if set.
pub fn default_threads() -> usize {
    cap(
        allowed_cpus(),
        std::env::var("RAYON_NUM_THREADS").ok().as_deref(),
    )
}

/// `available` capped by a positive integer in `limit` (ignored when absent or not a
/// positive integer).
fn cap(available: usize, limit: Option<&str>) -> usize {
    let limit = limit
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|&n| n > 0);
    limit.map_or(available, |n| n.min(available)).max(1)
}

#[cfg(test)]
mod tests {
    use super::cap;

    #[test]
    fn a_limit_lowers_but_never_raises_the_count() {
        assert_eq!(cap(8, None), 8);
        assert_eq!(cap(8, Some("2")), 2);
        assert_eq!(cap(2, Some("16")), 2);
        assert_eq!(cap(4, Some("0")), 4);
        assert_eq!(cap(4, Some("many")), 4);
        assert_eq!(cap(0, None), 1);
    }
}
