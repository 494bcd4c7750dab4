use clap::Parser;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use super::*;

#[derive(Debug, Parser)]
struct TestCli {
    #[command(flatten)]
    run: RunArgs,
}

fn parse(arguments: &[&str]) -> RunArgs {
    let mut all = vec!["run"];
    all.extend_from_slice(arguments);
    TestCli::try_parse_from(all)
        .map(|cli| cli.run)
        .expect("the run arguments parse")
}

fn pod(status: Value) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": "x"}, "status": status})).expect("a pod")
}

#[test]
fn the_pod_is_built_as_kubectl_run_builds_it() {
    let args = parse(&[
        "hello",
        "--image=hello:1",
        "--rm",
        "-i",
        "--restart=Never",
        "--",
        "a",
        "-b",
    ]);
    assert_eq!(
        run_pod(&args).ok(),
        Some(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "hello", "labels": {"run": "hello"}},
            "spec": {
                "containers": [{
                    "name": "hello",
                    "image": "hello:1",
                    "args": ["a", "-b"],
                    "resources": {},
                    "stdin": true,
                    "stdinOnce": true,
                }],
                "dnsPolicy": "ClusterFirst",
                "restartPolicy": "Never",
            },
            "status": {},
        }))
    );
}

#[test]
fn command_env_labels_annotations_and_port_are_placed_like_kubectl() {
    let args = parse(&[
        "web",
        "--image=echo:1",
        "--command",
        "--env=A=1",
        "--env",
        "B=x=y",
        "-l",
        "app=web,tier=front",
        "--annotations=note=hi",
        "--port=8080",
        "--image-pull-policy=Never",
        "--",
        "serve",
        "now",
    ]);
    let pod = run_pod(&args).expect("a pod");
    assert_eq!(
        pod["metadata"]["labels"],
        json!({"app": "web", "tier": "front"})
    );
    assert_eq!(pod["metadata"]["annotations"], json!({"note": "hi"}));
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["command"], json!(["serve", "now"]));
    assert_eq!(container.get("args"), None);
    assert_eq!(
        container["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "x=y"}])
    );
    assert_eq!(container["ports"], json!([{"containerPort": 8080}]));
    assert_eq!(container["imagePullPolicy"], json!("Never"));
    assert_eq!(container.get("stdin"), None);
    assert_eq!(pod["spec"]["restartPolicy"], json!("Always"));
}

#[test]
fn restart_policies_default_and_bad_values_are_refused() {
    assert_eq!(restart_policy(None, true).ok(), Some("OnFailure"));
    assert_eq!(restart_policy(None, false).ok(), Some("Always"));
    assert_eq!(restart_policy(Some("Never"), false).ok(), Some("Never"));
    assert_eq!(
        restart_policy(Some("Sometimes"), false)
            .err()
            .map(|error| error.to_string()),
        Some("error: invalid restart policy: Sometimes".to_owned())
    );
    let bad_env = parse(&["x", "--image=i", "--env=NOVALUE"]);
    assert!(run_pod(&bad_env).is_err());
}

#[test]
fn progress_follows_the_phase_and_fails_fast_on_image_errors() {
    assert_eq!(pod_progress(None), PodProgress::Deleted);
    assert_eq!(
        pod_progress(Some(&pod(json!({"phase": "Pending"})))),
        PodProgress::Starting
    );
    assert_eq!(
        pod_progress(Some(&pod(json!({"phase": "Running"})))),
        PodProgress::Running
    );
    assert_eq!(
        pod_progress(Some(&pod(json!({"phase": "Failed"})))),
        PodProgress::Completed
    );
    let pulling = pod(json!({"phase": "Pending", "containerStatuses": [{
        "name": "x", "image": "nope:1", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ErrImagePull", "message": "image \"nope:1\" not found"}}}]}));
    assert_eq!(
        pod_progress(Some(&pulling)),
        PodProgress::CannotStart {
            reason: "ErrImagePull".to_owned(),
            message: "image \"nope:1\" not found".to_owned()
        }
    );
}

#[test]
fn a_failed_pod_gives_its_containers_exit_code_in_kubectls_words() {
    let failed = pod(json!({"phase": "Failed", "containerStatuses": [{
        "name": "x", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"terminated": {"exitCode": 3, "reason": "Error"}}}]}));
    assert_eq!(
        completed_outcome(&failed, "default", "x"),
        RunOutcome {
            exit_code: 3,
            message: Some("pod default/x terminated (Error)\n".to_owned())
        }
    );
    assert_eq!(
        completed_outcome(&pod(json!({"phase": "Succeeded"})), "default", "x"),
        RunOutcome::success()
    );
    assert_eq!(
        completed_outcome(&pod(json!({"phase": "Failed"})), "default", "x").message,
        Some("error: pod default/x failed with unknown exit code".to_owned())
    );
}
