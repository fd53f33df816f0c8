//! `--out` never moves or replaces what Skipper did not write, an interrupted build leaves
//! nothing behind, and two builds of one output take turns — through the binary.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The names in `dir`.
fn entries(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// A file, a special file and a symbolic link at `--out` are refused before anything is
/// touched: the manifest stays where it is, byte for byte, and nothing appears beside it.
#[test]
fn out_refuses_what_skipper_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = example_in(dir.path());
    let manifest = std::fs::read(fleet.join("naftiko.fleet.yaml")).unwrap();
    let before = entries(&fleet);

    let refused = skipper(&fleet, &["build", "--out", "naftiko.fleet.yaml"]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("is a file"), "{}", stderr(&refused));
    assert_eq!(std::fs::read(fleet.join("naftiko.fleet.yaml")).unwrap(), manifest);

    // A FIFO stands for any special file (as root, `--out /dev/null` once became a directory).
    let fifo = fleet.join("pipe");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let refused = skipper(&fleet, &["build", "--out", "pipe"]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("is not a directory"), "{}", stderr(&refused));
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

    // A link to a directory Skipper wrote: the link is the user's, and stays a link.
    let built = skipper(&fleet, &["build", "--out", "elsewhere"]);
    assert!(built.status.success(), "{}", stderr(&built));
    std::os::unix::fs::symlink("elsewhere", fleet.join("linked")).unwrap();
    let refused = skipper(&fleet, &["build", "--out", "linked"]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("symbolic link"), "{}", stderr(&refused));
    assert!(
        std::fs::symlink_metadata(fleet.join("linked"))
            .unwrap()
            .file_type()
            .is_symlink()
    );

    let mut expected = before;
    expected.extend(["pipe", "elsewhere", "linked", ".skipper"].map(String::from));
    assert_eq!(entries(&fleet), expected, "nothing else appeared, nothing was renamed");
}

/// Ctrl-C (SIGINT) or SIGTERM at any moment: the build exits 130 or 143 (or had finished),
/// `rendered/` is absent or a complete tree, and no temporary is left beside it or in the
/// store.
#[test]
fn an_interrupted_build_leaves_no_temporary_behind() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = example_in(dir.path());
    // How long a first build takes here, to spread the signals over it.
    let started = Instant::now();
    let reference = skipper(&fleet, &["build", "--out", "reference"]);
    assert!(reference.status.success(), "{}", stderr(&reference));
    let took = started.elapsed();
    let mut interrupted = 0;
    for i in 0..12u32 {
        let _ = std::fs::remove_dir_all(fleet.join("rendered"));
        let _ = std::fs::remove_dir_all(fleet.join(".skipper"));
        let signal = if i % 2 == 0 { libc::SIGINT } else { libc::SIGTERM };
        let mut child = Command::new(env!("CARGO_BIN_EXE_skipper"))
            .args(["build"])
            .current_dir(&fleet)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(took * i / 10);
        // SAFETY: signalling our own child, which has not been waited for.
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().unwrap();
        match status.code() {
            Some(0) => {}
            Some(code) => {
                assert_eq!(code, 128 + signal, "exit status after signal {signal}");
                interrupted += 1;
            }
            // A signal that comes before `main` installs the handler ends the process the
            // default way; nothing has been written then (checked below).
            None => {
                use std::os::unix::process::ExitStatusExt;
                assert_eq!(status.signal(), Some(signal), "{status:?}");
                assert!(
                    !fleet.join(".skipper").exists(),
                    "killed unhandled after it began writing"
                );
            }
        }
        let left: Vec<String> = entries(&fleet).into_iter().filter(|n| n.contains(".tmp-")).collect();
        assert!(left.is_empty(), "temporaries beside the output: {left:?}");
        let store = fleet.join(".skipper/store");
        if store.exists() {
            let left: Vec<String> = entries(&store).into_iter().filter(|n| n.starts_with(".tmp-")).collect();
            assert!(left.is_empty(), "temporaries in the store: {left:?}");
        }
        if fleet.join("rendered").exists() {
            assert!(
                fleet.join("rendered/skipper.index.json").exists(),
                "a complete tree or none"
            );
        }
    }
    eprintln!("{interrupted} of 12 builds were interrupted");
}

/// A second build of the same output waits for the first, says so, and then succeeds.
#[test]
fn two_builds_of_one_output_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = example_in(dir.path());
    // Hold the output's lock as a first build would (flock(1) on the directory the
    // output sits in), for a moment.
    let mut holder = Command::new("flock")
        .args(["--exclusive", ".", "sleep", "2"])
        .current_dir(&fleet)
        .spawn()
        .expect("flock(1) from util-linux");
    std::thread::sleep(Duration::from_millis(300));
    let second = skipper(&fleet, &["build"]);
    holder.wait().unwrap();
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("waiting for another Skipper process"),
        "{}",
        stderr(&second)
    );
    assert!(fleet.join("rendered/skipper.index.json").exists());
}
