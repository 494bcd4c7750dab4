//! Resident memory of the benchmark's processes, read portably through sysinfo (on Linux
//! it is VmRSS, from /proc), and on Linux their proportional set size too.
//!
//! Resident memory counts a page once per mapping of it. Every instance of a module maps
//! the module's initial memory image (a memfd, copy-on-write), so the pages of that image
//! that guests read count once per instance, though they are in memory once. The
//! proportional set size counts each such page once.

use anyhow::Context;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// The resident memory of the node agent's process and, when the control plane runs in
/// a process of its own, of the API server's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemorySample {
    pub agent_bytes: u64,
    /// The node agent's process's proportional set size, where the system reports it.
    pub agent_proportional_bytes: Option<u64>,
    /// The node agent's process's memory mappings (Linux's `vm.max_map_count` bounds
    /// them), where the system lists them.
    pub agent_mappings: Option<u64>,
    pub server_bytes: Option<u64>,
}

/// The resident set size of the process `pid`, in bytes.
pub fn resident_bytes(process_id: u32) -> anyhow::Result<u64> {
    let pid = Pid::from_u32(process_id);
    let mut system = System::new().context("cannot read the system's process table")?;
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        false,
        ProcessRefreshKind::nothing().with_memory(),
    );
    system
        .process(pid)
        .map(sysinfo::Process::memory)
        .with_context(|| format!("cannot read the resident memory of process {process_id}"))
}

/// The proportional set size of the process `pid`, from Linux's
/// `/proc/PID/smaps_rollup`; `None` where there is no such file.
pub fn proportional_bytes(pid: u32) -> Option<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    proportional_bytes_in_rollup(&rollup)
}

/// How many memory mappings the process `pid` has: the lines of Linux's
/// `/proc/PID/maps`; `None` where there is no such file.
pub fn mapping_count(pid: u32) -> Option<u64> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    u64::try_from(maps.lines().count()).ok()
}

/// The `Pss:` line of an smaps_rollup, which is in kibibytes.
fn proportional_bytes_in_rollup(rollup: &str) -> Option<u64> {
    let kibibytes = rollup
        .lines()
        .find_map(|line| line.strip_prefix("Pss:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    kibibytes.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_resident_memory() {
        let before = resident_bytes(std::process::id()).unwrap();
        let block = vec![1_u8; 128 << 20];
        let after = resident_bytes(std::process::id()).unwrap();
        assert!(before > 0);
        // Other tests in this process allocate and free at the same time: some slack.
        assert!(
            after >= before + (96 << 20),
            "128 MiB touched, but resident memory went from {before} to {after}"
        );
        assert_eq!(
            block.iter().map(|byte| u64::from(*byte)).sum::<u64>(),
            128 << 20
        );
    }

    #[test]
    fn the_proportional_set_size_is_read_from_the_rollup() {
        let rollup = "7f0000000000-7fff00000000 ---p 00000000 00:00 0  [rollup]\nRss:  666868 kB\nPss:  507259 kB\nPss_Dirty:  477287 kB\n";
        assert_eq!(proportional_bytes_in_rollup(rollup), Some(507_259 * 1024));
        assert_eq!(proportional_bytes_in_rollup("Rss: 1 kB\n"), None);
        assert_eq!(proportional_bytes_in_rollup("Pss: many kB\n"), None);
        if cfg!(target_os = "linux") {
            let own = proportional_bytes(std::process::id()).unwrap();
            assert!(own > 0 && own <= resident_bytes(std::process::id()).unwrap() * 2);
            // The executable alone is several mappings (text, read-only data, data).
            assert!(mapping_count(std::process::id()).unwrap() > 3);
        }
    }

    #[test]
    fn a_process_that_does_not_exist_is_an_error_naming_it() {
        // Far above Linux's largest process id (pid_max is at most 2^22).
        let missing = 1 << 30;
        let error = resident_bytes(missing).unwrap_err().to_string();
        assert_eq!(
            error,
            "cannot read the resident memory of process 1073741824"
        );
        assert_eq!(proportional_bytes(missing), None);
        assert_eq!(mapping_count(missing), None);
    }
}
