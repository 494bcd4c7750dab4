//! A container's probes as the node runs them: which check, and its timings, with
//! Kubernetes' defaults for what the spec leaves out. Bad values never fail the pod: the
//! API server validates probes, so what it let through is used as sensibly as possible.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, HTTPGetAction, Probe, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

const DEFAULT_PERIOD_SECONDS: i32 = 10;
const DEFAULT_TIMEOUT_SECONDS: i32 = 1;
const DEFAULT_SUCCESS_THRESHOLD: i32 = 1;
const DEFAULT_FAILURE_THRESHOLD: i32 = 3;

/// The three kinds of probe a container may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    Startup,
    Liveness,
    Readiness,
}

impl ProbeKind {
    /// The kind as the kubelet's events name it ("Liveness probe failed: …").
    pub fn title(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
        }
    }
}

/// `httpGet`'s scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpScheme {
    Http,
    Https,
}

impl HttpScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpScheme::Http => "http",
            HttpScheme::Https => "https",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            HttpScheme::Http => 80,
            HttpScheme::Https => 443,
        }
    }
}

/// An `httpGet` probe with its port resolved against the container's named ports. A
/// port that cannot be resolved keeps the kubelet's error, which every run reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpGetProbe {
    pub scheme: HttpScheme,
    pub host: Option<String>,
    pub port: Result<u16, String>,
    pub path: String,
    /// `httpHeaders` in order; a name may repeat.
    pub headers: Vec<(String, String)>,
}

/// A `tcpSocket` probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpSocketProbe {
    pub host: Option<String>,
    pub port: Result<u16, String>,
}

/// What a probe checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeHandler {
    /// The container's image run with this argv, `$(VAR)` already expanded.
    Exec(Vec<String>),
    HttpGet(HttpGetProbe),
    TcpSocket(TcpSocketProbe),
    /// gRPC health checks, which this node does not run.
    Grpc,
    /// A probe without any handler (the API server refuses these).
    Missing,
}

/// One probe, ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeSpec {
    pub kind: ProbeKind,
    pub handler: ProbeHandler,
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
    /// The probe's own `terminationGracePeriodSeconds`, which replaces the pod's when a
    /// failed liveness or startup probe stops the container.
    pub termination_grace_period: Option<Duration>,
}

/// A container's probes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerProbeSpecs {
    pub startup: Option<ProbeSpec>,
    pub liveness: Option<ProbeSpec>,
    pub readiness: Option<ProbeSpec>,
}

