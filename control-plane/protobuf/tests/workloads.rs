//! Decoding the workload kinds and Services as `kubectl create deployment|job|cronjob|
//! service` sends them: Go writes every field that is not a pointer, empty or not, so
//! these bodies carry the same empty strings, zeros and empty messages.

mod support;

use serde_json::{Value, json};
use support::{envelope, go_style_metadata, map_entry};
use wasmkube_protobuf::decode_object;
use wasmkube_protobuf::wire::MessageWriter;

fn app_label(metadata: &mut MessageWriter) {
    metadata.message(11, map_entry("app", b"web"));
}

/// A container as kubectl's create verbs build it: a name, an image, an optional
/// command and container ports, everything else left at Go's zero values.
fn go_style_container(name: &str, image: &str, command: &[&str], ports: &[u64]) -> MessageWriter {
    MessageWriter::build(|container| {
        container.string(1, name).string(2, image);
        for part in command {
            container.string(3, part);
        }
        container.string(5, "");
        for &port in ports {
            container.message(
                6,
                MessageWriter::build(|entry| {
                    entry
                        .string(1, "")
                        .number(2, 0)
                        .number(3, port)
                        .string(4, "")
                        .string(5, "");
                }),
            );
        }
        container
            .message(8, MessageWriter::default())
            .string(13, "")
            .string(14, "")
            .boolean(16, false)
            .boolean(17, false)
            .boolean(18, false)
            .string(20, "");
    })
}

/// A PodSpec holding the given containers, with the strings and booleans Go always
/// writes.
fn go_style_pod_spec(containers: Vec<MessageWriter>, restart_policy: &str) -> MessageWriter {
    MessageWriter::build(|spec| {
        for container in containers {
            spec.message(2, container);
        }
        spec.string(3, restart_policy).string(6, "");
        for field in [8, 9, 10] {
            spec.string(field, "");
        }
        for field in [11, 12, 13] {
            spec.boolean(field, false);
        }
        for field in [16, 17, 19, 24] {
            spec.string(field, "");
        }
    })
}

fn pod_template(
    fill_metadata: impl FnOnce(&mut MessageWriter),
    spec: MessageWriter,
) -> MessageWriter {
    MessageWriter::build(|template| {
        template
            .message(1, go_style_metadata("", fill_metadata))
            .message(2, spec);
    })
}

/// The JSON of a container from `go_style_container`.
fn container_json(name: &str, image: &str) -> Value {
    json!({
        "name": name,
        "image": image,
        "resources": {},
        "stdin": false,
        "stdinOnce": false,
        "tty": false,
    })
}

const POD_SPEC_ZEROS: [(&str, bool); 3] = [
    ("hostNetwork", false),
    ("hostPID", false),
    ("hostIPC", false),
];

fn pod_spec_json(containers: Value, restart_policy: Option<&str>) -> Value {
    let mut spec = json!({"containers": containers});
    for (name, value) in POD_SPEC_ZEROS {
        spec[name] = json!(value);
    }
    if let Some(policy) = restart_policy {
        spec["restartPolicy"] = json!(policy);
    }
    spec
}

#[test]
fn decodes_a_deployment_as_kubectl_create_deployment_sends_it() {
    // kubectl create deployment web --image=nginx:1.27 --replicas=2 --port=80 -- sleep 3600
    let container = go_style_container("nginx", "nginx:1.27", &["sleep", "3600"], &[80]);
    let selector =
        MessageWriter::build(|selector| _ = selector.message(1, map_entry("app", b"web")));
    let spec = MessageWriter::build(|spec| {
        spec.number(1, 2)
            .message(2, selector)
            .message(
                3,
                pod_template(app_label, go_style_pod_spec(vec![container], "")),
            )
            .message(
                4,
                MessageWriter::build(|strategy| _ = strategy.string(1, "")),
            )
            .number(5, 0)
            .boolean(7, false);
    });
    let status = MessageWriter::build(|status| {
        for field in [1, 2, 3, 4, 5, 7] {
            status.number(field, 0);
        }
    });
    let deployment = MessageWriter::build(|deployment| {
        deployment
            .message(1, go_style_metadata("web", app_label))
            .message(2, spec)
            .message(3, status);
    });
    let object = decode_object(&envelope("apps/v1", "Deployment", deployment)).unwrap();

    let mut container = container_json("nginx", "nginx:1.27");
    container["command"] = json!(["sleep", "3600"]);
    container["ports"] = json!([{"hostPort": 0, "containerPort": 80}]);
    assert_eq!(
        object,
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "generation": 0, "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"generation": 0, "labels": {"app": "web"}},
                    "spec": pod_spec_json(json!([container]), None),
                },
                "strategy": {},
                "minReadySeconds": 0,
                "paused": false,
            },
            "status": {
                "observedGeneration": 0,
                "replicas": 0,
                "updatedReplicas": 0,
                "availableReplicas": 0,
                "unavailableReplicas": 0,
                "readyReplicas": 0,
            },
        })
    );
}

