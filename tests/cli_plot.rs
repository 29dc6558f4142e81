//! `tufield plot`: figures of solve, lq and simulate files are non-empty PNGs of the
//! documented size or valid SVG documents; a file that is not a tufield output is refused
//! with exit code 2, and so are `--times` where there are no densities to choose and an
//! unknown `--format`.

mod common;

use common::{png_size, scenario, tufield_in};
use tempfile::TempDir;

#[test]
fn solve_and_lq_files_give_pngs_of_the_documented_size() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let sc = scenario("lqc_2d_chain3.toml");
    let sc = sc.to_str().unwrap();
    let set = ["--set", "solver.points=21", "--set", "solver.steps=20"];
    let mut args = vec!["solve", sc, "--out", "run.h5", "-q"];
    args.extend(set);
    assert_eq!(tufield_in(d, &args).code, 0);
    let mut args = vec!["lq", sc, "--out", "run_lq.h5", "-q"];
    args.extend(set);
    assert_eq!(tufield_in(d, &args).code, 0);

    let run = tufield_in(d, &["plot", "run.h5", "--out", "figs"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run_lq = tufield_in(d, &["plot", "run_lq.h5", "--out", "figs"]);
    assert_eq!(run_lq.code, 0, "{}", run_lq.stderr);
    let mut names: Vec<String> = std::fs::read_dir(d.join("figs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "run_core.png",
            "run_density_0.png",
            "run_density_1.png",
            "run_density_2.png",
            "run_lq_means.png",
            "run_means.png",
            "run_residual.png"
        ]
    );
    for n in &names {
        let p = d.join("figs").join(n);
        assert_eq!(png_size(&p), (1200, 800), "{n}");
        // A blank canvas compresses to a few kB; drawn figures are much larger.
        assert!(
            std::fs::metadata(&p).unwrap().len() > 20_000,
            "{n} looks empty"
        );
    }
}

#[test]
fn plot_refuses_files_that_are_not_tufield_outputs() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("x.h5"), b"not hdf5").unwrap();
    let run = tufield_in(dir.path(), &["plot", "x.h5"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("x.h5"), "{}", run.stderr);
    let missing = tufield_in(dir.path(), &["plot", "nope.h5"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 1, "no figure written");
}

#[test]
fn density_panels_at_chosen_times_and_bad_times_refused() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let sc = scenario("lqc_1d_chain3.toml");
    let args = [
        "solve",
        sc.to_str().unwrap(),
        "--out",
        "one.h5",
        "-q",
        "--set",
        "solver.points=41",
        "--set",
        "solver.steps=20",
    ];
    assert_eq!(tufield_in(d, &args).code, 0);
    let run = tufield_in(
        d,
        &["plot", "one.h5", "--out", "a", "--times", "0,0.25,0.5,1"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(png_size(&d.join("a/one_density_0.png")), (1200, 800));
    let bad = tufield_in(
        d,
        &["plot", "one.h5", "--out", "b", "--times", "0,1,2,3,4,5,6"],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("--times"), "{}", bad.stderr);
    assert!(!d.join("b").exists());
}

/// The SVG document at `path`: an `<svg>` root of the figure size, closed, with text.
fn assert_svg(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.starts_with("<svg"), "{} is not an SVG", path.display());
    assert!(
        text.trim_end().ends_with("</svg>"),
        "{} is not closed",
        path.display()
    );
    assert!(text.contains("width=\"1200\"") && text.contains("height=\"800\""));
    assert!(text.contains("<text"), "{} has no text", path.display());
    text
}

#[test]
fn simulate_files_plot_means_and_trajectories_in_png_and_svg_and_refuse_times() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let sc = scenario("paper_7d_chain5_fig8.toml");
    let args = [
        "simulate",
        sc.to_str().unwrap(),
        "--policy",
        "second-order",
        "--copies",
        "20",
        "--out",
        "sim.h5",
        "-q",
    ];
    assert_eq!(tufield_in(d, &args).code, 0);
    let png = tufield_in(d, &["plot", "sim.h5", "--out", "png"]);
    assert_eq!(png.code, 0, "{}", png.stderr);
    for n in ["sim_means.png", "sim_trajectories.png"] {
        let p = d.join("png").join(n);
        assert_eq!(png_size(&p), (1200, 800), "{n}");
        assert!(
            std::fs::metadata(&p).unwrap().len() > 20_000,
            "{n} looks empty"
        );
    }
    let svg = tufield_in(d, &["plot", "sim.h5", "--out", "svg", "--format", "svg"]);
    assert_eq!(svg.code, 0, "{}", svg.stderr);
    let traj = assert_svg(&d.join("svg/sim_trajectories.svg"));
    // The heuristic's dashed mean has its legend entry.
    assert!(
        traj.contains("consensus step (43)"),
        "no legend entry for the dashed mean"
    );
    let means = assert_svg(&d.join("svg/sim_means.svg"));
    assert!(
        means.contains("mean field (N → ∞)"),
        "no legend entry for the dashed mean field"
    );
    assert!(means.contains("mean excess"), "no y-axis label");
    // --times applies to solve files only: refused before anything is written.
    let times = tufield_in(d, &["plot", "sim.h5", "--out", "t", "--times", "1"]);
    assert_eq!(times.code, 2, "{}", times.stderr);
    assert!(times.stderr.contains("--times"), "{}", times.stderr);
    assert!(!d.join("t").exists());
    let format = tufield_in(d, &["plot", "sim.h5", "--out", "f", "--format", "gif"]);
    assert_eq!(format.code, 2, "{}", format.stderr);
    assert!(format.stderr.contains("--format"), "{}", format.stderr);
    assert!(!d.join("f").exists());
}

