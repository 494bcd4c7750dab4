//! Where log files live, laid out like the kubelet's /var/log/pods:
//! `ROOT/<namespace>_<pod>_<uid>/<container>/<instance>.log`, with rotated files named
//! `<instance>.log.<YYYYMMDD-HHMMSS.nnnnnnnnn>` beside the current one.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::tz::Offset;

/// A name that cannot be part of a log path, because it is not a valid Kubernetes name
/// and could otherwise reach outside the log root (`..`, `/`) or make the
/// `<namespace>_<pod>_<uid>` directory names ambiguous (`_`).
#[derive(Debug, thiserror::Error)]
#[error("invalid {kind} {value:?}: {rule}")]
pub struct NameError {
    kind: &'static str,
    value: String,
    rule: &'static str,
}

impl From<NameError> for io::Error {
    fn from(error: NameError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, error)
    }
}

/// The longest name Kubernetes accepts for a DNS subdomain (a pod's name).
const MAXIMUM_NAME_LENGTH: usize = 253;

const DNS_SUBDOMAIN_RULE: &str = "must be at most 253 lower case alphanumeric characters, \
    '-' or '.', and must start and end with an alphanumeric character";

const UID_RULE: &str = "must be at most 253 alphanumeric characters or '-', \
    and must start with an alphanumeric character";

/// Checks a namespace, pod or container name: all three are DNS subdomains or labels in
/// Kubernetes, so the subdomain rule admits every valid one and nothing that is not a
/// plain file name without `_`.
pub(crate) fn validate_name(kind: &'static str, value: &str) -> Result<(), NameError> {
    let bytes = value.as_bytes();
    let allowed = |byte: &u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    let valid = !bytes.is_empty()
        && bytes.len() <= MAXIMUM_NAME_LENGTH
        && bytes.first().is_some_and(allowed)
        && bytes.last().is_some_and(allowed)
        && bytes
            .iter()
            .all(|byte| allowed(byte) || *byte == b'-' || *byte == b'.');
    if valid {
        Ok(())
    } else {
        Err(NameError {
            kind,
            value: value.to_owned(),
            rule: DNS_SUBDOMAIN_RULE,
        })
    }
}

/// Checks a pod's uid, which Kubernetes generates as a UUID.
pub(crate) fn validate_uid(value: &str) -> Result<(), NameError> {
    let bytes = value.as_bytes();
    let valid = !bytes.is_empty()
        && bytes.len() <= MAXIMUM_NAME_LENGTH
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'-');
    if valid {
        Ok(())
    } else {
        Err(NameError {
            kind: "pod uid",
            value: value.to_owned(),
            rule: UID_RULE,
        })
    }
}

/// A pod whose log directory exists under the log root.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodLogDir {
    pub namespace: String,
    pub pod: String,
    pub uid: String,
}

impl PodLogDir {
    /// Reads a directory name back; `None` for anything that is not one of ours.
    pub(crate) fn parse(directory_name: &str) -> Option<PodLogDir> {
        let mut parts = directory_name.split('_');
        let (namespace, pod, uid) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some()
            || validate_name("namespace", namespace).is_err()
            || validate_name("pod name", pod).is_err()
            || validate_uid(uid).is_err()
        {
            return None;
        }
        Some(PodLogDir {
            namespace: namespace.to_owned(),
            pod: pod.to_owned(),
            uid: uid.to_owned(),
        })
    }
}

pub(crate) fn pod_directory_name(namespace: &str, pod: &str, uid: &str) -> String {
    format!("{namespace}_{pod}_{uid}")
}

/// The file an instance of a container is writing to now.
pub(crate) fn current_file_name(instance: u32) -> String {
    format!("{instance}.log")
}

/// The name a current file gets when it is rotated at `rotated_at`. The nanoseconds keep
/// names unique when a busy container rotates more than once a second, and their fixed
/// width keeps the names sorting in the order they were rotated.
pub(crate) fn rotated_file_name(instance: u32, rotated_at: Timestamp) -> String {
    format!(
        "{instance}.log.{}",
        rotated_at.strftime("%Y%m%d-%H%M%S%.9f")
    )
}

/// A rotated file of an instance, with the time it was rotated (from its name).
#[derive(Clone, Debug)]
pub(crate) struct RotatedFile {
    pub(crate) path: PathBuf,
    pub(crate) rotated_at: Timestamp,
}

