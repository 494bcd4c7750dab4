//! Decoding the parts of a pod template that kubectl's create verbs leave out but a
//! client-go program sets: volumes, environment from secrets, probes, resources,
//! security contexts, tolerations and affinity. Go embeds some structs in others
//! (a Volume's source, a Probe's handler, a key selector's name); on the wire they are
//! messages of their own, and JSON writes their fields among their parent's.

mod support;

use serde_json::{Value, json};
use support::{envelope, go_style_metadata, map_entry};
use wasmkube_protobuf::decode_object;
use wasmkube_protobuf::wire::MessageWriter;

fn nested(field: u32, inner: MessageWriter) -> MessageWriter {
    MessageWriter::build(|outer| _ = outer.message(field, inner))
}

fn name_only(name: &str) -> MessageWriter {
    MessageWriter::build(|reference| _ = reference.string(1, name))
}

fn quantity(text: &str) -> MessageWriter {
    MessageWriter::build(|quantity| _ = quantity.string(1, text))
}

fn quantity_entry(key: &str, text: &str) -> MessageWriter {
    MessageWriter::build(|entry| _ = entry.string(1, key).message(2, quantity(text)))
}

fn volumes() -> Vec<MessageWriter> {
    let items = MessageWriter::build(|item| _ = item.string(1, "app.conf").string(2, "app.conf"));
    let config_map = MessageWriter::build(|source| {
        source
            .message(1, name_only("settings"))
            .message(2, items)
            .number(3, 0o644);
    });
    let token = MessageWriter::build(|token| {
        token.string(1, "api").number(2, 3600).string(3, "token");
    });
    let projected = MessageWriter::build(|source| _ = source.message(1, nested(4, token)));
    let empty_dir = MessageWriter::build(|source| {
        source.string(1, "Memory").message(2, quantity("64Mi"));
    });
    [
        ("config", nested(19, config_map)),
        ("token", nested(26, projected)),
        ("scratch", nested(2, empty_dir)),
    ]
    .into_iter()
    .map(|(name, source)| {
        MessageWriter::build(|volume| _ = volume.string(1, name).message(2, source))
    })
    .collect()
}

fn container() -> MessageWriter {
    let secret_key = MessageWriter::build(|selector| {
        selector.message(1, name_only("db")).string(2, "password");
    });
    let env = MessageWriter::build(|env| {
        env.string(1, "PASSWORD")
            .string(2, "")
            .message(3, nested(4, secret_key));
    });
    let resources = MessageWriter::build(|resources| {
        resources
            .message(1, quantity_entry("cpu", "500m"))
            .message(1, quantity_entry("memory", "128Mi"));
    });
    let named_port = MessageWriter::build(|port| {
        port.number(1, 1).number(2, 0).string(3, "http");
    });
    let http_get = MessageWriter::build(|action| {
        action
            .string(1, "/healthz")
            .message(2, named_port)
            .string(3, "")
            .string(4, "");
    });
    let probe = MessageWriter::build(|probe| {
        probe.message(1, nested(2, http_get));
        for (field, value) in [(2, 0), (3, 0), (4, 5), (5, 0), (6, 0)] {
            probe.number(field, value);
        }
    });
    let capabilities = MessageWriter::build(|capabilities| _ = capabilities.string(2, "ALL"));
    let security = MessageWriter::build(|security| {
        security
            .message(1, capabilities)
            .boolean(5, true)
            .boolean(7, false);
    });
    MessageWriter::build(|container| {
        container
            .string(1, "app")
            .string(2, "registry.example/app:2")
            .message(7, env)
            .message(8, resources)
            .message(11, probe)
            .message(15, security);
    })
}

fn affinity() -> MessageWriter {
    let selector = nested(1, map_entry("app", b"web"));
    let term = MessageWriter::build(|term| {
        term.message(1, selector)
            .string(3, "kubernetes.io/hostname");
    });
    let weighted = MessageWriter::build(|weighted| _ = weighted.number(1, 100).message(2, term));
    nested(3, nested(2, weighted))
}

