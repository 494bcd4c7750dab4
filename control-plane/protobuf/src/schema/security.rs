//! Layouts of the security contexts of a pod and of its containers.

use super::FieldKind::{Bool, Integer, Message, String};
use super::{MessageSchema, many, one};

static CAPABILITIES: MessageSchema = MessageSchema {
    name: "Capabilities",
    fields: &[many(1, "add", String), many(2, "drop", String)],
};

static SE_LINUX_OPTIONS: MessageSchema = MessageSchema {
    name: "SELinuxOptions",
    fields: &[
        one(1, "user", String),
        one(2, "role", String),
        one(3, "type", String),
        one(4, "level", String),
    ],
};

static WINDOWS_SECURITY_CONTEXT_OPTIONS: MessageSchema = MessageSchema {
    name: "WindowsSecurityContextOptions",
    fields: &[
        one(1, "gmsaCredentialSpecName", String),
        one(2, "gmsaCredentialSpec", String),
        one(3, "runAsUserName", String),
        one(4, "hostProcess", Bool),
    ],
};

static SECCOMP_PROFILE: MessageSchema = MessageSchema {
    name: "SeccompProfile",
    fields: &[one(1, "type", String), one(2, "localhostProfile", String)],
};

static APP_ARMOR_PROFILE: MessageSchema = MessageSchema {
    name: "AppArmorProfile",
    fields: &[one(1, "type", String), one(2, "localhostProfile", String)],
};

static SYSCTL: MessageSchema = MessageSchema {
    name: "Sysctl",
    fields: &[one(1, "name", String), one(2, "value", String)],
};

pub static SECURITY_CONTEXT: MessageSchema = MessageSchema {
    name: "SecurityContext",
    fields: &[
        one(1, "capabilities", Message(&CAPABILITIES)),
        one(2, "privileged", Bool),
        one(3, "seLinuxOptions", Message(&SE_LINUX_OPTIONS)),
        one(4, "runAsUser", Integer),
        one(5, "runAsNonRoot", Bool),
        one(6, "readOnlyRootFilesystem", Bool),
        one(7, "allowPrivilegeEscalation", Bool),
        one(8, "runAsGroup", Integer),
        one(9, "procMount", String),
        one(
            10,
            "windowsOptions",
            Message(&WINDOWS_SECURITY_CONTEXT_OPTIONS),
        ),
        one(11, "seccompProfile", Message(&SECCOMP_PROFILE)),
        one(12, "appArmorProfile", Message(&APP_ARMOR_PROFILE)),
    ],
};

pub static POD_SECURITY_CONTEXT: MessageSchema = MessageSchema {
    name: "PodSecurityContext",
    fields: &[
        one(1, "seLinuxOptions", Message(&SE_LINUX_OPTIONS)),
        one(2, "runAsUser", Integer),
        one(3, "runAsNonRoot", Bool),
        many(4, "supplementalGroups", Integer),
        one(5, "fsGroup", Integer),
        one(6, "runAsGroup", Integer),
        many(7, "sysctls", Message(&SYSCTL)),
        one(
            8,
            "windowsOptions",
            Message(&WINDOWS_SECURITY_CONTEXT_OPTIONS),
        ),
        one(9, "fsGroupChangePolicy", String),
        one(10, "seccompProfile", Message(&SECCOMP_PROFILE)),
        one(11, "appArmorProfile", Message(&APP_ARMOR_PROFILE)),
        one(12, "supplementalGroupsPolicy", String),
        one(13, "seLinuxChangePolicy", String),
    ],
};
