//! The store's promise under power loss: a `wasmkube server` killed with SIGKILL twenty
//! times while eight clients create objects as fast as it answers loses no create it
//! answered with success. Creates cut off by a kill may or may not have happened; the
//! test only holds the server to what it acknowledged.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use support::Cluster;

const CLIENTS: usize = 8;
const KILLS: usize = 20;

/// A small pseudo-random sequence (xorshift), so that kills land at varied moments
/// without a dependency on a random number crate.
struct Jitter(u64);

impl Jitter {
    fn next_millis(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low)
    }
}

async fn create_until_stopped(
    client: kube::Client,
    writer: usize,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<String>>>,
) -> usize {
    let config_maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut failures = 0;
    let mut sequence = 0;
    while !stop.load(Ordering::Relaxed) {
        let name = format!("writer-{writer}-{sequence}");
        sequence += 1;
        let object = ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..ObjectMeta::default()
            },
            data: Some([("sequence".to_owned(), sequence.to_string())].into()),
            ..ConfigMap::default()
        };
        match tokio::time::timeout(
            Duration::from_secs(10),
            config_maps.create(&PostParams::default(), &object),
        )
        .await
        {
            Ok(Ok(_)) => acknowledged
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(name),
            // The server is down or was killed mid-request: nothing was promised.
            _ => {
                failures += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_server_kills_during_creates_from_eight_clients_lose_no_acknowledged_create() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let mut cluster = Cluster::start_server(&directory.path().join("server"), &[]);
    let client = cluster.client().await;
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..CLIENTS)
        .map(|writer| {
            tokio::spawn(create_until_stopped(
                client.clone(),
                writer,
                Arc::clone(&stop),
                Arc::clone(&acknowledged),
            ))
        })
        .collect();

    let mut jitter = Jitter(0x9e37_79b9_7f4a_7c15);
    let mut acknowledged_at_kills = Vec::new();
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(jitter.next_millis(200, 700))).await;
        acknowledged_at_kills.push(acknowledged.lock().expect("the list").len());
        // Starting the process again blocks this thread until it says it is up.
        tokio::task::block_in_place(|| cluster.restart());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("a writer");
    }

    let acknowledged = acknowledged.lock().expect("the list").clone();
    let between_kills: Vec<usize> = acknowledged_at_kills
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .collect();
    assert!(
        between_kills.iter().filter(|&&creates| creates > 0).count() >= KILLS / 2,
        "creates must be acknowledged between most kills for the test to mean anything: {between_kills:?}"
    );
    let stored: BTreeSet<String> = Api::<ConfigMap>::namespaced(cluster.client().await, "default")
        .list(&ListParams::default())
        .await
        .expect("the list of what survived")
        .items
        .into_iter()
        .filter_map(|config_map| config_map.metadata.name)
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|name| !stored.contains(*name))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged creates were lost: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
}