impl ContainerProbeSpecs {
    pub fn of(container: &Container) -> ContainerProbeSpecs {
        let spec = |kind, probe: &Option<Probe>| {
            probe
                .as_ref()
                .map(|probe| ProbeSpec::new(kind, probe, container))
        };
        ContainerProbeSpecs {
            startup: spec(ProbeKind::Startup, &container.startup_probe),
            liveness: spec(ProbeKind::Liveness, &container.liveness_probe),
            readiness: spec(ProbeKind::Readiness, &container.readiness_probe),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.startup.is_none() && self.liveness.is_none() && self.readiness.is_none()
    }
}

/// A count of seconds from the spec: the default when it is unset or not positive (the
/// API server's defaulting turns 0 into the default too).
fn seconds_or(value: Option<i32>, default: i32) -> Duration {
    let seconds = value.filter(|seconds| *seconds > 0).unwrap_or(default);
    Duration::from_secs(u64::try_from(seconds).unwrap_or_default())
}

fn count_or(value: Option<i32>, default: i32) -> u32 {
    let count = value.filter(|count| *count > 0).unwrap_or(default);
    u32::try_from(count).unwrap_or(1)
}

impl ProbeSpec {
    pub fn new(kind: ProbeKind, probe: &Probe, container: &Container) -> ProbeSpec {
        // Kubernetes requires 1 for liveness and startup probes: one success is enough to
        // know a container is alive or has started.
        let success_threshold = match kind {
            ProbeKind::Readiness => count_or(probe.success_threshold, DEFAULT_SUCCESS_THRESHOLD),
            ProbeKind::Liveness | ProbeKind::Startup => 1,
        };
        ProbeSpec {
            kind,
            handler: ProbeHandler::of(probe, container),
            initial_delay: Duration::from_secs(
                u64::try_from(probe.initial_delay_seconds.unwrap_or_default()).unwrap_or_default(),
            ),
            period: seconds_or(probe.period_seconds, DEFAULT_PERIOD_SECONDS),
            timeout: seconds_or(probe.timeout_seconds, DEFAULT_TIMEOUT_SECONDS),
            success_threshold,
            failure_threshold: count_or(probe.failure_threshold, DEFAULT_FAILURE_THRESHOLD),
            termination_grace_period: probe
                .termination_grace_period_seconds
                .map(|seconds| Duration::from_secs(u64::try_from(seconds).unwrap_or_default())),
        }
    }
}

impl ProbeHandler {
    fn of(probe: &Probe, container: &Container) -> ProbeHandler {
        if let Some(exec) = &probe.exec {
            let command = exec.command.clone().unwrap_or_default();
            ProbeHandler::Exec(expand_with_static_environment(&command, container))
        } else if let Some(http_get) = &probe.http_get {
            ProbeHandler::HttpGet(http_get_probe(http_get, container))
        } else if let Some(tcp_socket) = &probe.tcp_socket {
            ProbeHandler::TcpSocket(tcp_socket_probe(tcp_socket, container))
        } else if probe.grpc.is_some() {
            ProbeHandler::Grpc
        } else {
            ProbeHandler::Missing
        }
    }
}

/// `$(VAR)` in an exec probe's command, expanded as the kubelet's
/// `ExpandContainerCommandOnlyStatic` does: only with the container's `env` entries' literal
/// values (one set from `valueFrom` counts as empty); unknown references stay as written.
fn expand_with_static_environment(command: &[String], container: &Container) -> Vec<String> {
    let environment: std::collections::HashMap<&str, &str> = container
        .env
        .iter()
        .flatten()
        .map(|variable| {
            (
                variable.name.as_str(),
                variable.value.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    command
        .iter()
        .map(|argument| {
            wasmkube_volumes::expansion::expand(argument, |name| {
                environment
                    .get(name)
                    .map_or_else(|| format!("$({name})"), |value| (*value).to_owned())
            })
        })
        .collect()
}

fn http_get_probe(action: &HTTPGetAction, container: &Container) -> HttpGetProbe {
    let scheme = match action.scheme.as_deref() {
        Some(scheme) if scheme.eq_ignore_ascii_case("https") => HttpScheme::Https,
        _ => HttpScheme::Http,
    };
    let path = action.path.clone().unwrap_or_default();
    HttpGetProbe {
        scheme,
        host: action.host.clone().filter(|host| !host.is_empty()),
        port: resolve_container_port(&action.port, container),
        // The request line needs an absolute path; Go's URL adds the slash as well.
        path: if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        },
        headers: action
            .http_headers
            .iter()
            .flatten()
            .map(|header| (header.name.clone(), header.value.clone()))
            .collect(),
    }
}

fn tcp_socket_probe(action: &TCPSocketAction, container: &Container) -> TcpSocketProbe {
    TcpSocketProbe {
        host: action.host.clone().filter(|host| !host.is_empty()),
        port: resolve_container_port(&action.port, container),
    }
}

/// The kubelet's `ResolveContainerPort`: a number, or the name of one of the container's
/// ports, or (as a last resort) a number written as a string; with the kubelet's errors.
pub fn resolve_container_port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    let number = match port {
        IntOrString::Int(number) => i64::from(*number),
        IntOrString::String(name) => {
            let named = container
                .ports
                .iter()
                .flatten()
                .find(|port| port.name.as_deref() == Some(name.as_str()));
            match named {
                Some(named) => i64::from(named.container_port),
                None => name
                    .parse::<i64>()
                    .map_err(|_| format!("strconv.Atoi: parsing {name:?}: invalid syntax"))?,
            }
        }
    };
    u16::try_from(number)
        .ok()
        .filter(|port| *port > 0)
        .ok_or_else(|| format!("invalid port number: {number}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(yaml: &str) -> Container {
        serde_yaml::from_str(yaml).expect("a container")
    }

    #[test]
    fn defaults_fill_what_the_spec_leaves_out() {
        let container = container(
            "name: app\nlivenessProbe: {exec: {command: [testbox, exit, '0']}, successThreshold: 5}\nreadinessProbe: {tcpSocket: {port: 80}, successThreshold: 2, periodSeconds: 0, initialDelaySeconds: 4}\n",
        );
        let specs = ContainerProbeSpecs::of(&container);
        assert!(specs.startup.is_none());
        let liveness = specs.liveness.expect("a liveness probe");
        assert_eq!(
            (
                liveness.period,
                liveness.timeout,
                liveness.success_threshold,
                liveness.failure_threshold
            ),
            (Duration::from_secs(10), Duration::from_secs(1), 1, 3)
        );
        let readiness = specs.readiness.expect("a readiness probe");
        assert_eq!(readiness.success_threshold, 2);
        assert_eq!(readiness.period, Duration::from_secs(10));
        assert_eq!(readiness.initial_delay, Duration::from_secs(4));
        assert_eq!(
            readiness.handler,
            ProbeHandler::TcpSocket(TcpSocketProbe {
                host: None,
                port: Ok(80)
            })
        );
    }

    #[test]
    fn ports_resolve_by_number_by_name_and_by_number_as_a_string() {
        let container = container(
            "name: app\nports: [{name: http, containerPort: 8080}, {name: zero, containerPort: 0}]\n",
        );
        let resolve = |port: IntOrString| resolve_container_port(&port, &container);
        assert_eq!(resolve(IntOrString::Int(81)), Ok(81));
        assert_eq!(resolve(IntOrString::String("http".into())), Ok(8080));
        assert_eq!(resolve(IntOrString::String("9090".into())), Ok(9090));
        assert_eq!(
            resolve(IntOrString::String("metrics".into())),
            Err("strconv.Atoi: parsing \"metrics\": invalid syntax".to_owned())
        );
        assert_eq!(
            resolve(IntOrString::String("zero".into())),
            Err("invalid port number: 0".to_owned())
        );
        assert_eq!(
            resolve(IntOrString::Int(70000)),
            Err("invalid port number: 70000".to_owned())
        );
    }

    #[test]
    fn exec_commands_expand_only_literal_environment_values() {
        let container = container(
            "name: app\nenv: [{name: FILE, value: /data/ready}, {name: FROM_FIELD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]\nreadinessProbe: {exec: {command: [testbox, cat, '$(FILE)', '$(FROM_FIELD)', '$(UNKNOWN)', '$$(FILE)']}}\n",
        );
        let readiness = ContainerProbeSpecs::of(&container)
            .readiness
            .expect("a readiness probe");
        assert_eq!(
            readiness.handler,
            ProbeHandler::Exec(vec![
                "testbox".into(),
                "cat".into(),
                "/data/ready".into(),
                String::new(),
                "$(UNKNOWN)".into(),
                "$(FILE)".into(),
            ])
        );
    }

    #[test]
    fn http_get_takes_scheme_path_host_and_headers() {
        let container = container(
            "name: app\nstartupProbe: {httpGet: {scheme: HTTPS, path: healthz, port: 443, host: example.test, httpHeaders: [{name: X-Probe, value: one}, {name: X-Probe, value: two}]}}\n",
        );
        let startup = ContainerProbeSpecs::of(&container)
            .startup
            .expect("a startup probe");
        assert_eq!(
            startup.handler,
            ProbeHandler::HttpGet(HttpGetProbe {
                scheme: HttpScheme::Https,
                host: Some("example.test".into()),
                port: Ok(443),
                path: "/healthz".into(),
                headers: vec![
                    ("X-Probe".into(), "one".into()),
                    ("X-Probe".into(), "two".into())
                ],
            })
        );
    }
}