#[test]
fn decodes_a_job_and_a_cron_job_as_kubectl_create_sends_them() {
    // kubectl create job backup --image=busybox -- date
    let job_spec = || {
        let container = go_style_container("backup", "busybox", &["date"], &[]);
        MessageWriter::build(|spec| {
            spec.message(
                6,
                pod_template(|_| {}, go_style_pod_spec(vec![container], "Never")),
            );
        })
    };
    let job = MessageWriter::build(|job| {
        job.message(1, go_style_metadata("backup", |_| {}))
            .message(2, job_spec())
            .message(
                3,
                MessageWriter::build(|status| {
                    status.number(4, 0).number(5, 0).number(6, 0).string(7, "");
                }),
            );
    });
    let object = decode_object(&envelope("batch/v1", "Job", job)).unwrap();
    let mut container = container_json("backup", "busybox");
    container["command"] = json!(["date"]);
    let job_spec_json = json!({
        "template": {
            "metadata": {"generation": 0},
            "spec": pod_spec_json(json!([container]), Some("Never")),
        },
    });
    assert_eq!(
        object,
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "backup", "generation": 0},
            "spec": job_spec_json,
            "status": {"active": 0, "succeeded": 0, "failed": 0},
        })
    );

    // kubectl create cronjob backup --image=busybox --schedule='*/1 * * * *' -- date
    let job_template = MessageWriter::build(|template| {
        template
            .message(1, go_style_metadata("backup", |_| {}))
            .message(2, job_spec());
    });
    let cron_spec = MessageWriter::build(|spec| {
        spec.string(1, "*/1 * * * *")
            .string(3, "")
            .message(5, job_template);
    });
    let cron_job = MessageWriter::build(|cron_job| {
        cron_job
            .message(1, go_style_metadata("backup", |_| {}))
            .message(2, cron_spec)
            .message(3, MessageWriter::default());
    });
    let object = decode_object(&envelope("batch/v1", "CronJob", cron_job)).unwrap();
    assert_eq!(
        object,
        json!({
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "backup", "generation": 0},
            "spec": {
                "schedule": "*/1 * * * *",
                "jobTemplate": {
                    "metadata": {"name": "backup", "generation": 0},
                    "spec": job_spec_json,
                },
            },
            "status": {},
        })
    );
}

/// A ServicePort as kubectl builds it from `--tcp=PORT:TARGET`; Go writes the
/// IntOrString's type, number and string whichever it holds.
fn service_port(name: &str, port: u64, target: Result<u64, &str>) -> MessageWriter {
    let target = MessageWriter::build(|target_port| {
        match target {
            Ok(number) => target_port.number(1, 0).number(2, number).string(3, ""),
            Err(text) => target_port.number(1, 1).number(2, 0).string(3, text),
        };
    });
    MessageWriter::build(|entry| {
        entry
            .string(1, name)
            .string(2, "TCP")
            .number(3, port)
            .message(4, target)
            .number(5, 0);
    })
}

#[test]
fn decodes_a_service_with_numeric_and_named_target_ports() {
    // kubectl create service nodeport web --tcp=80:8080 --tcp=443:https
    let spec = MessageWriter::build(|spec| {
        spec.message(1, service_port("80-8080", 80, Ok(8080)))
            .message(1, service_port("443-https", 443, Err("https")))
            .message(2, map_entry("app", b"web"))
            .string(3, "")
            .string(4, "NodePort")
            .string(7, "")
            .string(8, "")
            .string(10, "")
            .string(11, "")
            .number(12, 0)
            .boolean(13, false);
    });
    let status = MessageWriter::build(|status| _ = status.message(1, MessageWriter::default()));
    let service = MessageWriter::build(|service| {
        service
            .message(1, go_style_metadata("web", app_label))
            .message(2, spec)
            .message(3, status);
    });
    let object = decode_object(&envelope("v1", "Service", service)).unwrap();
    assert_eq!(
        object,
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "generation": 0, "labels": {"app": "web"}},
            "spec": {
                "ports": [
                    {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 0},
                    {"name": "443-https", "protocol": "TCP", "port": 443, "targetPort": "https", "nodePort": 0},
                ],
                "selector": {"app": "web"},
                "type": "NodePort",
                "healthCheckNodePort": 0,
                "publishNotReadyAddresses": false,
            },
            "status": {"loadBalancer": {}},
        })
    );
}
