use super::*;
use serde_json::json;

fn now() -> Timestamp {
    "2024-05-01T10:00:00Z".parse().unwrap()
}

fn pod_template() -> Value {
    json!({"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl:5.34"}]}})
}

#[test]
fn completed_job() {
    let job = json!({
        "kind": "Job",
        "metadata": {"name": "pi", "creationTimestamp": "2024-05-01T09:50:00Z"},
        "spec": {"completions": 1, "parallelism": 1, "template": pod_template(),
                 "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "1234"}}},
        "status": {"succeeded": 1, "startTime": "2024-05-01T09:50:00Z", "completionTime": "2024-05-01T09:50:42Z",
                   "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}
    });
    assert_eq!(
        job_cells(&job, now()),
        [
            json!("pi"),
            json!("Complete"),
            json!("1/1"),
            json!("42s"),
            json!("10m"),
            json!("pi"),
            json!("perl:5.34"),
            json!("batch.kubernetes.io/controller-uid=1234")
        ]
    );
}

#[test]
fn running_work_queue_job_measures_duration_until_now() {
    let job = json!({
        "metadata": {"name": "queue"},
        "spec": {"parallelism": 3, "template": pod_template()},
        "status": {"succeeded": 2, "startTime": "2024-05-01T09:57:00Z"}
    });
    let cells = job_cells(&job, now());
    assert_eq!(
        cells[1..4],
        [json!("Running"), json!("2/1 of 3"), json!("3m")]
    );
}

#[test]
fn job_status_precedence() {
    let with_conditions = |conditions: Value| json!({"status": {"conditions": conditions}});
    let failed = with_conditions(json!([{"type": "Failed", "status": "True"}]));
    assert_eq!(job_cells(&failed, now())[1], json!("Failed"));
    let suspended = with_conditions(json!([{"type": "Suspended", "status": "True"}]));
    assert_eq!(job_cells(&suspended, now())[1], json!("Suspended"));
    let failing = with_conditions(json!([{"type": "FailureTarget", "status": "True"}]));
    assert_eq!(job_cells(&failing, now())[1], json!("FailureTarget"));
    let not_yet = with_conditions(json!([{"type": "Complete", "status": "False"}]));
    assert_eq!(job_cells(&not_yet, now())[1], json!("Running"));
    let mut deleting = with_conditions(json!([{"type": "Suspended", "status": "True"}]));
    deleting["metadata"] = json!({"deletionTimestamp": "2024-05-01T09:59:00Z"});
    assert_eq!(job_cells(&deleting, now())[1], json!("Terminating"));
}

#[test]
fn empty_job_prints_zero_values() {
    assert_eq!(
        job_cells(&json!({}), now()),
        [
            json!(""),
            json!("Running"),
            json!("0/1"),
            json!(""),
            json!("<unknown>"),
            json!(""),
            json!(""),
            json!("<none>")
        ]
    );
}

#[test]
fn cron_job_with_schedule_and_active_jobs() {
    let cron_job = json!({
        "kind": "CronJob",
        "metadata": {"name": "backup", "creationTimestamp": "2024-04-24T10:00:00Z"},
        "spec": {"schedule": "*/5 * * * *", "timeZone": "Europe/Paris", "suspend": false,
                 "jobTemplate": {"spec": {"template": pod_template()}}},
        "status": {"active": [{"kind": "Job", "name": "backup-28577100"}], "lastScheduleTime": "2024-05-01T09:55:00Z"}
    });
    assert_eq!(
        cron_job_cells(&cron_job, now()),
        [
            json!("backup"),
            json!("*/5 * * * *"),
            json!("Europe/Paris"),
            json!("False"),
            json!(1),
            json!("5m"),
            json!("7d"),
            json!("pi"),
            json!("perl:5.34"),
            json!("<none>")
        ]
    );
}

#[test]
fn cron_job_never_scheduled() {
    let cron_job = json!({"metadata": {"name": "nightly"}, "spec": {"schedule": "0 0 * * *", "suspend": true}});
    assert_eq!(
        cron_job_cells(&cron_job, now())[1..6],
        [
            json!("0 0 * * *"),
            json!("<none>"),
            json!("True"),
            json!(0),
            json!("<none>")
        ]
    );
    assert_eq!(cron_job_cells(&json!({}), now())[3], json!("<unset>"));
}

#[test]
fn batch_columns_match_kubernetes() {
    let job_names: Vec<&str> = job_columns().iter().map(|column| column.name).collect();
    assert_eq!(
        job_names,
        [
            "Name",
            "Status",
            "Completions",
            "Duration",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    let cron_summary: Vec<(&str, &str)> = cron_job_columns()
        .iter()
        .map(|column| (column.name, column.column_type))
        .collect();
    assert_eq!(
        cron_summary[..7],
        [
            ("Name", "string"),
            ("Schedule", "string"),
            ("Timezone", "string"),
            ("Suspend", "boolean"),
            ("Active", "integer"),
            ("Last Schedule", "string"),
            ("Age", "string")
        ]
    );
}
