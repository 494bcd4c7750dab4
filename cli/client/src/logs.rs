//! `logs POD`: reads the `pods/log` subresource, streaming it with `-f`.

use std::io::Write;

use futures::AsyncReadExt;
use serde_json::Value;

use crate::error::ClientError;
use crate::options::Connection;

#[derive(Debug, Clone, clap::Args)]
pub struct LogsArgs {
    /// The pod, as NAME or pod/NAME.
    pub pod: String,
    /// Print the logs of this container.
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Specify if the logs should be streamed.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Print the logs for the previous instance of the container, if it exists.
    #[arg(short = 'p', long)]
    pub previous: bool,
    /// Lines of recent log file to display; -1 shows all lines.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub tail: i64,
    /// Only return logs newer than a relative duration like 5s, 2m, or 3h.
    #[arg(long)]
    pub since: Option<String>,
    /// Include timestamps on each line in the log output.
    #[arg(long)]
    pub timestamps: bool,
}

/// The pod name from `NAME`, `pod/NAME` or `pods/NAME`.
pub fn pod_name(argument: &str) -> Result<&str, ClientError> {
    match argument.split_once('/') {
        None => Ok(argument),
        Some(("pod" | "pods" | "po", name)) if !name.is_empty() => Ok(name),
        Some((kind, _)) => Err(ClientError::Usage(format!(
            "cannot get the logs from {kind}: only pods are supported"
        ))),
    }
}

/// Parses a Go duration (`30s`, `5m`, `1h30m`, `1.5h`, `250ms`) into whole seconds,
/// rounding up like the API server's `sinceSeconds` needs.
pub fn parse_duration_seconds(text: &str) -> Result<i64, ClientError> {
    let invalid = || {
        ClientError::Usage(format!(
            "invalid argument \"{text}\" for \"--since\" flag: time: invalid duration \"{text}\""
        ))
    };
    let mut rest = text;
    let mut total_seconds = 0.0_f64;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let number_length = rest
            .find(|character: char| !(character.is_ascii_digit() || character == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..number_length].parse().map_err(|_| invalid())?;
        rest = &rest[number_length..];
        let unit_length = rest
            .find(|character: char| character.is_ascii_digit() || character == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_length] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(invalid()),
        };
        total_seconds += number * seconds_per_unit;
        rest = &rest[unit_length..];
    }
    Ok(total_seconds.ceil() as i64)
}

/// The query string of the log request.
pub fn log_query(args: &LogsArgs, container: Option<&str>) -> Result<String, ClientError> {
    let mut parameters: Vec<String> = Vec::new();
    if let Some(container) = container {
        parameters.push(format!("container={container}"));
    }
    if args.follow {
        parameters.push("follow=true".to_string());
    }
    if args.previous {
        parameters.push("previous=true".to_string());
    }
    if args.tail >= 0 {
        parameters.push(format!("tailLines={}", args.tail));
    }
    if let Some(since) = &args.since {
        parameters.push(format!("sinceSeconds={}", parse_duration_seconds(since)?));
    }
    if args.timestamps {
        parameters.push("timestamps=true".to_string());
    }
    Ok(parameters.join("&"))
}