#[test]
fn lq_figures_show_the_heuristics_and_heat_maps_have_colour_bars() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let sc = scenario("lqc_2d_chain3.toml");
    let sc = sc.to_str().unwrap();
    let set = ["--set", "solver.points=21", "--set", "solver.steps=20"];
    for (cmd, out) in [("lq", "l.h5"), ("solve", "s.h5")] {
        let mut args = vec![cmd, sc, "--out", out, "-q"];
        args.extend(set);
        assert_eq!(tufield_in(d, &args).code, 0);
    }
    for f in ["l.h5", "s.h5"] {
        let run = tufield_in(d, &["plot", f, "--out", "v", "--format", "svg"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let lq = assert_svg(&d.join("v/l_means.svg"));
    assert!(
        lq.contains("Section 5 heuristic"),
        "lq means without the Section 5 heuristic"
    );
    assert!(
        lq.contains("Section 7 heuristic"),
        "lq means without the Section 7 heuristic"
    );
    let solve = assert_svg(&d.join("v/s_means.svg"));
    assert!(
        solve.contains("exact LQ equilibrium mean"),
        "no legend entry for the dashed LQ mean"
    );
    let density = assert_svg(&d.join("v/s_density_0.svg"));
    assert!(
        density.contains("density m(x, t)"),
        "heat map without its colour bar label"
    );
    let residual = assert_svg(&d.join("v/s_residual.svg"));
    assert!(
        residual.contains("tolerance"),
        "no legend entry for the tolerance line"
    );
}

/// The PDF at `path`, checked by its structure: the `%PDF-` header, the `%%EOF` trailer,
/// `startxref` pointing at the cross-reference table or stream, one page of the figure's
/// size (1200×800 pt at 72 dpi) and the DejaVu Sans subset embedded.
fn assert_pdf(path: &std::path::Path) {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.starts_with("%PDF-1."),
        "{} is not a PDF",
        path.display()
    );
    assert!(
        text.trim_end().ends_with("%%EOF"),
        "{} is cut",
        path.display()
    );
    let start = text.rfind("startxref").expect("no startxref");
    let offset: usize = text[start + "startxref".len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("startxref without an offset");
    // Offsets count bytes of the file (the lossy text has other lengths).
    let at = String::from_utf8_lossy(&bytes[offset..bytes.len().min(offset + 32)]);
    let obj = at.split_whitespace().take(3).collect::<Vec<_>>();
    assert!(
        at.starts_with("xref") || (obj.len() == 3 && obj[1] == "0" && obj[2] == "obj"),
        "startxref {offset} does not point at a cross-reference: {:?}",
        &at[..at.len().min(20)]
    );
    let pages = text.lines().filter(|l| l.trim() == "/Type /Page").count();
    assert_eq!(pages, 1, "{}: {pages} page objects", path.display());
    assert!(text.contains("/Count 1"), "{}: page tree", path.display());
    assert!(
        text.contains("/MediaBox [0 0 1200 800]"),
        "{}: page size",
        path.display()
    );
    assert!(
        text.contains("DejaVuSans"),
        "{}: font not embedded",
        path.display()
    );
    assert!(
        text.contains("/FontFile"),
        "{}: font program missing",
        path.display()
    );
}

#[test]
fn pdf_figures_are_one_page_vector_documents_with_the_font_embedded() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let sc = scenario("lqc_1d_chain3.toml");
    let sc = sc.to_str().unwrap();
    assert_eq!(
        tufield_in(
            d,
            &["lq", sc, "--out", "l.h5", "--set", "solver.steps=20", "-q"]
        )
        .code,
        0
    );
    let run = tufield_in(d, &["plot", "l.h5", "--out", "p", "--format", "pdf"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let pdfs: Vec<_> = std::fs::read_dir(d.join("p"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!pdfs.is_empty());
    for p in &pdfs {
        assert_eq!(
            p.extension().and_then(|e| e.to_str()),
            Some("pdf"),
            "{}",
            p.display()
        );
        assert_pdf(p);
    }
}
