//! pods/exec: `kubectl exec`. The node's exec route (`runtime/src/exec`) runs the command
//! as the container's image run again in the container's sandbox, with the client's
//! stdin, and sends back stdout and stderr apart and the command's Status (a non-zero
//! exit code as the kubelet's NonZeroExitCode, which kubectl turns into its own exit
//! code).

use std::sync::Arc;

use axum::extract::Request;
use axum::response::Response;

use super::node_stream::NodeFraming;
use super::{NodeRoute, session_target, upgrade};
use crate::api::ApiState;
use crate::api::status::{ApiError, ApiResult};
use crate::api::target::ResourceTarget;

/// The `Upgrade` protocol of the node endpoint's exec route (the runtime crate's
/// `exec::EXEC_UPGRADE`).
const NODE_EXEC_UPGRADE: &str = "wasmkube-exec";

pub async fn exec(
    state: &Arc<ApiState>,
    request: Request,
    target: &ResourceTarget,
) -> ApiResult<Response> {
    let session = session_target(state, &request, target)?;
    let options = &session.options;
    if options.command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    // The kubelet's check, made before the upgrade so that the client sees it at once.
    if !(options.stdin || options.stdout || options.stderr) {
        return Err(ApiError::bad_request(
            "you must specify at least 1 of stdin, stdout, stderr",
        ));
    }
    let mut query: Vec<(&str, &str)> = options
        .command
        .iter()
        .map(|word| ("command", word.as_str()))
        .collect();
    query.push(("stdin", if options.stdin { "true" } else { "false" }));
    let query = serde_urlencoded::to_string(&query)
        .map_err(|error| ApiError::internal(format!("the node's query: {error}")))?;
    let route = NodeRoute {
        path_and_query: format!(
            "/exec/{}/{}/{}/{}?{query}",
            session.namespace, session.name, session.uid, session.container
        ),
        upgrade: NODE_EXEC_UPGRADE,
        framing: NodeFraming::Frames,
    };
    upgrade(state, request, session, "exec", route).await
}