/// One instance's files in a container's log directory.
#[derive(Debug, Default)]
pub(crate) struct InstanceFiles {
    /// Oldest first.
    pub(crate) rotated: Vec<RotatedFile>,
    pub(crate) current: Option<PathBuf>,
}

impl InstanceFiles {
    /// Every file, oldest first, ending with the current one.
    pub(crate) fn paths_in_order(&self) -> impl Iterator<Item = &Path> {
        self.rotated
            .iter()
            .map(|rotated| rotated.path.as_path())
            .chain(self.current.as_deref())
    }
}

/// Lists a container's log directory by instance. Files that are not named as ours are
/// left out. A missing directory has no instances.
pub(crate) fn list_instances(
    container_directory: &Path,
) -> io::Result<BTreeMap<u32, InstanceFiles>> {
    let mut instances: BTreeMap<u32, InstanceFiles> = BTreeMap::new();
    let entries = match fs::read_dir(container_directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(instances),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Some((instance_text, rest)) = name.split_once(".log") else {
            continue;
        };
        // Only the canonical spelling: "007.log" or "+7.log" are not ours.
        let Ok(instance) = instance_text.parse::<u32>() else {
            continue;
        };
        if instance.to_string() != instance_text {
            continue;
        }
        let files = instances.entry(instance).or_default();
        if rest.is_empty() {
            files.current = Some(entry.path());
        } else if let Some(rotated_at) = rest.strip_prefix('.').and_then(parse_rotation_suffix) {
            files.rotated.push(RotatedFile {
                path: entry.path(),
                rotated_at,
            });
        }
    }
    for files in instances.values_mut() {
        files.rotated.sort_by_key(|rotated| rotated.rotated_at);
    }
    instances.retain(|_, files| files.current.is_some() || !files.rotated.is_empty());
    Ok(instances)
}

/// Opens a file for reading, or `None` if it is gone: a rotation or a newer instance
/// may delete files between a listing and the opening.
pub(crate) fn open_if_present(path: &Path) -> io::Result<Option<File>> {
    match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Reads the time from a rotated file's suffix: ours (`20240102-030405.123456789`) or the
/// kubelet's (`20240102-030405`).
fn parse_rotation_suffix(suffix: &str) -> Option<Timestamp> {
    let broken_down = jiff::fmt::strtime::parse("%Y%m%d-%H%M%S%.f", suffix).ok()?;
    Offset::UTC
        .to_timestamp(broken_down.to_datetime().ok()?)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_names_read_back_to_the_time_they_were_made_from() {
        let rotated_at: Timestamp = "2024-01-02T03:04:05.000000007Z".parse().unwrap();
        let name = rotated_file_name(3, rotated_at);
        assert_eq!(name, "3.log.20240102-030405.000000007");
        assert_eq!(
            parse_rotation_suffix(&name["3.log.".len()..]),
            Some(rotated_at)
        );
        let kubelet_style: Timestamp = "2024-01-02T03:04:05Z".parse().unwrap();
        assert_eq!(
            parse_rotation_suffix("20240102-030405"),
            Some(kubelet_style)
        );
        assert_eq!(parse_rotation_suffix("20240102-030405.gz"), None);
    }

    #[test]
    fn names_that_could_escape_or_confuse_the_layout_are_refused() {
        for bad in ["", "..", "a/b", "a_b", "-a", "a-", "A", ".a"] {
            let error = validate_name("pod name", bad).unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("invalid pod name {bad:?}: "))
            );
        }
        validate_name("pod name", "web-0.example").unwrap();
        assert!(validate_uid("../x").is_err());
        validate_uid("0f3c-AB12").unwrap();
    }

    #[test]
    fn pod_directory_names_round_trip() {
        let dir = PodLogDir {
            namespace: "default".into(),
            pod: "web".into(),
            uid: "u-1".into(),
        };
        assert_eq!(
            PodLogDir::parse(&pod_directory_name(&dir.namespace, &dir.pod, &dir.uid)),
            Some(dir)
        );
        assert_eq!(PodLogDir::parse("default_web"), None);
        assert_eq!(PodLogDir::parse("default_web_u_1"), None);
    }
}
