//! What keeps a build from hurting the user's files when it is interrupted or raced: the
//! temporaries a build has in flight (so a signal handler can remove them and nothing is
//! left behind), and one lock per output location (so two builds of one output take
//! turns instead of swapping trees under each other).

use crate::BuildError;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

/// A temporary a build is writing: one path (the new output tree), or every entry of a
/// directory whose name starts with a prefix (the store's `.tmp-<pid>-…` files).
enum InFlight {
    Path(PathBuf),
    Prefixed(PathBuf, String),
}

static IN_FLIGHT: Mutex<Vec<InFlight>> = Mutex::new(Vec::new());

/// Held (shared) by every write of a temporary and by the swap of the output into place;
/// taken exclusively by [`remove_in_flight`], which so waits for the writes and the swap
/// in progress and lets no new one start: the output is never left between its two
/// renames, and no directory is created again after the removal.
static WRITING: RwLock<()> = RwLock::new(());

/// Held while writing a temporary or swapping the output.
pub(crate) fn writing() -> Option<RwLockReadGuard<'static, ()>> {
    WRITING.read().ok()
}

pub(crate) fn register_path(path: &Path) {
    if let Ok(mut list) = IN_FLIGHT.lock() {
        list.push(InFlight::Path(path.to_path_buf()));
    }
}

pub(crate) fn unregister_path(path: &Path) {
    if let Ok(mut list) = IN_FLIGHT.lock() {
        list.retain(|t| !matches!(t, InFlight::Path(p) if p == path));
    }
}

pub(crate) fn register_prefixed(dir: &Path, prefix: String) {
    if let Ok(mut list) = IN_FLIGHT.lock() {
        list.push(InFlight::Prefixed(dir.to_path_buf(), prefix));
    }
}

/// Removes every temporary this process has in flight. For a signal handler: call it
/// from an ordinary thread, then exit the process. It waits for the writes and the swap
/// in progress and keeps every later one waiting (it never releases the lock), so the
/// output is the previous tree or the new one, never missing, and nothing is recreated.
pub fn remove_in_flight() {
    std::mem::forget(WRITING.write());
    let Ok(list) = IN_FLIGHT.lock() else { return };
    for temporary in list.iter() {
        match temporary {
            InFlight::Path(path) => {
                let _ = std::fs::remove_dir_all(path);
            }
            InFlight::Prefixed(dir, prefix) => {
                let Ok(entries) = std::fs::read_dir(dir) else { continue };
                for entry in entries.flatten() {
                    if entry.file_name().to_string_lossy().starts_with(prefix.as_str()) {
                        let _ = std::fs::remove_file(entry.path());
                    }
                }
            }
        }
    }
}

/// An exclusive `flock` on the directory the output sits in, held for the whole build.
/// The directory itself is locked, so no lock file appears beside a tree users commit;
/// builds of outputs in one directory take turns, which costs little. Released when
/// dropped (and by the kernel when the process dies, so a killed build never leaves a
/// stale lock).
pub struct OutputLock {
    _dir: std::os::fd::OwnedFd,
}

impl OutputLock {
    /// Takes the lock of `out`'s directory (created if missing), calling `waiting` first
    /// when another build holds it.
    pub fn acquire(out: &Path, waiting: impl FnOnce(&Path)) -> Result<OutputLock, BuildError> {
        use rustix::fs::{FlockOperation, Mode, OFlags, flock, open};
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| BuildError::io("create the output's parent", parent, e))?;
        let dir = open(
            parent,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| BuildError::io("open the output's directory", parent, e.into()))?;
        match flock(&dir, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                waiting(parent);
                flock(&dir, FlockOperation::LockExclusive)
                    .map_err(|e| BuildError::io("wait for the output's lock", parent, e.into()))?;
            }
            Err(e) => return Err(BuildError::io("lock the output's directory", parent, e.into())),
        }
        Ok(OutputLock { _dir: dir })
    }
}
