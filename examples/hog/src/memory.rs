//! The memory half of the stress: allocate in chunks, write to every page of each chunk
//! so that the memory is really in use (not merely reserved), and keep every chunk alive.

use std::fmt;
use std::hint::black_box;

use crate::quantity::format_quantity;

/// The byte written over every chunk. Not zero, so that no layer can treat the chunk as
/// untouched fresh memory.
const FILL_BYTE: u8 = 0xA5;

/// The chunks allocated so far, held until the process ends.
pub struct MemoryHog {
    chunks: Vec<Vec<u8>>,
    allocated: u64,
    total: u64,
    chunk_size: u64,
}

/// A chunk the allocator could not provide: the guest's memory limit has been reached.
#[derive(Debug)]
pub struct AllocationError {
    chunk_size: u64,
    allocated: u64,
}

impl fmt::Display for AllocationError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "could not allocate a {} chunk after allocating {}: out of memory",
            format_quantity(self.chunk_size),
            format_quantity(self.allocated)
        )
    }
}

impl std::error::Error for AllocationError {}

impl MemoryHog {
    pub fn new(total: u64, chunk_size: u64) -> Self {
        Self {
            chunks: Vec::new(),
            allocated: 0,
            total,
            chunk_size,
        }
    }

    /// Whether the total has been allocated.
    pub fn is_done(&self) -> bool {
        self.allocated >= self.total
    }

    /// Bytes allocated so far.
    pub fn allocated(&self) -> u64 {
        self.allocated
    }

    /// Allocates the next chunk (the last one may be smaller, to land on the total
    /// exactly), fills it, keeps it, and returns its size.
    pub fn allocate_next_chunk(&mut self) -> Result<u64, AllocationError> {
        let size = self.chunk_size.min(self.total - self.allocated);
        let allocated = self.allocated;
        let failure = || AllocationError {
            chunk_size: size,
            allocated,
        };
        let length = usize::try_from(size).map_err(|_| failure())?;
        let mut chunk = Vec::new();
        chunk.try_reserve_exact(length).map_err(|_| failure())?;
        chunk.resize(length, FILL_BYTE);
        // The chunk is never read again; black_box stops the compiler from deciding that
        // the writes, and so the use of the memory, can be left out.
        black_box(&mut chunk);
        self.chunks.push(chunk);
        self.allocated += size;
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_to_the_total_exactly_with_a_smaller_last_chunk() {
        let mut hog = MemoryHog::new(10 * 1024, 4 * 1024);
        let sizes: Vec<u64> = std::iter::from_fn(|| {
            (!hog.is_done()).then(|| hog.allocate_next_chunk().expect("a few KiB fit"))
        })
        .collect();
        assert_eq!(sizes, [4096, 4096, 2048]);
        assert_eq!(hog.allocated(), 10 * 1024);
        assert!(hog.chunks.iter().flatten().all(|byte| *byte == FILL_BYTE));
    }

    #[test]
    fn an_impossible_chunk_is_an_error_not_a_crash() {
        let mut hog = MemoryHog::new(u64::MAX, u64::MAX);
        let error = hog
            .allocate_next_chunk()
            .expect_err("no machine has 16 EiB");
        assert_eq!(
            error.to_string(),
            "could not allocate a 18446744073709551615 chunk after allocating 0: out of memory"
        );
    }
}
