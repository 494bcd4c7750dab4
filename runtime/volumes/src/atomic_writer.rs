//! The kubelet's atomic writer (`pkg/volume/util/atomic_writer.go`): how configMap, secret,
//! downwardAPI and projected volumes put their files on disk so that a running container sees
//! either the whole old set of files or the whole new one, never a mix.
//!
//! The layout of a volume directory is the kubelet's:
//!
//! ```text
//! <volume>/..2026_11_22_10_00_00.123456789/   the real files of the current version
//! <volume>/..data -> ..2026_11_22_10_00_00.123456789
//! <volume>/config.yaml -> ..data/config.yaml  one link per top-level path component
//! <volume>/nested -> ..data/nested            (for an item path like nested/file)
//! ```
//!
//! An update writes a new timestamped directory, points a `..data_tmp` symlink at it and
//! renames that over `..data`; the rename is atomic, so every open through a user-visible link
//! resolves to one version only. All links are relative, so they also resolve inside a WASI
//! preopen of the volume directory, which refuses absolute symlinks.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The symlink to the timestamped directory that holds the current version.
const DATA_DIR_NAME: &str = "..data";
/// The symlink built next to `..data` and renamed over it to switch versions atomically.
const NEW_DATA_DIR_NAME: &str = "..data_tmp";
/// The kubelet's limit on a whole projected path.
const MAX_PATH_LENGTH: usize = 4096;
/// The kubelet's limit on one component of a projected path.
const MAX_FILE_NAME_LENGTH: usize = 255;
/// How many differently suffixed names are tried when a timestamped directory already exists.
const TIMESTAMPED_DIR_ATTEMPTS: u32 = 1000;

/// The mode of a projected file when neither `defaultMode` nor the item's `mode` is set:
/// Kubernetes' 0644 (420 in decimal).
pub(crate) const DEFAULT_FILE_MODE: i32 = 0o644;

/// Why a payload could not be projected into a volume directory. The path messages are the
/// kubelet's.
#[derive(Debug, thiserror::Error)]
pub enum AtomicWriteError {
    #[error("invalid path: must not be empty: {path:?}")]
    EmptyPath { path: String },
    #[error("invalid path: must be relative path: {path}")]
    AbsolutePath { path: String },
    #[error("invalid path: must be less than or equal to {MAX_PATH_LENGTH} characters")]
    PathTooLong,
    #[error("invalid path: must not contain '..': {path}")]
    Backsteps { path: String },
    #[error(
        "invalid path: filenames must be less than or equal to {MAX_FILE_NAME_LENGTH} characters"
    )]
    FileNameTooLong,
    #[error("invalid path: must not start with '..': {path}")]
    LeadingDots { path: String },
    #[error(
        "invalid mode {mode} for path {path}: must be a number between 0 and 0777 (octal), both inclusive"
    )]
    InvalidMode { path: String, mode: i32 },
    #[error("cannot link {path}: it exists and is not a link into ..data")]
    Occupied { path: PathBuf },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// One file of a payload: its bytes and its permission bits.
///
/// The mode is applied on unix only; other operating systems have no such permission bits, so
/// there the mode is validated and otherwise ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileProjection {
    data: Vec<u8>,
    mode: u32,
}

impl FileProjection {
    /// A file for `path` (named only in the error) with `mode`, which must be within 0..=0777
    /// as the API server's validation also requires.
    pub(crate) fn new(path: &str, data: Vec<u8>, mode: i32) -> Result<Self, AtomicWriteError> {
        match u32::try_from(mode) {
            Ok(mode) if mode <= 0o777 => Ok(FileProjection { data, mode }),
            _ => Err(AtomicWriteError::InvalidMode {
                path: path.to_string(),
                mode,
            }),
        }
    }
}

/// The files of a volume by their relative path (`/`-separated).
pub(crate) type Payload = BTreeMap<String, FileProjection>;

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> AtomicWriteError {
    let path = path.to_path_buf();
    move |source| AtomicWriteError::Io {
        action,
        path,
        source,
    }
}

/// Checks a payload path as the kubelet's `validatePath` does and returns its clean form
/// (no empty or `.` components), which is the key the file is written under.
fn clean_payload_path(path: &str) -> Result<String, AtomicWriteError> {
    if path.starts_with('/') || Path::new(path).is_absolute() {
        return Err(AtomicWriteError::AbsolutePath {
            path: path.to_string(),
        });
    }
    if path.len() > MAX_PATH_LENGTH {
        return Err(AtomicWriteError::PathTooLong);
    }
    let components: Vec<&str> = path
        .split('/')
        .filter(|component| !component.is_empty() && *component != ".")
        .collect();
    for component in &components {
        if *component == ".." {
            return Err(AtomicWriteError::Backsteps {
                path: path.to_string(),
            });
        }
        if component.len() > MAX_FILE_NAME_LENGTH {
            return Err(AtomicWriteError::FileNameTooLong);
        }
    }
    match components.first() {
        None => Err(AtomicWriteError::EmptyPath {
            path: path.to_string(),
        }),
        Some(first) if first.starts_with("..") => Err(AtomicWriteError::LeadingDots {
            path: path.to_string(),
        }),
        Some(_) => Ok(components.join("/")),
    }
}

