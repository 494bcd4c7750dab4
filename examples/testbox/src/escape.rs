//! `escape DIR`: tries every way out of a preopened directory that a guest could try, so
//! that tests can check the sandbox holds. DIR should be a volume's mount path itself:
//! anything above it must be out of reach.

use std::fs;
use std::io;
use std::path::Path;
use std::process::ExitCode;

use crate::arguments::{AppletError, exactly};

/// The exit code when at least one attempt got out.
const ESCAPED_EXIT_CODE: u8 = 3;

/// The longest piece of escaped content quoted in a report line.
const EVIDENCE_LIMIT: usize = 80;

/// One way out: how it is described in the report, and the attempt itself, which
/// returns what it read outside on success or why it was refused.
type EscapeAttempt<'a> = (String, Box<dyn Fn() -> Result<String, String> + 'a>);

/// Runs every attempt and prints one line for each: `ATTEMPT: blocked (ERROR)` or
/// `ATTEMPT: ESCAPED (what it read)`. Exits 0 if all were blocked, 3 otherwise.
pub fn escape(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [directory] = exactly("escape DIR", arguments)?;
    let directory = Path::new(directory);
    let shown = directory.display();
    let attempts: [EscapeAttempt; 11] = [
        (
            format!("open {shown}/../../../../etc/passwd"),
            Box::new(|| read_evidence(&directory.join("../../../../etc/passwd"))),
        ),
        (
            "open /etc/passwd".to_owned(),
            Box::new(|| read_evidence(Path::new("/etc/passwd"))),
        ),
        (
            "open /".to_owned(),
            Box::new(|| {
                fs::File::open("/")
                    .map(|_| "opened /".to_owned())
                    .map_err(|error| error.to_string())
            }),
        ),
        (
            "read_dir /".to_owned(),
            Box::new(|| list_evidence(Path::new("/"))),
        ),
        (
            format!("symlink {shown}/abs -> /etc, read {shown}/abs/passwd"),
            Box::new(|| through_symlink(directory, "abs", "/etc")),
        ),
        (
            format!("symlink {shown}/rel -> ../../../../../../etc, read {shown}/rel/passwd"),
            Box::new(|| through_symlink(directory, "rel", "../../../../../../etc")),
        ),
        (
            format!("symlink {shown}/slash -> /etc/, read {shown}/slash/passwd"),
            Box::new(|| through_symlink(directory, "slash", "/etc/")),
        ),
        (
            format!("hard link {shown}/hard -> /etc/passwd"),
            Box::new(|| through_hard_link(directory)),
        ),
        (
            format!("rename {shown}/x -> {shown}/../x"),
            Box::new(|| rename_out(directory, &directory.join("../x"))),
        ),
        (
            format!("rename {shown}/x -> /tmp/x"),
            Box::new(|| rename_out(directory, Path::new("/tmp/x"))),
        ),
        (
            format!("read_dir {shown}/./../"),
            Box::new(|| list_evidence(&directory.join("./../"))),
        ),
    ];
    let mut escaped_any = false;
    for (attempt, try_escape) in &attempts {
        match try_escape() {
            Ok(evidence) => {
                escaped_any = true;
                println!("{attempt}: ESCAPED ({evidence})");
            }
            Err(error) => println!("{attempt}: blocked ({error})"),
        }
    }
    Ok(if escaped_any {
        ExitCode::from(ESCAPED_EXIT_CODE)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads a file and quotes its first line: proof that the read got through.
fn read_evidence(path: &Path) -> Result<String, String> {
    let content = fs::read(path).map_err(|error| error.to_string())?;
    let text = String::from_utf8_lossy(&content);
    let first_line: String = text
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(EVIDENCE_LIMIT)
        .collect();
    Ok(format!("read {first_line:?}"))
}

/// Lists a directory and quotes a few of its names: proof that the listing got through.
fn list_evidence(path: &Path) -> Result<String, String> {
    let mut names = fs::read_dir(path)
        .and_then(|entries| {
            entries
                .map(|entry| entry.map(|entry| entry.file_name().to_string_lossy().into_owned()))
                .collect::<io::Result<Vec<String>>>()
        })
        .map_err(|error| error.to_string())?;
    names.sort();
    let shown: String = names.join(", ").chars().take(EVIDENCE_LIMIT).collect();
    Ok(format!("listed {} entries: {shown}", names.len()))
}

/// Creates `DIR/NAME -> TARGET` and reads `passwd` through it. Creating the link may
/// itself be refused, which counts as blocked.
fn through_symlink(directory: &Path, name: &str, target: &str) -> Result<String, String> {
    let link = directory.join(name);
    remove_leftover(&link)?;
    create_symlink(target, &link).map_err(|error| format!("creating the symlink: {error}"))?;
    read_evidence(&link.join("passwd"))
}

/// Creates the symlink `link -> target`.
#[expect(
    deprecated,
    reason = "fs::soft_link is the one stable way to create a symlink on WASI \
              (std::os::wasi::fs::symlink_path is unstable), and it works natively too"
)]
fn create_symlink(target: &str, link: &Path) -> io::Result<()> {
    fs::soft_link(target, link)
}

/// Hard-links `/etc/passwd` into the directory and reads it from there.
fn through_hard_link(directory: &Path) -> Result<String, String> {
    let link = directory.join("hard");
    remove_leftover(&link)?;
    fs::hard_link("/etc/passwd", &link).map_err(|error| format!("creating the link: {error}"))?;
    read_evidence(&link)
}

/// Creates `DIR/x` and tries to move it outside.
fn rename_out(directory: &Path, destination: &Path) -> Result<String, String> {
    let source = directory.join("x");
    fs::write(&source, "x").map_err(|error| format!("creating {}: {error}", source.display()))?;
    fs::rename(&source, destination).map_err(|error| error.to_string())?;
    Ok(format!("moved to {}", destination.display()))
}

/// Removes what an earlier run left at `path`, so that each run starts clean.
fn remove_leftover(path: &Path) -> Result<(), String> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => {
            Err(format!("removing the leftover {}: {error}", path.display()))
        }
        _ => Ok(()),
    }
}
