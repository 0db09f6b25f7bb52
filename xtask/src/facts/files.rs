//! Facts about files on disk: their SHA-256 (streamed through the pure hasher of the core).

use std::io::Read;
use std::path::Path;

use crate::core::sha256::{hex, Sha256};

/// The sha256 of a file, streamed.
pub fn file_hex(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finish()))
}