fn pod_spec() -> MessageWriter {
    let seccomp = MessageWriter::build(|profile| _ = profile.string(1, "RuntimeDefault"));
    let pod_security = MessageWriter::build(|security| {
        security
            .number(2, 1000)
            .number(4, 1000)
            .number(4, 2000)
            .message(10, seccomp);
    });
    let toleration = MessageWriter::build(|toleration| {
        toleration
            .string(1, "dedicated")
            .string(2, "Equal")
            .string(3, "web")
            .string(4, "NoSchedule");
    });
    MessageWriter::build(|spec| {
        for volume in volumes() {
            spec.message(1, volume);
        }
        spec.message(2, container())
            .number(4, 30)
            .message(14, pod_security)
            .message(18, affinity())
            .message(22, toleration)
            .boolean(30, false);
    })
}

fn deployment(spec: MessageWriter) -> Vec<u8> {
    let template = MessageWriter::build(|template| {
        template
            .message(1, go_style_metadata("", |_| {}))
            .message(2, spec);
    });
    let rolling_update = MessageWriter::build(|update| {
        update
            .message(
                1,
                MessageWriter::build(|value| _ = value.number(1, 0).number(2, 0).string(3, "")),
            )
            .message(
                2,
                MessageWriter::build(|value| _ = value.number(1, 1).number(2, 0).string(3, "25%")),
            );
    });
    let strategy = MessageWriter::build(|strategy| {
        strategy
            .string(1, "RollingUpdate")
            .message(2, rolling_update);
    });
    let deployment_spec = MessageWriter::build(|spec| {
        spec.message(3, template).message(4, strategy);
    });
    let deployment = MessageWriter::build(|deployment| {
        deployment
            .message(1, go_style_metadata("web", |_| {}))
            .message(2, deployment_spec);
    });
    envelope("apps/v1", "Deployment", deployment)
}

#[test]
fn decodes_a_pod_template_as_a_client_go_program_sends_it() {
    let object = decode_object(&deployment(pod_spec())).unwrap();
    assert_eq!(
        object["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}})
    );
    let spec = &object["spec"]["template"]["spec"];
    let expected: Value = json!({
        "volumes": [
            {"name": "config", "configMap": {"name": "settings", "items": [{"key": "app.conf", "path": "app.conf"}], "defaultMode": 420}},
            {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"audience": "api", "expirationSeconds": 3600, "path": "token"}}]}},
            {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
        ],
        "containers": [{
            "name": "app",
            "image": "registry.example/app:2",
            "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
            "readinessProbe": {
                "httpGet": {"path": "/healthz", "port": "http"},
                "initialDelaySeconds": 0,
                "timeoutSeconds": 0,
                "periodSeconds": 5,
                "successThreshold": 0,
                "failureThreshold": 0,
            },
            "securityContext": {
                "capabilities": {"drop": ["ALL"]},
                "runAsNonRoot": true,
                "allowPrivilegeEscalation": false,
            },
        }],
        "terminationGracePeriodSeconds": 30,
        "securityContext": {
            "runAsUser": 1000,
            "supplementalGroups": [1000, 2000],
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100,
            "podAffinityTerm": {
                "labelSelector": {"matchLabels": {"app": "web"}},
                "topologyKey": "kubernetes.io/hostname",
            },
        }]}},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}],
        "enableServiceLinks": false,
    });
    assert_eq!(spec, &expected);
}

#[test]
fn names_the_path_to_a_field_the_layout_does_not_know() {
    let unknown = MessageWriter::build(|container| {
        container
            .string(1, "app")
            .string(99, "from a newer Kubernetes");
    });
    let spec = MessageWriter::build(|spec| _ = spec.message(2, unknown));
    let error = decode_object(&deployment(spec)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the Deployment in the protobuf body is malformed: Deployment.spec: DeploymentSpec.template: \
         PodTemplateSpec.spec: PodSpec.containers: field 99 of Container is not supported over protobuf"
    );

    // Inside an embedded struct the path goes through the field that embeds it.
    let source = nested(
        19,
        MessageWriter::build(|config_map| {
            config_map.message(
                1,
                MessageWriter::build(|reference| _ = reference.string(2, "?")),
            );
        }),
    );
    let volume = MessageWriter::build(|volume| _ = volume.string(1, "config").message(2, source));
    let spec = MessageWriter::build(|spec| _ = spec.message(1, volume));
    let error = decode_object(&deployment(spec)).unwrap_err();
    assert!(
        error.to_string().ends_with(
            "PodSpec.volumes: Volume.volumeSource: VolumeSource.configMap: \
             ConfigMapVolumeSource.localObjectReference: field 2 of LocalObjectReference is not \
             supported over protobuf"
        ),
        "{error}"
    );
}
