//! The application's layering, checked on the source tree: no command reaches into another
//! command's module (what several commands share lives in the run, output, plotting,
//! report or paper layers), nothing outside `src/commands/` names a command module
//! (`src/cli.rs` excepted: the command line embeds the commands' argument structs), and
//! HDF5 files are created and opened only by the output layer (`src/output/` and its HDF5
//! helper `src/h5.rs`), which owns the file schema.
//!
//! Paths are resolved from the module a file defines (`super::`, `super::super::`,
//! `crate::`), including the names inside `use …::{…}` groups; comments and the unit-test
//! modules at the end of a file are not read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The source of a file without `//` comments and without its trailing `#[cfg(test)]`
/// module (whose `super::` means the file's own module).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module path a file under `src/` defines: `src/commands/paper/mod.rs` →
/// `[commands, paper]`, `src/commands/simulate/epsilon.rs` → `[commands, simulate,
/// epsilon]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" && stem != "main" {
        parts.push(stem.to_string());
    }
    parts
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Every absolute module path named in `code` (a file defining module `module`), as its
/// segments: `super::plot::x` in `commands::paper` gives `[commands, plot, x]`, `use
/// super::{plot, simulate};` gives `[commands, plot]` and `[commands, simulate]`,
/// `crate::commands::solve::f` gives `[commands, solve, f]`.
fn paths_in(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let starts_word = i == 0 || !is_ident_byte(bytes[i - 1]) && bytes[i - 1] != b':';
        let rest = &code[i..];
        if !(starts_word && (rest.starts_with("crate::") || rest.starts_with("super::"))) {
            i += 1;
            continue;
        }
        let mut base: Vec<String> = Vec::new();
        let mut j = i;
        if code[j..].starts_with("crate::") {
            j += "crate::".len();
        } else {
            base = module.to_vec();
            while code[j..].starts_with("super::") {
                base.pop();
                j += "super::".len();
            }
        }
        let mut names = Vec::new();
        if code[j..].starts_with('{') {
            // A `use` group: the first segment of each item at its top level.
            let mut depth = 0;
            let mut item_start = true;
            for (k, c) in code[j..].char_indices() {
                match c {
                    '{' => {
                        depth += 1;
                        item_start = depth == 1;
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            j += k;
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    c if depth == 1 && item_start && (c.is_alphanumeric() || c == '_') => {
                        let s = &code[j + k..];
                        let end = s
                            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                            .unwrap_or(s.len());
                        names.push(vec![s[..end].to_string()]);
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let mut segs = Vec::new();
            let mut s = &code[j..];
            loop {
                let end = s
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(s.len());
                if end == 0 {
                    break;
                }
                segs.push(s[..end].to_string());
                j += end;
                s = &s[end..];
                if s.starts_with("::") && !s[2..].starts_with('{') {
                    s = &s[2..];
                    j += 2;
                } else {
                    break;
                }
            }
            names.push(segs);
        }
        for n in names {
            let mut p = base.clone();
            p.extend(n);
            out.push(p);
        }
        i = j.max(i + 1);
    }
    out
}

/// The commands: the modules in `src/commands/` (files and directories, `mod.rs` aside).
fn commands(src: &Path) -> BTreeSet<String> {
    std::fs::read_dir(src.join("commands"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|n| n != "mod")
        .collect()
}

/// The violations in one file: `(file, path)` for every path from a command into another
/// command, or from a non-command module into any command.
fn violations_in(src: &Path, file: &Path, text: &str, commands: &BTreeSet<String>) -> Vec<String> {
    let module = module_of(src, file);
    let own = match module.as_slice() {
        [top, cmd, ..] if top == "commands" => Some(cmd.clone()),
        [top] if top == "commands" => return Vec::new(),
        _ => None,
    };
    paths_in(&code_of(text), &module)
        .into_iter()
        .filter(|p| {
            p.len() >= 2
                && p[0] == "commands"
                && commands.contains(&p[1])
                && own.as_deref() != Some(p[1].as_str())
        })
        .map(|p| format!("{}: {}", file.display(), p.join("::")))
        .collect()
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_command_reaches_into_another_command() {
    let src = src_dir();
    let cmds = commands(&src);
    assert!(cmds.contains("solve") && cmds.contains("paper") && cmds.contains("simulate"));
    let mut bad = Vec::new();
    for f in rust_files(&src.join("commands")) {
        let text = std::fs::read_to_string(&f).unwrap();
        bad.extend(violations_in(&src, &f, &text, &cmds));
    }
    assert!(
        bad.is_empty(),
        "commands reach into other commands (move what they share out of src/commands):\n{}",
        bad.join("\n")
    );
}

#[test]
fn no_layer_below_the_commands_names_a_command() {
    let src = src_dir();
    let cmds = commands(&src);
    let mut bad = Vec::new();
    let mut read = 0;
    for f in rust_files(&src) {
        let rel = f.strip_prefix(&src).unwrap();
        if rel.starts_with("commands") || rel == Path::new("cli.rs") || rel == Path::new("main.rs")
        {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        read += 1;
        bad.extend(violations_in(&src, &f, &text, &cmds));
        if code_of(&text).contains("commands::") {
            bad.push(format!("{}: names crate::commands", f.display()));
        }
    }
    assert!(read > 40, "only {read} files read under {}", src.display());
    assert!(
        bad.is_empty(),
        "modules below the commands name a command (move the code into their layer):\n{}",
        bad.join("\n")
    );
}

/// The output layer, which alone creates and opens HDF5 files: `src/output/` and its HDF5
/// helper `src/h5.rs` (the atomic writer, re-exported as `crate::output::AtomicH5`).
const OUTPUT_LAYER: [&str; 2] = ["output", "h5.rs"];

/// How code creates or opens an HDF5 file: the atomic writer, the `hdf5` crate's file type
/// (open, create, append, builder), or that type imported under its own name.
const FILE_ACCESS: [&str; 4] = [
    "AtomicH5::create",
    "hdf5::File",
    "hdf5::FileBuilder",
    "use hdf5::{",
];

/// The HDF5 file accesses in a file `rel` (relative to `src/`) outside the output layer:
/// `(file, pattern)` for each pattern of [`FILE_ACCESS`] its code contains (a `use hdf5::{…}`
/// group only when it imports `File`).
fn file_access_outside_the_output_layer(rel: &Path, text: &str) -> Vec<String> {
    if OUTPUT_LAYER.iter().any(|a| rel.starts_with(a)) {
        return Vec::new();
    }
    let code = code_of(text);
    FILE_ACCESS
        .iter()
        .filter(|pat| match code.find(**pat) {
            Some(i) if **pat == "use hdf5::{" => {
                let group = &code[i..];
                let group = &group[..group.find('}').unwrap_or(group.len())];
                group
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .any(|w| w == "File" || w == "FileBuilder")
            }
            Some(_) => true,
            None => false,
        })
        .map(|pat| format!("{}: {pat}", rel.display()))
        .collect()
}

#[test]
fn hdf5_files_are_created_and_opened_only_in_the_output_layer() {
    let src = src_dir();
    let mut bad = Vec::new();
    let mut read = 0;
    for f in rust_files(&src) {
        let rel = f.strip_prefix(&src).unwrap();
        bad.extend(file_access_outside_the_output_layer(
            rel,
            &std::fs::read_to_string(&f).unwrap(),
        ));
        read += 1;
    }
    assert!(read > 40, "only {read} files read under {}", src.display());
    assert!(
        bad.is_empty(),
        "HDF5 files created or opened outside the output layer (src/output/, src/h5.rs):\n{}",
        bad.join("\n")
    );
}

/// The file check itself, on the writers and readers the tree had outside the output layer
/// before they moved into it: each is caught; the output layer, comments and unit tests are
/// not.
#[test]
fn the_file_check_catches_the_old_writers_and_readers() {
    let caught = |file: &str, text: &str| {
        !file_access_outside_the_output_layer(Path::new(file), text).is_empty()
    };
    // The checkpoint's save and load.
    assert!(caught(
        "checkpoint.rs",
        "    let w = AtomicH5::create(path, scenario)?;\n"
    ));
    assert!(caught(
        "checkpoint.rs",
        "    let file =\n        hdf5::File::open(path).map_err(|e| bad(e))?;\n"
    ));
    // The sweep's summary writer and result reader.
    assert!(caught(
        "commands/sweep/gather.rs",
        "    let w = AtomicH5::create(&dest, &base_text)?;\n"
    ));
    assert!(caught(
        "commands/sweep/gather.rs",
        "    let Ok(f) = hdf5::File::open(result_path(dir, i)) else {\n"
    ));
    assert!(caught(
        "commands/sweep/runner.rs",
        "fn result_status(out: &Path) -> Option<String> {\n    let f = hdf5::File::open(out).ok()?;\n"
    ));
    // The readers of plot, simulate --policy and the initial laws.
    assert!(caught(
        "plotting/input.rs",
        "            file: hdf5::File::open(file).map_err(|e| x(e))?,\n"
    ));
    assert!(caught(
        "run/simulate.rs",
        "    let file =\n        hdf5::File::open(path).map_err(|e| bad(e))?;\n"
    ));
    assert!(caught(
        "initial.rs",
        "    let file = hdf5::File::open(path).map_err(|e| bad(e))?;\n"
    ));
    assert!(caught(
        "run/x.rs",
        "use hdf5::{File, H5Type};\nFile::open(p)?;\n"
    ));
    // Not violations: the output layer, other hdf5 types, comments, unit tests.
    assert!(!caught(
        "output/checkpoint.rs",
        "    let w = AtomicH5::create(path, scenario)?;\n"
    ));
    assert!(!caught("h5.rs", "    hdf5::File::create(&tmp)\n"));
    assert!(!caught(
        "paper/claims.rs",
        "    root: &hdf5::Location,\nuse hdf5::{Dataset, H5Type};\n"
    ));
    assert!(!caught(
        "initial.rs",
        "// hdf5::File::open(path) is the output layer's\n"
    ));
    assert!(!caught(
        "initial.rs",
        "fn a() {}\n#[cfg(test)]\nmod tests {\n    let w = AtomicH5::create(&p, \"\").unwrap();\n}\n"
    ));
}

/// The checker itself, on the imports the tree had before the layering: each is caught.
#[test]
fn the_checker_catches_the_old_imports() {
    let src = Path::new("/x/src");
    // The modules of src/commands/ before the layering, shared ones included.
    let cmds: BTreeSet<String> = [
        "solve",
        "paper",
        "plot",
        "simulate",
        "lq",
        "check",
        "format",
        "stability",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let caught =
        |file: &str, text: &str| !violations_in(src, &src.join(file), text, &cmds).is_empty();
    // A command's directory module: `super` is `commands`.
    assert!(caught("commands/paper/mod.rs", "use super::plot;\n"));
    assert!(caught(
        "commands/paper/mod.rs",
        "use super::{plot, simulate};\n"
    ));
    // A submodule of a command: `super::super` is `commands`.
    assert!(caught(
        "commands/paper/claims.rs",
        "use super::super::format::num;\n"
    ));
    assert!(caught(
        "commands/check.rs",
        "use super::format::{matrix, num};\n"
    ));
    assert!(caught(
        "commands/solve/modal.rs",
        "crate::commands::paper::claims::w(&w);\n"
    ));
    assert!(caught(
        "commands/lq.rs",
        "    super::paper::claims::assess(&sc, None)?;\n"
    ));
    assert!(caught(
        "commands/simulate.rs",
        "f(super::paper::claims::RunEvidence { a });"
    ));
    // The run layer naming a command.
    assert!(caught(
        "run/solve.rs",
        "use crate::commands::solve::{begin_write, finish_write};\n"
    ));
    assert!(caught(
        "run/mod.rs",
        "pub use crate::commands::solve::estimate;\n"
    ));
    // Not violations: a command's own submodules, shared layers, comments, unit tests.
    assert!(!caught(
        "commands/solve.rs",
        "use crate::run::solve;\nmod x;\n"
    ));
    assert!(!caught(
        "commands/simulate/epsilon.rs",
        "use super::{num, Prepared};\n"
    ));
    assert!(!caught(
        "commands/paper/mod.rs",
        "use crate::paper::claims;\nmod report;\n"
    ));
    assert!(!caught(
        "commands/paper/report.rs",
        "use super::{Figure, FigureRun};\n"
    ));
    assert!(!caught("commands/lq.rs", "// see super::solve::x\n"));
    assert!(!caught(
        "commands/lq.rs",
        "fn a() {}\n#[cfg(test)]\nmod tests {\n    use super::super::solve::x;\n}\n"
    ));
}