fn top_level_component(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}

/// Projects `payload` into `target_dir` with the kubelet's layout and returns whether anything
/// on disk changed. Calling it again with the same payload changes nothing, which is what makes
/// preparing a pod's volumes again after a node-agent restart harmless.
pub(crate) fn write_payload(target_dir: &Path, payload: Payload) -> Result<bool, AtomicWriteError> {
    let mut clean = Payload::new();
    for (path, file) in payload {
        clean.insert(clean_payload_path(&path)?, file);
    }
    fs::create_dir_all(target_dir).map_err(io_error("creating", target_dir))?;
    remove_link_if_present(&target_dir.join(NEW_DATA_DIR_NAME))?;

    let current = current_timestamped_dir(target_dir)?;
    let unchanged = current
        .as_deref()
        .is_some_and(|name| files_match(&target_dir.join(name), &clean));
    let (current_name, changed) = match current {
        Some(name) if unchanged => (name, false),
        _ => {
            let new_name = create_timestamped_dir(target_dir)?;
            write_files(&target_dir.join(&new_name), &clean)?;
            switch_data_dir(target_dir, &new_name)?;
            (new_name, true)
        }
    };
    sync_user_visible_links(target_dir, &clean)?;
    remove_stale_timestamped_dirs(target_dir, &current_name)?;
    Ok(changed)
}

/// The timestamped directory `..data` points at, if the volume has been written before.
fn current_timestamped_dir(target_dir: &Path) -> Result<Option<String>, AtomicWriteError> {
    let data_link = target_dir.join(DATA_DIR_NAME);
    match fs::read_link(&data_link) {
        Ok(target) => {
            let name = target.to_str().filter(|name| {
                name.starts_with("..") && !name.contains(['/', '\\']) && name.len() > 2
            });
            Ok(name
                .filter(|name| target_dir.join(name).is_dir())
                .map(str::to_string))
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io_error("reading the link", &data_link)(error)),
    }
}

/// Whether the files under `dir` are exactly the payload: same paths, same bytes, same modes.
/// Anything unreadable counts as a difference, so the volume is simply written again.
fn files_match(dir: &Path, payload: &Payload) -> bool {
    let Some(paths) = regular_files_under(dir) else {
        return false;
    };
    if !paths.iter().eq(payload.keys()) {
        return false;
    }
    payload.iter().all(|(path, file)| {
        let full_path = dir.join(path);
        let same_data = fs::read(&full_path).is_ok_and(|data| data == file.data);
        same_data && mode_matches(&full_path, file.mode)
    })
}

#[cfg(unix)]
fn mode_matches(path: &Path, mode: u32) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::symlink_metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o777 == mode)
}

#[cfg(not(unix))]
fn mode_matches(_path: &Path, _mode: u32) -> bool {
    true
}

/// The relative paths of the regular files under `dir`, or `None` when the tree cannot be read
/// or holds anything a payload never writes (a symlink, a device).
fn regular_files_under(dir: &Path) -> Option<BTreeSet<String>> {
    let mut files = BTreeSet::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((directory, prefix)) = pending.pop() {
        for entry in fs::read_dir(&directory).ok()? {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            let relative = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let file_type = entry.file_type().ok()?;
            if file_type.is_dir() {
                pending.push((entry.path(), relative));
            } else if file_type.is_file() {
                files.insert(relative);
            } else {
                return None;
            }
        }
    }
    Some(files)
}

/// Creates a new, empty timestamped directory named like the kubelet's
/// (`..2026_11_22_10_00_00.123456789`) and returns its name.
fn create_timestamped_dir(target_dir: &Path) -> Result<String, AtomicWriteError> {
    let base_name = jiff::Timestamp::now()
        .strftime("..%Y_%m_%d_%H_%M_%S.%N")
        .to_string();
    let mut last_error = None;
    for attempt in 0..TIMESTAMPED_DIR_ATTEMPTS {
        let name = if attempt == 0 {
            base_name.clone()
        } else {
            format!("{base_name}{attempt}")
        };
        let path = target_dir.join(&name);
        match fs::create_dir(&path) {
            Ok(()) => {
                set_mode(&path, 0o755)?;
                return Ok(name);
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => last_error = Some(error),
            Err(error) => return Err(io_error("creating", &path)(error)),
        }
    }
    let error = last_error.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists));
    Err(io_error("creating a timestamped directory in", target_dir)(
        error,
    ))
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), AtomicWriteError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(io_error("setting the mode of", path))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), AtomicWriteError> {
    Ok(())
}

