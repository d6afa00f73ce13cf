//! One engine per data directory: whoever runs executions holds an exclusive
//! lock on `<data dir>/engine.lock`. The OS releases it when the process dies,
//! however it dies, so a crashed engine never blocks the next one, and the
//! next one knows that anything left `InProgress` was cut short.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

const LOCK_FILE: &str = "engine.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another Slipway engine (pid {pid}) is running executions on {dir}; \
         wait for it to finish, or stop it"
    )]
    Held { pid: String, dir: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Held while this process is the engine; released on drop or death.
pub struct EngineLock {
    _file: File,
}

pub fn acquire(data_dir: &Path) -> Result<EngineLock, LockError> {
    let path = data_dir.join(LOCK_FILE);
    let io = |source| LockError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            return Err(LockError::Held {
                pid: pid.trim().to_string(),
                dir: data_dir.display().to_string(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    write!(file, "{}", std::process::id()).map_err(io)?;
    Ok(EngineLock { _file: file })
}

/// The lock, unless another process holds it (`None`: that process is the
/// engine).
pub fn try_acquire(data_dir: &Path) -> Result<Option<EngineLock>, super::EngineError> {
    match acquire(data_dir) {
        Ok(lock) => Ok(Some(lock)),
        Err(LockError::Held { .. }) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_second_engine_on_the_same_data_dir_is_refused_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let first = super::acquire(dir.path()).unwrap();
        let err = super::acquire(dir.path()).err().expect("held");
        assert!(
            err.to_string().contains(&std::process::id().to_string()),
            "{err}"
        );
        drop(first);
        super::acquire(dir.path()).unwrap();
    }
}
