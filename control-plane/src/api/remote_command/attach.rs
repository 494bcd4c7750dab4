//! pods/attach: `kubectl attach` and `kubectl run -i`. The node's attach route
//! (`runtime/src/attach.rs`) carries stdin to the container and its log back, stdout and
//! stderr merged, until the container exits.

use std::sync::Arc;

use axum::extract::Request;
use axum::response::Response;

use super::node_stream::NodeFraming;
use super::{NodeRoute, session_target, upgrade};
use crate::api::ApiState;
use crate::api::status::ApiResult;
use crate::api::target::ResourceTarget;

/// The `Upgrade` protocol of the node endpoint's attach route (the runtime crate's
/// `attach::ATTACH_UPGRADE`).
const NODE_ATTACH_UPGRADE: &str = "wasmkube-attach";

pub async fn attach(
    state: &Arc<ApiState>,
    request: Request,
    target: &ResourceTarget,
) -> ApiResult<Response> {
    let session = session_target(state, &request, target)?;
    // A completed pod is not refused here (kubectl refuses it itself): a pod that
    // completed just after kubectl saw it running still gets its output from the node.
    let route = NodeRoute {
        path_and_query: format!(
            "/attach/{}/{}/{}/{}?stdin={}",
            session.namespace, session.name, session.uid, session.container, session.options.stdin
        ),
        upgrade: NODE_ATTACH_UPGRADE,
        framing: NodeFraming::Merged,
    };
    upgrade(state, request, session, "attach", route).await
}
