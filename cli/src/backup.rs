//! `wasmkube backup save|restore|status`: etcd's `etcdctl snapshot save`, `etcdutl
//! snapshot restore` and `etcdutl snapshot status` for a wasmkube cluster. `save` asks
//! the running API server for a snapshot (the store at one revision and the image
//! store) and, given the server's data directory, adds its identity files; `restore`
//! writes a new data directory from a backup, offline; `status` checks a backup.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::BodyExt;
use wasmkube_client::{ClientError, GlobalOptions};
use wasmkube_control_plane::store::backup::{
    BackupHeader, BackupReader, BackupSummary, DEFAULT_REVISION_BUMP, RestoredIdentity,
    copy_backup, restore_data_dir,
};

const SNAPSHOT_PATH: &str = "/wasmkube/v1/snapshot";

#[derive(clap::Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    command: BackupCommand,
}

#[derive(clap::Subcommand)]
enum BackupCommand {
    /// Take a backup of the running cluster into FILE (only system:masters may). With
    /// --data-dir, the server's data directory: its admin kubeconfig is used and its CA,
    /// keys and tokens are put in the backup too.
    Save {
        /// The backup file to write (replaced only once the backup is whole).
        file: PathBuf,
        /// The server's data directory, on the server's machine.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Write a new data directory from a backup, for `wasmkube up|server --data-dir`. The
    /// directory must not hold a store yet; run it with no server on that directory.
    Restore {
        /// The backup file to restore.
        file: PathBuf,
        /// The data directory to create (or an empty one, or one holding only the
        /// cluster's identity files).
        #[arg(long)]
        data_dir: PathBuf,
        /// How many revisions the restored store skips past the backup's, so that
        /// clients holding a resourceVersion from before get 410 Gone and relist (as
        /// `etcdutl snapshot restore --bump-revision`).
        #[arg(long, default_value_t = DEFAULT_REVISION_BUMP)]
        bump_revision: u64,
    },
    /// Check a backup (its checksum and structure) and say what it holds.
    Status {
        /// The backup file to check.
        file: PathBuf,
    },
}

/// Runs a backup verb; errors are written to stderr as kubectl writes them (`error:
/// ...`, or the server's `Error from server (Reason): ...`), with exit code 1.
pub async fn run(global: &GlobalOptions, arguments: BackupArgs) -> anyhow::Result<i32> {
    let mut out = io::stdout();
    let result = match arguments.command {
        BackupCommand::Save { file, data_dir } => save(global, &file, data_dir, &mut out).await,
        BackupCommand::Restore {
            file,
            data_dir,
            bump_revision,
        } => restore(&file, &data_dir, bump_revision, &mut out).await,
        BackupCommand::Status { file } => status(&file, &mut out).await,
    };
    out.flush()?;
    match result {
        Ok(()) => Ok(0),
        Err(error) => {
            let mut err = io::stderr();
            match error.downcast_ref::<ClientError>() {
                Some(client_error) => writeln!(err, "{client_error}")?,
                None => writeln!(err, "error: {error:#}")?,
            }
            Ok(1)
        }
    }
}

/// A `Read` over the chunks of a response body that another task receives.
struct ChunkReader {
    chunks: std::sync::mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChunkReader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.recv() {
                Ok(chunk) => self.current = chunk?,
                Err(_) => return Ok(0),
            }
        }
        let length = buffer.len().min(self.current.len());
        buffer[..length].copy_from_slice(&self.current.split_to(length));
        Ok(length)
    }
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot make {} absolute", path.display()))
}

