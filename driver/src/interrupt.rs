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

/// An `flock` on a directory, held until dropped (and released by the kernel when the
/// process dies, so a killed build never leaves a stale lock). Directories are locked
/// themselves, so no lock file appears anywhere.
pub struct DirLock {
    _dir: std::os::fd::OwnedFd,
}

impl DirLock {
    /// Locks `dir` (created if missing), exclusively or shared, calling `waiting` first
    /// when it must wait for another process.
    pub fn acquire(dir: &Path, exclusive: bool, waiting: impl FnOnce(&Path)) -> Result<DirLock, BuildError> {
        use rustix::fs::{FlockOperation, Mode, OFlags, flock, open};
        std::fs::create_dir_all(dir).map_err(|e| BuildError::io("create a directory", dir, e))?;
        let fd = open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| BuildError::io("open a directory to lock it", dir, e.into()))?;
        let (try_op, wait_op) = if exclusive {
            (FlockOperation::NonBlockingLockExclusive, FlockOperation::LockExclusive)
        } else {
            (FlockOperation::NonBlockingLockShared, FlockOperation::LockShared)
        };
        match flock(&fd, try_op) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                waiting(dir);
                flock(&fd, wait_op).map_err(|e| BuildError::io("wait for a lock", dir, e.into()))?;
            }
            Err(e) => return Err(BuildError::io("lock a directory", dir, e.into())),
        }
        Ok(DirLock { _dir: fd })
    }
}

/// The lock of an output: the directory the output sits in, exclusively, for the whole
/// build. Builds of outputs in one directory take turns, which costs little.
pub fn lock_output(out: &Path, waiting: impl FnOnce(&Path)) -> Result<DirLock, BuildError> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    DirLock::acquire(parent, true, waiting)
}
