//! The `skipper` binary as users run it: exit codes, output formats. Reproducibility is
//! `reproducible.rs`, crash safety `kill.rs`.

mod common;

use common::*;

#[test]
fn build_check_and_graph_succeed_on_the_example() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    let check = skipper(&fleet, &["check"]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(!fleet.join("rendered").exists(), "check writes nothing");

    let build = skipper(&fleet, &["build"]);
    assert_eq!(
        build.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let stderr = String::from_utf8_lossy(&build.stderr);
    assert!(stderr.contains("160 units (160 rendered, 0 reused)"), "{stderr}");
    assert!(fleet.join("rendered/skipper.index.json").exists());

    let graph = skipper(&fleet, &["graph"]);
    assert_eq!(
        String::from_utf8_lossy(&graph.stdout),
        "dockyard\nregistry\nvoyages → dockyard, registry\nshipyard → registry, voyages\n"
    );
    let dot = String::from_utf8_lossy(&skipper(&fleet, &["graph", "--format", "dot"]).stdout).to_string();
    assert!(
        dot.contains("\"shipyard\" -> \"registry\" [label=\"dependsOn\"];"),
        "{dot}"
    );
    assert!(
        dot.contains("\"voyages\" -> \"registry\" [label=\"consumes\"];"),
        "{dot}"
    );
    let mermaid = String::from_utf8_lossy(&skipper(&fleet, &["graph", "--format", "mermaid"]).stdout).to_string();
    assert!(
        mermaid.starts_with("flowchart LR\n") && mermaid.contains("shipyard -->|consumes| voyages"),
        "{mermaid}"
    );
}

#[test]
fn file_flag_and_out_flag_are_honoured() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    let out = tmp.path().join("elsewhere");
    let run = skipper(
        tmp.path(),
        &[
            "-f",
            "shipyard/naftiko.fleet.yaml",
            "build",
            "--out",
            "elsewhere",
            "--env",
            "dev",
        ],
    );
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(out.join("dev/kustomization.yaml").exists());
    assert!(!out.join("prod").exists(), "only dev was built");
    assert!(!fleet.join("rendered").exists());
}

#[test]
fn bad_input_exits_1_with_diagnostics_and_json_for_ci() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    let manifest = fleet.join("naftiko.fleet.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("    namespace: shipyard-dev", "    namespase: shipyard-dev"),
    )
    .unwrap();

    let human = skipper(&fleet, &["build"]);
    assert_eq!(human.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&human.stderr);
    assert!(
        stderr.contains("unknown key `namespase` in `environments.dev`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `namespace`?"), "{stderr}");
    assert!(stderr.contains("naftiko.fleet.yaml:"), "{stderr}");
    assert!(
        stderr.contains("error: could not compile the fleet: 1 error, 0 warnings"),
        "{stderr}"
    );
    assert!(!fleet.join("rendered").exists(), "nothing is written");

    let json = skipper(&fleet, &["--message-format", "json", "check"]);
    assert_eq!(json.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let unknown = lines
        .iter()
        .find(|d| d["code"] == "skipper::unknown-key")
        .expect("the unknown key");
    assert_eq!(unknown["file"], "naftiko.fleet.yaml");
    assert_eq!(unknown["severity"], "error");
    assert!(unknown["line"].as_u64().unwrap() > 1 && unknown["column"] == 5);
    assert_eq!(lines.last().unwrap()["success"], false);
}

#[test]
fn a_missing_manifest_is_a_user_error() {
    let tmp = tempfile::tempdir().unwrap();
    let run = skipper(tmp.path(), &["check"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&run.stderr)
            .contains("cannot read the fleet manifest `naftiko.fleet.yaml`: no such file")
    );
}

#[test]
fn an_unwritable_output_is_an_internal_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    std::fs::write(tmp.path().join("blocker"), "a file where a directory must go").unwrap();
    let run = skipper(&fleet, &["build", "--out", "../blocker/rendered"]);
    assert_eq!(run.status.code(), Some(2), "{}", String::from_utf8_lossy(&run.stderr));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.starts_with("error: cannot "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_rebuild_with_nothing_changed_stops_at_the_up_to_date_check() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    let stderr = |args: &[&str]| {
        let run = skipper(&fleet, args);
        let text = String::from_utf8_lossy(&run.stderr).to_string();
        assert_eq!(run.status.code(), Some(0), "{text}");
        text
    };
    assert!(stderr(&["build"]).contains("160 units (160 rendered, 0 reused)"));
    let index = std::fs::read(fleet.join("rendered/skipper.index.json")).unwrap();
    let again = stderr(&["build"]);
    assert!(again.contains("Up to date: 160 units"), "{again}");
    // --force compiles and rewrites the tree, from the store.
    assert!(stderr(&["build", "--force"]).contains("160 units (0 rendered, 160 reused)"));
    assert_eq!(index, std::fs::read(fleet.join("rendered/skipper.index.json")).unwrap());
    let json = String::from_utf8_lossy(&skipper(&fleet, &["build", "--output", "json"]).stdout).to_string();
    assert!(json.contains("\"up_to_date\":true"), "{json}");
    // An edit is seen at once.
    let document = fleet.join("capabilities/voyages/voyages.ikanos.yml");
    let text = std::fs::read_to_string(&document).unwrap();
    std::fs::write(&document, text.replace("port: 3002", "port: 3003")).unwrap();
    let rebuilt = stderr(&["build"]);
    assert!(
        rebuilt.contains("Built `shipyard`") && !rebuilt.contains(" 0 rendered"),
        "{rebuilt}"
    );
}

#[test]
fn a_build_with_warnings_is_never_skipped_so_they_are_printed_every_time() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    let manifest = fleet.join("naftiko.fleet.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let signing = text.lines().find(|l| l.trim_start().starts_with("signing:")).unwrap();
    std::fs::write(&manifest, text.replace(&format!("{signing}\n"), "")).unwrap();
    for _ in 0..2 {
        let run = skipper(&fleet, &["build"]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains("unsigned-bundles") && stderr.contains("Built `shipyard`"),
            "{stderr}"
        );
    }
}

#[test]
fn output_into_a_closed_pipe_ends_skipper_quietly_not_with_a_crash_report() {
    use std::os::fd::FromRawFd;
    use std::os::unix::process::ExitStatusExt;
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    // A pipe whose reading end is already closed (`skipper graph | true`, once `true`
    // has exited): the first write raises SIGPIPE, deterministically.
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe() writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: fds[0] is the reading end just created and owned by nobody else.
    unsafe { libc::close(fds[0]) };
    // SAFETY: fds[1] is the writing end just created; Stdio takes ownership of it.
    let stdout = unsafe { std::process::Stdio::from_raw_fd(fds[1]) };
    // The test harness ignores SIGPIPE and children inherit that: skipper must restore it.
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_skipper"))
        .args(["graph"])
        .current_dir(&fleet)
        .stdout(stdout)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.signal(), Some(libc::SIGPIPE), "{:?}: {stderr}", run.status);
    assert!(!stderr.contains("internal error"), "{stderr}");
}
