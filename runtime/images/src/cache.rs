//! The node's image cache: pulls an image by its pull policy from its source into a
//! content-addressed directory, and removes the images no pod uses.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::blob_store::BlobStore;
use crate::digest::Digest;
use crate::error::{ImageError, PullError};
use crate::module_bytes::verify_module;
use crate::pull_policy::PullPolicy;
use crate::reference::ImageReference;
use crate::source::ClusterImageSource;
use crate::web_download::WebDownloader;

/// An image ready to run: its module is in the node's cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledImage {
    /// The digest of the module's bytes, the image's identity (the `imageID` in a
    /// container's status).
    pub digest: Digest,
    /// The cached module file.
    pub path: PathBuf,
    /// The module's size.
    pub size_in_bytes: u64,
}

/// How long ago a file must have been modified for its stamp to be trusted. File systems
/// keep modification times in ticks (a few milliseconds on Linux, two seconds on FAT),
/// so a file rewritten within the tick it was hashed in would keep its stamp; like git's
/// "racy" index entries, a file modified that recently is hashed again each time.
const FILE_STAMP_SETTLE_TIME: Duration = Duration::from_secs(2);

/// What a `file://` image's file looked like when it was last hashed. A file whose
/// modification time and length are unchanged is taken to hold the same bytes, which
/// spares hashing it at every container start.
#[derive(Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: SystemTime,
    length: u64,
}

/// The node's content-addressed image cache (see `blob_store` for the layout on disk).
pub struct ImageCache {
    store: Arc<BlobStore>,
    downloader: WebDownloader,
    file_digests: Mutex<HashMap<PathBuf, (FileStamp, Digest)>>,
}

impl ImageCache {
    /// Opens (creating if needed) the cache in `directory`, and removes files a crash
    /// left half-written.
    pub fn open(directory: &Path) -> Result<Self, ImageError> {
        let store = BlobStore::open(directory).map_err(|source| ImageError::CacheUnavailable {
            directory: directory.to_owned(),
            source,
        })?;
        Ok(ImageCache {
            store: Arc::new(store),
            downloader: WebDownloader::new(),
            file_digests: Mutex::new(HashMap::new()),
        })
    }

    /// Makes a container's `image:` ready on the node by `policy` (see [`PullPolicy`] for
    /// what each policy does with each kind of image), asking `cluster` for cluster-store
    /// images.
    pub async fn pull(
        &self,
        image: &str,
        policy: PullPolicy,
        cluster: &dyn ClusterImageSource,
    ) -> Result<PulledImage, ImageError> {
        let reference =
            ImageReference::parse(image).map_err(|source| ImageError::InvalidImageName {
                image: image.to_owned(),
                source,
            })?;
        let pulled = match reference {
            ImageReference::ClusterStore { name, tag } => {
                self.pull_tag(&name, &tag, policy, cluster).await
            }
            ImageReference::ClusterStoreDigest { digest, .. } => {
                self.pull_pinned(digest, policy, || cluster.fetch(&digest))
                    .await
            }
            ImageReference::Https { url, digest } => {
                self.pull_pinned(digest, policy, || self.downloader.download(&url))
                    .await
            }
            ImageReference::File { path } => self.pull_file(&path).await.map(Some),
        };
        match pulled {
            Ok(Some(pulled)) => Ok(pulled),
            Ok(None) => Err(ImageError::NeverPull {
                image: image.to_owned(),
            }),
            Err(source) => Err(ImageError::Pull {
                image: image.to_owned(),
                source,
            }),
        }
    }

    /// Removes the cached modules whose digests are not in `in_use` (image garbage
    /// collection), and the tag records that named them; returns how many modules were
    /// removed. The caller must count images being pulled for pods about to start as in
    /// use, or they may be removed between their pull and their start.
    pub fn remove_unused(&self, in_use: &HashSet<Digest>) -> io::Result<usize> {
        let removed = self.store.remove_unused(in_use)?;
        self.lock_file_digests()
            .retain(|_, (_, digest)| in_use.contains(digest));
        Ok(removed)
    }