fn write_files(dir: &Path, payload: &Payload) -> Result<(), AtomicWriteError> {
    for (path, file) in payload {
        let full_path = dir.join(path);
        if let Some(parent) = full_path.parent() {
            fs::create_dir_all(parent).map_err(io_error("creating", parent))?;
        }
        fs::write(&full_path, &file.data).map_err(io_error("writing", &full_path))?;
        // The mode is set after writing, as the kubelet does, so that the process umask cannot
        // narrow it and a read-only mode does not stop the write itself.
        set_mode(&full_path, file.mode)?;
    }
    Ok(())
}

/// Points `..data` at `new_name` by renaming a fresh `..data_tmp` link over it.
fn switch_data_dir(target_dir: &Path, new_name: &str) -> Result<(), AtomicWriteError> {
    let new_link = target_dir.join(NEW_DATA_DIR_NAME);
    let data_link = target_dir.join(DATA_DIR_NAME);
    symlink(Path::new(new_name), &new_link, true)
        .map_err(io_error("creating the link", &new_link))?;
    replace_link(&new_link, &data_link).map_err(io_error("renaming the link over", &data_link))
}

#[cfg(unix)]
fn replace_link(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)
}

/// Windows cannot rename a directory symlink over an existing one, so the old link is removed
/// first; there the switch is not atomic, and a reader may briefly find no `..data`.
#[cfg(windows)]
fn replace_link(from: &Path, to: &Path) -> io::Result<()> {
    match fs::remove_dir(to) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    fs::rename(from, to)
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path, _target_is_dir: bool) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(windows)]
fn symlink(target: &Path, link: &Path, target_is_dir: bool) -> io::Result<()> {
    if target_is_dir {
        std::os::windows::fs::symlink_dir(target, link)
    } else {
        std::os::windows::fs::symlink_file(target, link)
    }
}

fn remove_link_if_present(link: &Path) -> Result<(), AtomicWriteError> {
    let removed = if link.is_dir() && cfg!(windows) {
        fs::remove_dir(link)
    } else {
        fs::remove_file(link)
    };
    match removed {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(io_error("removing", link)(error)),
    }
}

/// The link target of the user-visible entry for a top-level payload name.
fn data_link_target(name: &str) -> PathBuf {
    Path::new(DATA_DIR_NAME).join(name)
}

/// Makes the user-visible links match the payload: one `name -> ..data/name` link per
/// top-level name, and no link into `..data` for names the payload no longer has. Entries that
/// are not such links (for example a subPath directory created in the volume) are left alone.
fn sync_user_visible_links(target_dir: &Path, payload: &Payload) -> Result<(), AtomicWriteError> {
    let wanted: BTreeSet<&str> = payload
        .keys()
        .map(|path| top_level_component(path))
        .collect();
    for entry in fs::read_dir(target_dir).map_err(io_error("listing", target_dir))? {
        let entry = entry.map_err(io_error("listing", target_dir))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let is_ours = fs::read_link(entry.path()).is_ok_and(|target| {
            target.starts_with(DATA_DIR_NAME) && target != Path::new(DATA_DIR_NAME)
        });
        if !name.starts_with("..") && is_ours && !wanted.contains(name.as_str()) {
            remove_link_if_present(&entry.path())?;
        }
    }
    for name in wanted {
        let link = target_dir.join(name);
        let expected = data_link_target(name);
        match fs::read_link(&link) {
            Ok(target) if target == expected => continue,
            Ok(_) => remove_link_if_present(&link)?,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(_) => return Err(AtomicWriteError::Occupied { path: link }),
        }
        let target_is_dir = target_dir.join(&expected).is_dir();
        symlink(&expected, &link, target_is_dir).map_err(io_error("creating the link", &link))?;
    }
    Ok(())
}

/// Removes every timestamped directory but the current one: the previous version after a
/// switch, and anything a crash between writing and switching left behind.
fn remove_stale_timestamped_dirs(
    target_dir: &Path,
    current_name: &str,
) -> Result<(), AtomicWriteError> {
    for entry in fs::read_dir(target_dir).map_err(io_error("listing", target_dir))? {
        let entry = entry.map_err(io_error("listing", target_dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if !name.starts_with("..") || name == DATA_DIR_NAME || name == current_name {
            continue;
        }
        let path = entry.path();
        let is_real_dir = entry.file_type().is_ok_and(|file_type| file_type.is_dir());
        if is_real_dir {
            fs::remove_dir_all(&path).map_err(io_error("removing", &path))?;
        } else {
            remove_link_if_present(&path)?;
        }
    }
    Ok(())
}
