//! The two init containers' work, and what the roles share.

use std::fs;
use std::path::{Path, PathBuf};

/// The page in the shared volume.
pub fn page_path(directory: &str) -> PathBuf {
    Path::new(directory).join("html").join("index.html")
}

/// The app's access log in the shared volume.
pub fn access_log_path(directory: &str) -> PathBuf {
    Path::new(directory).join("logs").join("access.log")
}

pub fn port(text: &str) -> Result<u16, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a port number"))
}

/// The pod's name, which the node gives every container as HOSTNAME.
pub fn pod_name() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown-pod".to_owned())
}

fn create_parent(path: &Path) -> Result<(), String> {
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent)
        .map_err(|error| format!("cannot create {}: {error}", parent.display()))
}

/// The first init container: writes the page. The app container starts only after every
/// init container has succeeded, so the page is always there when it serves.
pub fn write_page(directory: &str) -> Result<(), String> {
    let page = page_path(directory);
    create_parent(&page)?;
    create_parent(&access_log_path(directory))?;
    let text = format!(
        "Hello from pod {}: this page was written by the init container write-page.\n",
        pod_name()
    );
    fs::write(&page, text).map_err(|error| format!("cannot write {}: {error}", page.display()))?;
    println!("write-page: wrote {}", page.display());
    Ok(())
}

/// The second init container: runs only after the first succeeded, so it finds the page
/// and stamps it. Run on its own it fails, and the pod would stay in `Init:Error`.
pub fn check_page(directory: &str) -> Result<(), String> {
    let page = page_path(directory);
    let text = fs::read_to_string(&page).map_err(|error| {
        format!(
            "no page at {} (did write-page run?): {error}",
            page.display()
        )
    })?;
    fs::write(
        &page,
        format!("{text}It was checked by the init container check-page, which ran second.\n"),
    )
    .map_err(|error| format!("cannot stamp {}: {error}", page.display()))?;
    println!(
        "check-page: found {} ({} bytes) and stamped it",
        page.display(),
        text.len()
    );
    Ok(())
}