    /// Pulls `NAME:TAG`. `None` means the pull policy is `Never` and the tag's module is
    /// not cached.
    async fn pull_tag(
        &self,
        name: &str,
        tag: &str,
        policy: PullPolicy,
        cluster: &dyn ClusterImageSource,
    ) -> Result<Option<PulledImage>, PullError> {
        let recorded = self.store.read_tag(name, tag)?;
        let recorded_and_cached = match recorded {
            Some(digest) => self.cached(&digest)?,
            None => None,
        };
        match (policy, recorded_and_cached) {
            (PullPolicy::Never, cached) => return Ok(cached),
            (PullPolicy::IfNotPresent, Some(cached)) => return Ok(Some(cached)),
            (PullPolicy::IfNotPresent | PullPolicy::Always, _) => {}
        }
        let digest = cluster.resolve(name, tag).await?;
        let pulled = match self.cached(&digest)? {
            Some(cached) => cached,
            None => {
                self.store_module(cluster.fetch(&digest).await?, Some(digest))
                    .await?
            }
        };
        self.store.write_tag(name, tag, &digest)?;
        Ok(Some(pulled))
    }

    /// Pulls a module pinned by digest: the cached copy when there is one (the digest
    /// names the content, so the cached bytes are what any source would send), else the
    /// bytes `fetch` gives unless the policy is `Never`. `fetch` is only called when the
    /// bytes are needed, since a source may start its work when called.
    async fn pull_pinned<Fetch>(
        &self,
        digest: Digest,
        policy: PullPolicy,
        fetch: impl FnOnce() -> Fetch,
    ) -> Result<Option<PulledImage>, PullError>
    where
        Fetch: Future<Output = Result<Bytes, PullError>>,
    {
        if let Some(cached) = self.cached(&digest)? {
            return Ok(Some(cached));
        }
        if policy == PullPolicy::Never {
            return Ok(None);
        }
        self.store_module(fetch().await?, Some(digest))
            .await
            .map(Some)
    }

    /// Pulls a `file://` module: hashes the file's current content, unless its stamp is
    /// the one last hashed and that module is still cached.
    async fn pull_file(&self, path: &Path) -> Result<PulledImage, PullError> {
        let file_error = |source| PullError::File {
            path: path.to_owned(),
            source,
        };
        let metadata = tokio::fs::metadata(path).await.map_err(file_error)?;
        let stamp = FileStamp {
            modified: metadata.modified().map_err(file_error)?,
            length: metadata.len(),
        };
        let known = self.lock_file_digests().get(path).copied();
        if let Some((known_stamp, digest)) = known
            && known_stamp == stamp
            && let Some(cached) = self.cached(&digest)?
        {
            return Ok(cached);
        }
        let bytes = tokio::fs::read(path).await.map_err(file_error)?;
        let pulled = self.store_module(Bytes::from(bytes), None).await?;
        let settled = SystemTime::now()
            .duration_since(stamp.modified)
            .is_ok_and(|age| age >= FILE_STAMP_SETTLE_TIME);
        if settled {
            self.lock_file_digests()
                .insert(path.to_owned(), (stamp, pulled.digest));
        }
        Ok(pulled)
    }

    /// The cached module with this digest, if there is one.
    fn cached(&self, digest: &Digest) -> Result<Option<PulledImage>, PullError> {
        let size = self.store.blob_size(digest)?;
        Ok(size.map(|size_in_bytes| PulledImage {
            digest: *digest,
            path: self.store.blob_path(digest),
            size_in_bytes,
        }))
    }

    /// Verifies a module's bytes (against `expected` when the source named a digest) and
    /// stores them, off the async threads since hashing and fsync take a while.
    async fn store_module(
        &self,
        bytes: Bytes,
        expected: Option<Digest>,
    ) -> Result<PulledImage, PullError> {
        let store = Arc::clone(&self.store);
        let blob_directory = store.blob_directory().to_owned();
        let stored = tokio::task::spawn_blocking(move || {
            let digest = verify_module(&bytes, expected)?;
            let path = store.write_blob(&digest, &bytes)?;
            Ok(PulledImage {
                digest,
                path,
                size_in_bytes: bytes.len() as u64,
            })
        })
        .await;
        stored.unwrap_or_else(|join_error| {
            Err(PullError::Cache {
                path: blob_directory,
                source: io::Error::other(join_error),
            })
        })
    }

    /// The digests of `file://` images, locked. A panic while the lock was held cannot
    /// leave the map inconsistent (every update is one insert or retain), so a poisoned
    /// lock is used as it is.
    fn lock_file_digests(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (FileStamp, Digest)>> {
        self.file_digests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
