//! Golden file plumbing: compare (or, under `UPDATE_GOLDEN=1`, rewrite) and name the value
//! where bytes differ.

use std::fmt::Write as _;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// The bytes of one golden file, built from labelled parts so that a mismatch can say
/// which value changed.
pub(super) struct Golden {
    name: &'static str,
    bytes: Vec<u8>,
    parts: Vec<(String, Range<usize>)>,
}

impl Golden {
    pub(super) fn new(name: &'static str) -> Self {
        Self {
            name,
            bytes: Vec::new(),
            parts: Vec::new(),
        }
    }

    /// Appends whatever `f` writes as the part called `label`.
    pub(super) fn part(&mut self, label: impl Into<String>, f: impl FnOnce(&mut Vec<u8>)) {
        let start = self.bytes.len();
        f(&mut self.bytes);
        self.parts.push((label.into(), start..self.bytes.len()));
    }

    /// Compares with the file (or rewrites it under `UPDATE_GOLDEN=1`); returns the file's
    /// bytes, which equal the fresh ones.
    pub(super) fn check(self) -> Vec<u8> {
        let path = golden_dir().join(self.name);
        if updating() {
            fs::create_dir_all(golden_dir()).unwrap();
            if fs::read(&path).ok().as_deref() != Some(self.bytes.as_slice()) {
                fs::write(&path, &self.bytes).unwrap();
                eprintln!("golden: rewrote {}", path.display());
            }
            return self.bytes;
        }
        let expected = fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read golden file {}: {e}\n\
                 (create it with `UPDATE_GOLDEN=1 cargo test -p matcher --test it golden`)",
                path.display()
            )
        });
        if expected != self.bytes {
            panic!("{}", self.describe_mismatch(&path, &expected));
        }
        expected
    }

    fn describe_mismatch(&self, path: &Path, expected: &[u8]) -> String {
        let actual = &self.bytes;
        let at = expected
            .iter()
            .zip(actual)
            .position(|(a, b)| a != b)
            .unwrap_or(expected.len().min(actual.len()));
        let part = self
            .parts
            .iter()
            .find(|(_, r)| r.contains(&at))
            .or(self.parts.last());
        let mut msg = format!(
            "encoding differs from golden file {}\n  golden {} bytes, encoded now {} bytes; \
             first difference at byte {at}",
            path.display(),
            expected.len(),
            actual.len()
        );
        if let Some((label, r)) = part {
            let _ = write!(
                msg,
                ", in `{label}` (its byte {} of {})",
                at.saturating_sub(r.start),
                r.len()
            );
        }
        let window = at.saturating_sub(8)..at + 24;
        let _ = write!(
            msg,
            "\n  golden [{}..]: {}\n  now    [{}..]: {}\n\
             If the change is intended, bump the format's version and run \
             `UPDATE_GOLDEN=1 cargo test -p matcher --test it golden`.",
            window.start,
            hex(expected, window.clone()),
            window.start,
            hex(actual, window.clone())
        );
        msg
    }
}

fn hex(bytes: &[u8], r: Range<usize>) -> String {
    let end = r.end.min(bytes.len());
    let start = r.start.min(end);
    bytes[start..end]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
