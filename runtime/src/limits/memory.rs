//! The memory limit: a container's linear memories and tables together may not grow
//! past `limits.memory`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::ResourceLimiter;

/// Each table element is a pointer-sized reference on the host.
const BYTES_PER_TABLE_ELEMENT: u64 = 8;

/// The error that ends a guest whose memory would grow past its limit. Returning an
/// error (rather than refusing the growth) stops the guest at once, as the kernel's OOM
/// killer stops a process, instead of letting it limp on with a failed allocation.
#[derive(Debug, thiserror::Error)]
#[error(
    "the container's memory limit of {limit_bytes} bytes was exceeded: growing to {requested_bytes} bytes"
)]
pub struct MemoryLimitExceeded {
    pub limit_bytes: u64,
    pub requested_bytes: u64,
}

/// The bytes a container's running guest holds in memories and tables now, shared with
/// whoever reports it (the node's resource metrics). A guest's memory never shrinks while
/// it runs, and all of it is released when the guest ends.
#[derive(Debug, Default)]
pub struct MemoryUsage {
    bytes: AtomicU64,
}

impl MemoryUsage {
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// Counts the bytes a container's memories and tables hold and refuses growth past the
/// limit, remembering that it did so: the container then ends as `OOMKilled`.
#[derive(Debug)]
pub struct MemoryLimiter {
    limit_bytes: u64,
    used_bytes: u64,
    exceeded: bool,
    usage: Arc<MemoryUsage>,
}

impl MemoryLimiter {
    pub fn new(limit_bytes: u64, usage: Arc<MemoryUsage>) -> MemoryLimiter {
        MemoryLimiter {
            limit_bytes,
            used_bytes: 0,
            exceeded: false,
            usage,
        }
    }

    /// Whether the guest tried to grow past its limit (and was stopped for it).
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }

    fn grow(&mut self, current_bytes: u64, desired_bytes: u64) -> wasmtime::Result<bool> {
        let growth = desired_bytes.saturating_sub(current_bytes);
        let requested_bytes = self.used_bytes.saturating_add(growth);
        if requested_bytes > self.limit_bytes {
            self.exceeded = true;
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                limit_bytes: self.limit_bytes,
                requested_bytes,
            }));
        }
        self.used_bytes = requested_bytes;
        self.usage.bytes.fetch_add(growth, Ordering::Relaxed);
        Ok(true)
    }
}

/// The limiter lives in the guest's store, so it is dropped when the guest's memories are:
/// what it counted is released then.
impl Drop for MemoryLimiter {
    fn drop(&mut self) {
        self.usage
            .bytes
            .fetch_sub(self.used_bytes, Ordering::Relaxed);
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(current as u64, desired as u64)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(
            (current as u64).saturating_mul(BYTES_PER_TABLE_ELEMENT),
            (desired as u64).saturating_mul(BYTES_PER_TABLE_ELEMENT),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_within_the_limit_is_allowed_and_counted_across_memories() {
        let usage = Arc::new(MemoryUsage::default());
        let mut limiter = MemoryLimiter::new(100, Arc::clone(&usage));
        assert!(limiter.memory_growing(0, 60, None).unwrap());
        assert!(limiter.table_growing(0, 5, None).unwrap());
        assert!(!limiter.exceeded());
        assert_eq!(usage.bytes(), 100);
        let error = limiter.memory_growing(0, 1, None).unwrap_err();
        assert!(limiter.exceeded());
        assert_eq!(
            error.to_string(),
            "the container's memory limit of 100 bytes was exceeded: growing to 101 bytes"
        );
        assert_eq!(usage.bytes(), 100, "refused growth is not counted");
        drop(limiter);
        assert_eq!(usage.bytes(), 0, "a guest's memory is released with it");
    }
}