async fn save(
    global: &GlobalOptions,
    file: &Path,
    data_dir: Option<PathBuf>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let data_dir = data_dir.as_deref().map(absolute).transpose()?;
    let mut global = global.clone();
    if global.kubeconfig.is_none()
        && let Some(data_dir) = &data_dir
    {
        global.kubeconfig = Some(data_dir.join("kubeconfig").to_string_lossy().into_owned());
    }
    let client = wasmkube_client::connect(&global)
        .await
        .map_err(anyhow::Error::new)?
        .client;
    let request = http::Request::get(SNAPSHOT_PATH)
        .body(kube::client::Body::empty())
        .context("cannot build the snapshot request")?;
    let response = client.send(request).await.map_err(ClientError::from)?;
    if !response.status().is_success() {
        let code = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        let status = serde_json::from_slice::<kube::core::Status>(&body)
            .unwrap_or_else(|_| kube::core::Status::failure(&String::from_utf8_lossy(&body), ""));
        anyhow::bail!(ClientError::Server(status.with_code(code.as_u16()).boxed()));
    }
    let file = absolute(file)?;
    let directory = file
        .parent()
        .with_context(|| format!("{} has no directory", file.display()))?
        .to_path_buf();
    let (sender, chunks) = std::sync::mpsc::sync_channel(4);
    // The snapshot is checked and written on a blocking thread as it arrives; a backup
    // file appears under its name only once it is whole.
    let writing = tokio::task::spawn_blocking(move || {
        let temporary = tempfile::NamedTempFile::new_in(&directory)
            .with_context(|| format!("cannot create a file in {}", directory.display()))?;
        let input = ChunkReader {
            chunks,
            current: Bytes::new(),
        };
        let output = io::BufWriter::new(temporary);
        let (output, header, summary) = copy_backup(input, output, data_dir.as_deref())
            .context("the snapshot the server sent is not whole")?;
        let temporary = output
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        temporary.as_file().sync_all()?;
        temporary
            .persist(&file)
            .with_context(|| format!("cannot write {}", file.display()))?;
        anyhow::Ok((file, header, summary))
    });
    let mut body = response.into_body().into_data_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|error| io::Error::other(error.to_string()));
        if sender.send(chunk).is_err() {
            break;
        }
    }
    drop(sender);
    let (file, header, summary) = writing.await??;
    writeln!(out, "Snapshot saved at {}", file.display())?;
    describe(out, &header, &summary)?;
    if summary.files == 0 {
        writeln!(
            out,
            "The backup holds no identity files (CA, keys, tokens): pass --data-dir on the server's machine to include them."
        )?;
    }
    Ok(())
}

fn describe(out: &mut dyn Write, header: &BackupHeader, summary: &BackupSummary) -> io::Result<()> {
    writeln!(
        out,
        "revision {} taken at {} by wasmkube {}",
        header.revision, header.created_at, header.wasmkube_version
    )?;
    writeln!(
        out,
        "{} objects, {} image tags, {} blobs ({} bytes), {} identity files",
        summary.objects, summary.image_tags, summary.blobs, summary.blob_bytes, summary.files
    )
}

async fn restore(
    file: &Path,
    data_dir: &Path,
    bump_revision: u64,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let data_dir = absolute(data_dir)?;
    let input = std::fs::File::open(file)
        .with_context(|| format!("cannot open the backup {}", file.display()))?;
    let runtime = tokio::runtime::Handle::current();
    let target = data_dir.clone();
    let report = tokio::task::spawn_blocking(move || {
        restore_data_dir(io::BufReader::new(input), &target, bump_revision, &runtime)
    })
    .await?
    .with_context(|| {
        format!(
            "cannot restore {} into {}; nothing was changed",
            file.display(),
            data_dir.display()
        )
    })?;
    writeln!(
        out,
        "Restored {} into {}",
        file.display(),
        data_dir.display()
    )?;
    describe(out, &report.header, &report.summary)?;
    writeln!(
        out,
        "The store continues at revision {} (resourceVersions up to it are compacted).",
        report.store.revision
    )?;
    let identity = match report.identity {
        RestoredIdentity::FromBackup => "the backup's CA, keys and tokens",
        RestoredIdentity::KeptFromDataDir => "the data directory's own CA, keys and tokens",
        RestoredIdentity::None => {
            "none: the server makes a new CA, keys and tokens when it starts; nodes must join again"
        }
    };
    writeln!(out, "Identity: {identity}.")?;
    writeln!(
        out,
        "Start it with: wasmkube up --data-dir {0} (or wasmkube server --data-dir {0})",
        data_dir.display()
    )?;
    Ok(())
}

async fn status(file: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let input = std::fs::File::open(file)
        .with_context(|| format!("cannot open the backup {}", file.display()))?;
    let size = input.metadata()?.len();
    let (header, summary) = tokio::task::spawn_blocking(move || {
        let mut reader = BackupReader::new(io::BufReader::new(input))?;
        while reader.next_record()?.is_some() {}
        let header = reader.header().cloned().ok_or_else(|| {
            wasmkube_control_plane::store::backup::BackupError::Corrupt(
                "the backup has no header".to_owned(),
            )
        })?;
        Ok::<_, wasmkube_control_plane::store::backup::BackupError>((
            header,
            reader.summary().clone(),
        ))
    })
    .await?
    .with_context(|| format!("{} is not a usable backup", file.display()))?;
    writeln!(out, "{}: a whole backup of {size} bytes", file.display())?;
    describe(out, &header, &summary)?;
    Ok(())
}