/// Picks the container when `-c` is absent: the `kubectl.kubernetes.io/default-container`
/// annotation, else the first container; returns a notice when there was a choice.
pub fn default_container(pod: &Value) -> (Option<String>, Option<String>) {
    let names = |field: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .map(|containers| {
                containers
                    .iter()
                    .filter_map(|container| {
                        container
                            .get("name")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let containers = names("containers");
    let init_containers = names("initContainers");
    let annotated = pod
        .pointer("/metadata/annotations/kubectl.kubernetes.io~1default-container")
        .and_then(Value::as_str)
        .map(str::to_string);
    let chosen = annotated.clone().or_else(|| containers.first().cloned());
    let choices = containers.len() + init_containers.len();
    let notice = match (&chosen, annotated) {
        (Some(chosen), None) if choices > 1 => {
            let mut listed = containers.clone();
            listed.extend(init_containers.iter().map(|name| format!("{name} (init)")));
            Some(format!(
                "Defaulted container \"{chosen}\" out of: {}",
                listed.join(", ")
            ))
        }
        _ => None,
    };
    (chosen, notice)
}

pub async fn run_logs(
    connection: &Connection,
    args: LogsArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, ClientError> {
    let name = pod_name(&args.pod)?;
    let pod_path = format!("/api/v1/namespaces/{}/pods/{name}", connection.namespace);
    let container = match &args.container {
        Some(container) => Some(container.clone()),
        None => {
            let request = http::Request::get(&pod_path)
                .body(Vec::new())
                .map_err(|error| ClientError::Transport(error.to_string()))?;
            let pod: Value = connection.client.request(request).await?;
            let (container, notice) = default_container(&pod);
            if let Some(notice) = notice {
                writeln!(err, "{notice}")?;
            }
            container
        }
    };
    let query = log_query(&args, container.as_deref())?;
    let uri = if query.is_empty() {
        format!("{pod_path}/log")
    } else {
        format!("{pod_path}/log?{query}")
    };
    copy_log(connection, uri, out).await?;
    Ok(0)
}

/// Copies the log at `uri` (a pod's `log` path and its query) to `out` as it arrives,
/// until the server ends it: at once, or with `follow=true` when the container exits.
pub(crate) async fn copy_log(
    connection: &Connection,
    uri: String,
    out: &mut dyn Write,
) -> Result<(), ClientError> {
    let request = http::Request::get(uri)
        .body(Vec::new())
        .map_err(|error| ClientError::Transport(error.to_string()))?;
    let stream = connection.client.request_stream(request).await?;
    let mut stream = std::pin::pin!(stream);
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        let read = stream
            .read(&mut buffer)
            .await
            .map_err(|error| ClientError::Transport(format!("reading logs: {error}")))?;
        if read == 0 {
            return Ok(());
        }
        out.write_all(&buffer[..read])?;
        out.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn args() -> LogsArgs {
        LogsArgs {
            pod: "web".to_string(),
            container: None,
            follow: false,
            previous: false,
            tail: -1,
            since: None,
            timestamps: false,
        }
    }

    #[test]
    fn query_parameters_follow_the_flags() {
        assert_eq!(log_query(&args(), None).ok().as_deref(), Some(""));
        let all = LogsArgs {
            follow: true,
            previous: true,
            tail: 10,
            since: Some("1h30m".to_string()),
            timestamps: true,
            ..args()
        };
        assert_eq!(
            log_query(&all, Some("app")).ok().as_deref(),
            Some(
                "container=app&follow=true&previous=true&tailLines=10&sinceSeconds=5400&timestamps=true"
            )
        );
    }

    #[test]
    fn go_durations_parse_and_bad_ones_are_rejected() {
        assert_eq!(parse_duration_seconds("5s").ok(), Some(5));
        assert_eq!(parse_duration_seconds("2m").ok(), Some(120));
        assert_eq!(parse_duration_seconds("1.5h").ok(), Some(5400));
        assert_eq!(parse_duration_seconds("250ms").ok(), Some(1));
        for bad in ["", "5", "5x", "m", "1..2s"] {
            assert!(parse_duration_seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_duration_seconds("5x")
                .err()
                .map(|error| error.to_string())
                .as_deref(),
            Some(
                "error: invalid argument \"5x\" for \"--since\" flag: time: invalid duration \"5x\""
            )
        );
    }

    #[test]
    fn pod_names_accept_the_pod_prefix_only() {
        assert_eq!(pod_name("web").ok(), Some("web"));
        assert_eq!(pod_name("pod/web").ok(), Some("web"));
        assert!(pod_name("deploy/web").is_err());
    }

    #[test]
    fn the_default_container_is_announced_when_there_is_a_choice() {
        let pod = json!({"spec": {"containers": [{"name": "app"}, {"name": "sidecar"}], "initContainers": [{"name": "setup"}]}});
        assert_eq!(
            default_container(&pod),
            (
                Some("app".to_string()),
                Some("Defaulted container \"app\" out of: app, sidecar, setup (init)".to_string())
            )
        );
        let single = json!({"spec": {"containers": [{"name": "app"}]}});
        assert_eq!(default_container(&single), (Some("app".to_string()), None));
        let annotated = json!({"metadata": {"annotations": {"kubectl.kubernetes.io/default-container": "sidecar"}},
                               "spec": {"containers": [{"name": "app"}, {"name": "sidecar"}]}});
        assert_eq!(
            default_container(&annotated),
            (Some("sidecar".to_string()), None)
        );
    }
}
