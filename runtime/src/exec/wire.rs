//! What an exec session sends back to the API server: frames of `[kind, length (u32,
//! big-endian), payload]`, stdout and stderr as the guest wrote them, then one status
//! frame with the Kubernetes Status the kubelet writes on the error channel.

use serde_json::{Value, json};

use crate::guest::GuestExit;

pub const STDOUT_FRAME: u8 = 1;
pub const STDERR_FRAME: u8 = 2;
pub const STATUS_FRAME: u8 = 3;

/// The bytes of one frame.
pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut frame = Vec::with_capacity(payload.len() + 5);
    frame.push(kind);
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(&payload[..payload.len().min(length as usize)]);
    frame
}

/// The kubelet's Status for a command that ran to its end: Success, or
/// NonZeroExitCode with the code as the ExitCode cause, which kubectl turns into "command
/// terminated with exit code N" and its own exit code.
pub fn exit_status(command: &[String], exit: &GuestExit) -> Value {
    match (&exit.message, exit.reason) {
        (Some(message), _) => internal_error(message),
        (None, "StartError") => internal_error("the command's guest could not start"),
        (None, _) if exit.exit_code == 0 => json!({"metadata": {}, "status": "Success"}),
        (None, _) => non_zero_exit_code(command, exit.exit_code),
    }
}

/// A command that ended with a non-zero code, in the kubelet's words (the runtime's
/// error after "command terminated with non-zero exit code: ").
pub fn non_zero_exit_code(command: &[String], exit_code: i32) -> Value {
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: command '{}' exited with {exit_code}",
            command.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": exit_code.to_string()}]},
    })
}

/// A command that could not run or did not end with a code (a trap): the kubelet's
/// "error executing command in container" as an InternalError, which kubectl shows as
/// its message.
pub fn internal_error(why: &str) -> Value {
    let cause = format!("error executing command in container: {why}");
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("Internal error occurred: {cause}"),
        "reason": "InternalError",
        "details": {"causes": [{"message": cause}]},
        "code": 500,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command() -> Vec<String> {
        vec!["exit-with-code".to_owned(), "3".to_owned()]
    }

    #[test]
    fn an_exit_code_is_the_kubelets_non_zero_exit_code_status() {
        let failed = GuestExit {
            exit_code: 3,
            reason: "Error",
            message: None,
        };
        let status = exit_status(&command(), &failed);
        assert_eq!(status["reason"], json!("NonZeroExitCode"));
        assert_eq!(
            status["details"]["causes"],
            json!([{"reason": "ExitCode", "message": "3"}])
        );
        let succeeded = GuestExit {
            exit_code: 0,
            reason: "Completed",
            message: None,
        };
        assert_eq!(
            exit_status(&command(), &succeeded),
            json!({"metadata": {}, "status": "Success"})
        );
    }

    #[test]
    fn a_trap_is_an_internal_error_with_its_message() {
        let trapped = GuestExit {
            exit_code: 134,
            reason: "Error",
            message: Some("wasm trap: unreachable".to_owned()),
        };
        let status = exit_status(&command(), &trapped);
        assert_eq!(status["code"], json!(500));
        assert_eq!(
            status["message"],
            json!(
                "Internal error occurred: error executing command in container: wasm trap: unreachable"
            )
        );
    }

    #[test]
    fn a_frame_carries_its_kind_and_length() {
        assert_eq!(frame(STDERR_FRAME, b"hi"), vec![2, 0, 0, 0, 2, b'h', b'i']);
    }
}
