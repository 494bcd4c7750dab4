//! kubectl-shaped client verbs (apply, get, describe, delete, create, logs) over kube-rs.
//!
//! The binary flattens [`GlobalOptions`] into its top-level arguments and
//! [`ClientCommand`] into its subcommands, then calls [`run`].

mod api;
mod apply;
mod apply_patch;
mod create;
mod delete;
mod describe;
mod describe_format;
mod describe_kinds;
mod error;
mod get;
mod jsonpath;
mod logs;
mod manifests;
mod options;
mod output;
mod resolve;
mod run;
mod tab_writer;
mod table;
#[cfg(test)]
mod test_fixtures;
mod watch;

use std::io::Write;

pub use apply::ApplyArgs;
pub use create::{CreateArgs, CreateCommand};
pub use delete::DeleteArgs;
pub use describe::DescribeArgs;
pub use error::ClientError;
pub use get::GetArgs;
pub use logs::LogsArgs;
pub use options::{Connection, GlobalOptions, connect};
pub use run::RunArgs;

/// The client verbs, shaped like kubectl's.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ClientCommand {
    /// Apply a configuration to a resource by file name or stdin.
    Apply(ApplyArgs),
    /// Display one or many resources.
    Get(GetArgs),
    /// Show details of a specific resource or group of resources.
    Describe(DescribeArgs),
    /// Delete resources by file names, stdin, resources and names, or by label selector.
    Delete(DeleteArgs),
    /// Create a resource (only `create namespace NAME` for now).
    Create(CreateArgs),
    /// Print the logs for a container in a pod.
    Logs(LogsArgs),
    /// Create and run a particular image in a pod; with -i, stream its output and exit
    /// with its exit code.
    Run(RunArgs),
}

/// Runs one verb, writing to `out`/`err`; returns the process exit code.
///
/// Every failure kubectl would report (server errors, bad manifests, unknown resource
/// types, an unreadable kubeconfig) is written to `err` in kubectl's wording and gives
/// `Ok(1)`. `Err` is returned only when writing to `out` or `err` itself fails.
pub async fn run(
    global: &GlobalOptions,
    command: ClientCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, ClientError> {
    let result = run_verb(global, command, out, err).await;
    out.flush()?;
    match result {
        Ok(exit_code) => Ok(exit_code),
        Err(ClientError::Output(error)) => Err(ClientError::Output(error)),
        Err(error) => {
            writeln!(err, "{error}")?;
            Ok(1)
        }
    }
}

async fn run_verb(
    global: &GlobalOptions,
    command: ClientCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, ClientError> {
    let connection = options::connect(global).await?;
    match command {
        ClientCommand::Apply(args) => {
            apply::run_apply(&connection, args, &mut std::io::stdin().lock(), out, err).await
        }
        ClientCommand::Get(args) => get::run_get(&connection, args, out, err).await,
        ClientCommand::Describe(args) => describe::run_describe(&connection, args, out, err).await,
        ClientCommand::Delete(args) => {
            delete::run_delete(&connection, args, &mut std::io::stdin().lock(), out, err).await
        }
        ClientCommand::Create(args) => create::run_create(&connection, args, out).await,
        ClientCommand::Logs(args) => logs::run_logs(&connection, args, out, err).await,
        ClientCommand::Run(args) => run::run_run(&connection, args, out, err).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    /// The shape the binary is expected to give these types.
    #[derive(Debug, Parser)]
    struct TestCli {
        #[command(flatten)]
        global: GlobalOptions,
        #[command(subcommand)]
        command: ClientCommand,
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        TestCli::command().debug_assert();
    }

    #[test]
    fn global_flags_are_accepted_after_the_verb_like_kubectl() {
        let parsed = TestCli::try_parse_from([
            "wasmkube", "get", "pods", "-n", "team", "-o", "wide", "-l", "app=web",
        ]);
        let Ok(TestCli {
            global,
            command: ClientCommand::Get(get),
        }) = parsed
        else {
            panic!("get did not parse: {parsed:?}");
        };
        assert_eq!(global.namespace.as_deref(), Some("team"));
        assert_eq!(get.resources, vec!["pods"]);
        assert_eq!(get.output.as_deref(), Some("wide"));
        assert_eq!(get.selector.as_deref(), Some("app=web"));
    }

    #[test]
    fn create_namespace_and_repeated_filenames_parse() {
        let create = TestCli::try_parse_from(["wasmkube", "create", "namespace", "team"]);
        assert!(matches!(
            create,
            Ok(TestCli { command: ClientCommand::Create(CreateArgs { what: CreateCommand::Namespace { ref name } }), .. }) if name == "team"
        ));
        let apply = TestCli::try_parse_from(["wasmkube", "apply", "-f", "a.yaml", "-f", "dir"]);
        assert!(
            matches!(apply, Ok(TestCli { command: ClientCommand::Apply(ApplyArgs { ref filenames }), .. }) if filenames == &["a.yaml", "dir"])
        );
        let logs =
            TestCli::try_parse_from(["wasmkube", "logs", "web", "--tail", "5", "-f", "-c", "app"]);
        assert!(
            matches!(logs, Ok(TestCli { command: ClientCommand::Logs(ref logs), .. }) if logs.tail == 5 && logs.follow)
        );
    }

    #[tokio::test]
    async fn an_unreadable_kubeconfig_is_reported_on_stderr_with_exit_code_1() {
        let global = GlobalOptions {
            kubeconfig: Some("/nonexistent/wasmkube-kubeconfig".to_string()),
            ..GlobalOptions::default()
        };
        let command = ClientCommand::Create(CreateArgs {
            what: CreateCommand::Namespace {
                name: "x".to_string(),
            },
        });
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let exit_code = run(&global, command, &mut out, &mut err).await.ok();
        assert_eq!(exit_code, Some(1));
        assert!(out.is_empty());
        let message = String::from_utf8_lossy(&err);
        assert!(
            message.starts_with("error: loading kubeconfig /nonexistent/wasmkube-kubeconfig:"),
            "{message}"
        );
    }
}
