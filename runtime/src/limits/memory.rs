//! The memory limit: a container's linear memories and tables together may not grow
//! past `limits.memory`.

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

/// Counts the bytes a container's memories and tables hold and refuses growth past the
/// limit, remembering that it did so: the container then ends as `OOMKilled`.
#[derive(Debug)]
pub struct MemoryLimiter {
    limit_bytes: u64,
    used_bytes: u64,
    exceeded: bool,
}

impl MemoryLimiter {
    pub fn new(limit_bytes: u64) -> MemoryLimiter {
        MemoryLimiter {
            limit_bytes,
            used_bytes: 0,
            exceeded: false,
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
        Ok(true)
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
        let mut limiter = MemoryLimiter::new(100);
        assert!(limiter.memory_growing(0, 60, None).unwrap());
        assert!(limiter.table_growing(0, 5, None).unwrap());
        assert!(!limiter.exceeded());
        let error = limiter.memory_growing(0, 1, None).unwrap_err();
        assert!(limiter.exceeded());
        assert_eq!(
            error.to_string(),
            "the container's memory limit of 100 bytes was exceeded: growing to 101 bytes"
        );
    }
}
