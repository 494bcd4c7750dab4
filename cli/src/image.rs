//! `wasmkube image push FILE NAME[:TAG]` and `wasmkube image ls`: filling and listing
//! the cluster's built-in image store, through the API server the kubeconfig names.

use std::io::Write;
use std::path::{Path, PathBuf};

use http::{Method, StatusCode, header};
use serde_json::json;
use wasmkube_client::{ClientError, GlobalOptions};
use wasmkube_control_plane::images::{
    Digest, ImageReference, ImageSummary, TagRecord, is_webassembly,
};

#[derive(Debug, clap::Args)]
pub struct ImageArgs {
    #[command(subcommand)]
    command: ImageCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ImageCommand {
    /// Push a WebAssembly module or component into the cluster's image store, so that
    /// pods can name it as their image.
    Push {
        /// The WebAssembly binary (.wasm): a core module or a component.
        file: PathBuf,
        /// The image reference, NAME[:TAG]; the tag defaults to "latest".
        reference: String,
    },
    /// List the images in the cluster's image store.
    Ls,
}

/// Runs an image verb, writing results to `out` and kubectl-style errors to `err`;
/// returns the exit code. Only a failure to write to `out` or `err` is an `Err`.
pub async fn run(
    global: &GlobalOptions,
    arguments: ImageArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<i32> {
    let result = match arguments.command {
        ImageCommand::Push { file, reference } => push(global, &file, &reference, out).await,
        ImageCommand::Ls => list(global, out, err).await,
    };
    out.flush()?;
    match result {
        Ok(()) => Ok(0),
        Err(ClientError::Output(error)) => Err(error),
        Err(error) => {
            writeln!(err, "{error}")?;
            Ok(1)
        }
    }
}

/// A client for the cluster the kubeconfig names: `--kubeconfig`, else `KUBECONFIG`,
/// else `~/.kube/config`, with `--context` chosen as the client verbs choose it.
fn blob_path(digest: &Digest) -> String {
    format!("/wasmkube/v1/blobs/{digest}")
}

fn request(
    method: Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<http::Request<Vec<u8>>, ClientError> {
    http::Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .map_err(|error| ClientError::Transport(error.to_string()))
}

/// Whether the store already has the blob, so that a re-push sends nothing large.
async fn has_blob(client: &kube::Client, digest: &Digest) -> Result<bool, ClientError> {
    let head = http::Request::head(blob_path(digest))
        .body(kube::client::Body::empty())
        .map_err(|error| ClientError::Transport(error.to_string()))?;
    Ok(client.send(head).await?.status() == StatusCode::OK)
}

async fn push(
    global: &GlobalOptions,
    file: &Path,
    reference: &str,
    out: &mut dyn Write,
) -> Result<(), ClientError> {
    let reference = ImageReference::parse_with_default_tag(reference)
        .map_err(|error| ClientError::Usage(error.to_string()))?;
    let content = read_webassembly_file(file)?;
    let size = content.len();
    let client = wasmkube_client::connect(global).await?.client;
    let tagged = upload(&client, content, &reference).await?;
    writeln!(
        out,
        "pushed {}:{} ({}, {size} bytes)",
        tagged.name, tagged.tag, tagged.digest
    )?;
    Ok(())
}

/// Reads the WebAssembly binary to push from `file`, refusing a file that cannot be read
/// or is neither a module nor a component before anything reaches the cluster.
pub fn read_webassembly_file(file: &Path) -> Result<Vec<u8>, ClientError> {
    let content = std::fs::read(file)
        .map_err(|error| ClientError::Usage(format!("cannot read {}: {error}", file.display())))?;
    if !is_webassembly(&content) {
        return Err(ClientError::Usage(format!(
            "{} is not a WebAssembly module or component",
            file.display()
        )));
    }
    Ok(content)
}

/// Stores a WebAssembly binary in the cluster's image store (unless it already holds the
/// same bytes) and points the reference's tag at it.
pub async fn upload(
    client: &kube::Client,
    content: Vec<u8>,
    reference: &ImageReference,
) -> Result<TagRecord, ClientError> {
    let digest = Digest::of_bytes(&content);
    if !has_blob(client, &digest).await? {
        let upload = request(
            Method::PUT,
            &blob_path(&digest),
            "application/wasm",
            content,
        )?;
        client.request_text(upload).await?;
    }
    let tag = request(
        Method::PUT,
        &format!("/wasmkube/v1/images/{reference}"),
        "application/json",
        json!({ "digest": digest }).to_string().into_bytes(),
    )?;
    Ok(client.request(tag).await?)
}

#[derive(serde::Deserialize)]
struct ImageList {
    items: Vec<ImageSummary>,
}

async fn list(
    global: &GlobalOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), ClientError> {
    let client = wasmkube_client::connect(global).await?.client;
    let listing = request(
        Method::GET,
        "/wasmkube/v1/images",
        "application/json",
        Vec::new(),
    )?;
    let list: ImageList = client.request(listing).await?;
    if list.items.is_empty() {
        writeln!(err, "No images found in the cluster's image store.")?;
        return Ok(());
    }
    write!(out, "{}", image_table(&list.items))?;
    Ok(())
}

/// The images as kubectl prints a table: upper-case headers, and every column but the
/// last padded to its widest cell plus three spaces.
fn image_table(images: &[ImageSummary]) -> String {
    let mut rows = vec![["NAME", "TAG", "DIGEST", "SIZE"].map(str::to_owned)];
    rows.extend(images.iter().map(|image| {
        [
            image.name.clone(),
            image.tag.clone(),
            image.digest.to_string(),
            image.size.to_string(),
        ]
    }));
    let mut widths = [0_usize; 3];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count() + 3);
        }
    }
    let [name_width, tag_width, digest_width] = widths;
    let mut table = String::new();
    for [name, tag, digest, size] in &rows {
        table.push_str(&format!(
            "{name:<name_width$}{tag:<tag_width$}{digest:<digest_width$}{size}\n"
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_table_aligns_like_kubectl() {
        let digest = Digest::of_bytes(b"\0asm\x01\0\0\0");
        let images = [
            ImageSummary {
                name: "hello".to_owned(),
                tag: "latest".to_owned(),
                digest: digest.clone(),
                size: 8,
            },
            ImageSummary {
                name: "team/tools/greeter".to_owned(),
                tag: "v1".to_owned(),
                digest: digest.clone(),
                size: 1_048_576,
            },
        ];
        let digest_column = format!("{:<74}", digest.to_string());
        assert_eq!(
            image_table(&images),
            format!(
                "NAME                 TAG      {:<74}SIZE\nhello                latest   {digest_column}8\nteam/tools/greeter   v1       {digest_column}1048576\n",
                "DIGEST"
            )
        );
    }
}
