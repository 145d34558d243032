//! Reading a policy or catalog file from disk, safely: regular files only (a FIFO, a device or
//! a directory is refused before it is opened, so nothing blocks or reads forever) and at most
//! [`MAX_POLICY_FILE_BYTES`] bytes (the read stops one byte past the cap, so memory stays
//! bounded whatever the file is). The loader, the hot-reload watcher and the price catalog all
//! read through here.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// The largest policy, include or catalog file read: 4 MiB. A real policy is a few KB; a file
/// above this is refused with an error rather than read into memory.
pub const MAX_POLICY_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Why a policy or catalog file could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// Nothing is there (or a symlink points nowhere).
    NotFound,
    /// The path names a directory.
    Directory,
    /// The path names something that is not a regular file: a FIFO, a socket, a device.
    NotRegular,
    /// The file is larger than [`MAX_POLICY_FILE_BYTES`].
    TooLarge,
    /// The bytes are not UTF-8 (TOML is UTF-8).
    NotUtf8,
    /// Any other I/O error (permissions, …).
    Io(std::io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotFound => f.write_str("it does not exist"),
            ReadError::Directory => f.write_str("it is a directory, not a file"),
            ReadError::NotRegular => f.write_str(
                "it is not a regular file (a FIFO, socket or device is never read as a policy)",
            ),
            ReadError::TooLarge => write!(
                f,
                "it is larger than {} MiB, the most a policy or catalog file may hold",
                MAX_POLICY_FILE_BYTES / (1024 * 1024)
            ),
            ReadError::NotUtf8 => f.write_str("it is not UTF-8 text"),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            ReadError::NotFound
        } else {
            ReadError::Io(e)
        }
    }
}

/// Reads a policy or catalog file's bytes (through symlinks), refusing anything that is not
/// a regular file and anything above [`MAX_POLICY_FILE_BYTES`].
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, ReadError> {
    // Checked before opening: opening a FIFO for reading blocks until a writer comes.
    check_kind(&std::fs::metadata(path)?)?;
    let file = std::fs::File::open(path)?;
    // Checked again on what was opened, in case the path was swapped in between.
    check_kind(&file.metadata()?)?;
    let mut bytes = Vec::new();
    file.take(MAX_POLICY_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_POLICY_FILE_BYTES {
        return Err(ReadError::TooLarge);
    }
    Ok(bytes)
}

/// [`read_bytes`], as UTF-8 text.
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    String::from_utf8(read_bytes(path)?).map_err(|_| ReadError::NotUtf8)
}

fn check_kind(meta: &std::fs::Metadata) -> Result<(), ReadError> {
    if meta.is_dir() {
        Err(ReadError::Directory)
    } else if !meta.is_file() {
        Err(ReadError::NotRegular)
    } else if meta.len() > MAX_POLICY_FILE_BYTES {
        Err(ReadError::TooLarge)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(read_text(dir.path()), Err(ReadError::Directory)));
    }

    #[cfg(unix)]
    #[test]
    fn a_device_is_refused_without_reading_it() {
        assert!(matches!(
            read_text(Path::new("/dev/zero")),
            Err(ReadError::NotRegular)
        ));
    }

    #[test]
    fn a_file_above_the_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.toml");
        std::fs::write(&p, vec![b'#'; MAX_POLICY_FILE_BYTES as usize + 1]).unwrap();
        assert!(matches!(read_text(&p), Err(ReadError::TooLarge)));
        std::fs::write(&p, vec![b'#'; MAX_POLICY_FILE_BYTES as usize]).unwrap();
        assert_eq!(read_text(&p).unwrap().len(), MAX_POLICY_FILE_BYTES as usize);
    }

    #[test]
    fn missing_and_not_utf8_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.toml");
        assert!(matches!(read_text(&p), Err(ReadError::NotFound)));
        std::fs::write(&p, [0xff, 0xfe]).unwrap();
        assert!(matches!(read_text(&p), Err(ReadError::NotUtf8)));
    }
}
