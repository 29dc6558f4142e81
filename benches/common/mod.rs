//! Shared by the `--report` modes of the benchmarks.

#![allow(dead_code)]

/// `Some(thread counts)` when the bench was started with `--report` (`--threads 1,2`,
/// default 1 and 2), `None` for a criterion run.
pub fn report_threads() -> Option<Vec<usize>> {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--report") {
        return None;
    }
    Some(
        arg_value("--threads")
            .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_else(|| vec![1, 2]),
    )
}

/// Peak resident memory of this process in MB (VmHWM), where /proc is available.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The value after `--name` on the command line, if given.
pub fn arg_value(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}
