//! Durable creates per second: clients, each on its own keep-alive connection, POST
//! ConfigMaps back to back. The store answers a write only once its group commit is on
//! disk, so every 201 is a durable create.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;

use super::connection::{ApiServerEndpoint, Connection};
use super::samples::{Summary, nanoseconds_between};

pub const CONFIG_MAPS_PATH: &str = "/api/v1/namespaces/default/configmaps";

/// When each client stops.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// After its first request that ends past this time from the start.
    After(Duration),
    /// After this many requests.
    Count(usize),
}

pub struct CreateLoad {
    pub clients: usize,
    pub stop: Stop,
    /// Every object's name starts with it, so that runs never collide.
    pub name_prefix: String,
}

pub struct CreateReport {
    pub clients: usize,
    /// Requests answered 201 Created.
    pub created: u64,
    /// Requests answered otherwise.
    pub failed: u64,
    /// The first failure's status and body, to say why.
    pub first_failure: Option<String>,
    /// From the start to the last client's last answer.
    pub elapsed: Duration,
    /// From just before each request is sent to the end of its answer.
    pub latency: Summary,
}

impl CreateReport {
    pub fn creates_per_second(&self) -> f64 {
        self.created as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// A small ConfigMap like the ones real clusters hold, serialized by hand so that the
/// client spends no time in a serializer.
pub fn config_map_body(name: &str) -> Bytes {
    Bytes::from(format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","labels":{{"app":"bench"}}}},"data":{{"greeting":"hello","mode":"benchmark"}}}}"#
    ))
}

struct ClientOutcome {
    created: u64,
    failed: u64,
    first_failure: Option<String>,
    latencies: Vec<i64>,
    finished: Instant,
}

async fn run_client(
    mut connection: Connection,
    name_prefix: String,
    stop: Stop,
    started: Instant,
) -> anyhow::Result<ClientOutcome> {
    let mut outcome = ClientOutcome {
        created: 0,
        failed: 0,
        first_failure: None,
        latencies: Vec::new(),
        finished: started,
    };
    for sequence in 0.. {
        let done = match stop {
            Stop::After(duration) => started.elapsed() >= duration,
            Stop::Count(count) => sequence >= count,
        };
        if done {
            break;
        }
        let body = config_map_body(&format!("{name_prefix}{sequence}"));
        let sent = Instant::now();
        let response = connection.post_json(CONFIG_MAPS_PATH, body).await?;
        let answered = Instant::now();
        outcome.latencies.push(nanoseconds_between(sent, answered));
        outcome.finished = answered;
        if response.status == StatusCode::CREATED {
            outcome.created += 1;
        } else {
            outcome.failed += 1;
            outcome.first_failure.get_or_insert_with(|| {
                format!(
                    "{}: {}",
                    response.status,
                    String::from_utf8_lossy(&response.body)
                )
            });
        }
    }
    Ok(outcome)
}

/// Opens every client's connection first, then starts them all at once.
pub async fn run(endpoint: &ApiServerEndpoint, load: CreateLoad) -> anyhow::Result<CreateReport> {
    let mut connections = Vec::with_capacity(load.clients);
    for _ in 0..load.clients {
        connections.push(Connection::open(endpoint).await?);
    }
    let started = Instant::now();
    let clients: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(index, connection)| {
            let name_prefix = format!("{}{index}-", load.name_prefix);
            tokio::spawn(run_client(connection, name_prefix, load.stop, started))
        })
        .collect();
    let mut report = CreateReport {
        clients: load.clients,
        created: 0,
        failed: 0,
        first_failure: None,
        elapsed: Duration::ZERO,
        latency: Summary::of(Vec::new()),
    };
    let mut latencies = Vec::new();
    for client in clients {
        let outcome = client.await??;
        report.created += outcome.created;
        report.failed += outcome.failed;
        if report.first_failure.is_none() {
            report.first_failure = outcome.first_failure;
        }
        report.elapsed = report.elapsed.max(outcome.finished - started);
        latencies.extend(outcome.latencies);
    }
    report.latency = Summary::of(latencies);
    Ok(report)
}
