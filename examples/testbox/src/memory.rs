//! Applets that allocate memory, for tests of memory limits. Every mebibyte is written
//! in full so that it is really in use, and kept until the end. An allocation the
//! limit refuses aborts the guest, which the runtime reports as OOMKilled.

use std::hint::black_box;
use std::process::ExitCode;

use crate::arguments::{AppletError, exactly};

/// One mebibyte, the unit these applets allocate in.
const MEBIBYTE: usize = 1024 * 1024;

/// How many mebibytes `memory-bomb` allocates between two progress lines.
const BOMB_REPORT_EVERY_MEBIBYTES: usize = 16;

/// `alloc MEBIBYTES`: allocates that much, then reports it and exits successfully.
pub fn alloc(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [mebibytes] = exactly("alloc MEBIBYTES", arguments)?;
    let mebibytes: usize = mebibytes.parse().map_err(|_| {
        AppletError::Usage(format!("{mebibytes:?} is not a whole number of mebibytes"))
    })?;
    let chunks: Vec<Vec<u8>> = (0..mebibytes).map(|_| touched_mebibyte()).collect();
    black_box(&chunks);
    println!("allocated {} MiB", chunks.len());
    Ok(ExitCode::SUCCESS)
}

/// `memory-bomb`: allocates a mebibyte after another until the guest is stopped.
pub fn memory_bomb(arguments: &[String]) -> Result<ExitCode, AppletError> {
    exactly::<0>("memory-bomb", arguments)?;
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        chunks.push(touched_mebibyte());
        if chunks.len().is_multiple_of(BOMB_REPORT_EVERY_MEBIBYTES) {
            println!("allocated {} MiB", chunks.len());
        }
    }
}

/// A mebibyte filled with a non-zero byte, so that every page of it is written.
fn touched_mebibyte() -> Vec<u8> {
    let mut chunk = vec![0xA5_u8; MEBIBYTE];
    black_box(&mut chunk);
    chunk
}
