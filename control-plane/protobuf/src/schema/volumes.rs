//! Layouts of a pod's volumes: the sources pods use day to day (empty dirs, host
//! paths, config maps, secrets, claims, projections, CSI, ephemeral claims, images).
//! The sources that attach a storage system directly are in `volumes_in_tree`.

use super::FieldKind::{Bool, Inline, Integer, Message, Quantity, String};
use super::container::{OBJECT_FIELD_SELECTOR, RESOURCE_FIELD_SELECTOR};
use super::core::LOCAL_OBJECT_REFERENCE;
use super::meta::{LABEL_SELECTOR, METADATA};
use super::volumes_in_tree as in_tree;
use super::{MessageSchema, QUANTITY_MAP, STRING_MAP, many, one};

static HOST_PATH_VOLUME_SOURCE: MessageSchema = MessageSchema {
    name: "HostPathVolumeSource",
    fields: &[one(1, "path", String), one(2, "type", String)],
};

static EMPTY_DIR_VOLUME_SOURCE: MessageSchema = MessageSchema {
    name: "EmptyDirVolumeSource",
    fields: &[one(1, "medium", String), one(2, "sizeLimit", Quantity)],
};

static KEY_TO_PATH: MessageSchema = MessageSchema {
    name: "KeyToPath",
    fields: &[
        one(1, "key", String),
        one(2, "path", String),
        one(3, "mode", Integer),
    ],
};

static SECRET_VOLUME_SOURCE: MessageSchema = MessageSchema {
    name: "SecretVolumeSource",
    fields: &[
        one(1, "secretName", String),
        many(2, "items", Message(&KEY_TO_PATH)),
        one(3, "defaultMode", Integer),
        one(4, "optional", Bool),
    ],
};

static CONFIG_MAP_VOLUME_SOURCE: MessageSchema = MessageSchema {
    name: "ConfigMapVolumeSource",
    fields: &[
        one(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
        many(2, "items", Message(&KEY_TO_PATH)),
        one(3, "defaultMode", Integer),
        one(4, "optional", Bool),
    ],
};

static PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE: MessageSchema = MessageSchema {
    name: "PersistentVolumeClaimVolumeSource",
    fields: &[one(1, "claimName", String), one(2, "readOnly", Bool)],
};

static DOWNWARD_API_VOLUME_FILE: MessageSchema = MessageSchema {
    name: "DownwardAPIVolumeFile",
    fields: &[
        one(1, "path", String),
        one(2, "fieldRef", Message(&OBJECT_FIELD_SELECTOR)),
        one(3, "resourceFieldRef", Message(&RESOURCE_FIELD_SELECTOR)),
        one(4, "mode", Integer),
    ],
};

static DOWNWARD_API_VOLUME_SOURCE: MessageSchema = MessageSchema {
    name: "DownwardAPIVolumeSource",
    fields: &[
        many(1, "items", Message(&DOWNWARD_API_VOLUME_FILE)),
        one(2, "defaultMode", Integer),
    ],
};

static SECRET_PROJECTION: MessageSchema = MessageSchema {
    name: "SecretProjection",
    fields: &[
        one(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
        many(2, "items", Message(&KEY_TO_PATH)),
        one(4, "optional", Bool),
    ],
};

static CONFIG_MAP_PROJECTION: MessageSchema = MessageSchema {
    name: "ConfigMapProjection",
    fields: &[
        one(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
        many(2, "items", Message(&KEY_TO_PATH)),
        one(4, "optional", Bool),
    ],
};

static DOWNWARD_API_PROJECTION: MessageSchema = MessageSchema {
    name: "DownwardAPIProjection",
    fields: &[many(1, "items", Message(&DOWNWARD_API_VOLUME_FILE))],
};

static SERVICE_ACCOUNT_TOKEN_PROJECTION: MessageSchema = MessageSchema {
    name: "ServiceAccountTokenProjection",
    fields: &[
        one(1, "audience", String),
        one(2, "expirationSeconds", Integer),
        one(3, "path", String),
    ],
};

static CLUSTER_TRUST_BUNDLE_PROJECTION: MessageSchema = MessageSchema {
    name: "ClusterTrustBundleProjection",
    fields: &[
        one(1, "name", String),
        one(2, "signerName", String),
        one(3, "labelSelector", Message(&LABEL_SELECTOR)),
        one(4, "path", String),
        one(5, "optional", Bool),
    ],
};

static VOLUME_PROJECTION: MessageSchema = MessageSchema {
    name: "VolumeProjection",
    fields: &[
        one(1, "secret", Message(&SECRET_PROJECTION)),
        one(2, "downwardAPI", Message(&DOWNWARD_API_PROJECTION)),
        one(3, "configMap", Message(&CONFIG_MAP_PROJECTION)),
        one(
            4,
            "serviceAccountToken",
            Message(&SERVICE_ACCOUNT_TOKEN_PROJECTION),
        ),
        one(
            5,
            "clusterTrustBundle",
            Message(&CLUSTER_TRUST_BUNDLE_PROJECTION),
        ),
    ],
};

static PROJECTED_VOLUME_SOURCE: MessageSchema = MessageSchema {
    name: "ProjectedVolumeSource",
    fields: &[
        many(1, "sources", Message(&VOLUME_PROJECTION)),
        one(2, "defaultMode", Integer),
    ],
};

static CSI_VOLUME_SOURCE: MessageSchema = MessageSchema {
    name: "CSIVolumeSource",
    fields: &[
        one(1, "driver", String),
        one(2, "readOnly", Bool),
        one(3, "fsType", String),
        one(4, "volumeAttributes", STRING_MAP),
        one(5, "nodePublishSecretRef", Message(&LOCAL_OBJECT_REFERENCE)),
    ],
};

static TYPED_LOCAL_OBJECT_REFERENCE: MessageSchema = MessageSchema {
    name: "TypedLocalObjectReference",
    fields: &[
        one(1, "apiGroup", String),
        one(2, "kind", String),
        one(3, "name", String),
    ],
};

static TYPED_OBJECT_REFERENCE: MessageSchema = MessageSchema {
    name: "TypedObjectReference",
    fields: &[
        one(1, "apiGroup", String),
        one(2, "kind", String),
        one(3, "name", String),
        one(4, "namespace", String),
    ],
};

static VOLUME_RESOURCE_REQUIREMENTS: MessageSchema = MessageSchema {
    name: "VolumeResourceRequirements",
    fields: &[
        one(1, "limits", QUANTITY_MAP),
        one(2, "requests", QUANTITY_MAP),
    ],
};

static PERSISTENT_VOLUME_CLAIM_SPEC: MessageSchema = MessageSchema {
    name: "PersistentVolumeClaimSpec",
    fields: &[
        many(1, "accessModes", String),
        one(2, "resources", Message(&VOLUME_RESOURCE_REQUIREMENTS)),
        one(3, "volumeName", String),
        one(4, "selector", Message(&LABEL_SELECTOR)),
        one(5, "storageClassName", String),
        one(6, "volumeMode", String),
        one(7, "dataSource", Message(&TYPED_LOCAL_OBJECT_REFERENCE)),
        one(8, "dataSourceRef", Message(&TYPED_OBJECT_REFERENCE)),
        one(9, "volumeAttributesClassName", String),
    ],
};

static PERSISTENT_VOLUME_CLAIM_TEMPLATE: MessageSchema = MessageSchema {
    name: "PersistentVolumeClaimTemplate",
    fields: &[
        METADATA,
        one(2, "spec", Message(&PERSISTENT_VOLUME_CLAIM_SPEC)),
    ],
};

static EPHEMERAL_VOLUME_SOURCE: MessageSchema = MessageSchema {
    name: "EphemeralVolumeSource",
    fields: &[one(
        1,
        "volumeClaimTemplate",
        Message(&PERSISTENT_VOLUME_CLAIM_TEMPLATE),
    )],
};

static IMAGE_VOLUME_SOURCE: MessageSchema = MessageSchema {
    name: "ImageVolumeSource",
    fields: &[one(1, "reference", String), one(2, "pullPolicy", String)],
};

/// Exactly one of these is set; Go embeds the struct in Volume, so JSON writes the
/// chosen source beside the volume's name.
static VOLUME_SOURCE: MessageSchema = MessageSchema {
    name: "VolumeSource",
    fields: &[
        one(1, "hostPath", Message(&HOST_PATH_VOLUME_SOURCE)),
        one(2, "emptyDir", Message(&EMPTY_DIR_VOLUME_SOURCE)),
        one(
            3,
            "gcePersistentDisk",
            Message(&in_tree::GCE_PERSISTENT_DISK),
        ),
        one(
            4,
            "awsElasticBlockStore",
            Message(&in_tree::AWS_ELASTIC_BLOCK_STORE),
        ),
        one(5, "gitRepo", Message(&in_tree::GIT_REPO)),
        one(6, "secret", Message(&SECRET_VOLUME_SOURCE)),
        one(7, "nfs", Message(&in_tree::NFS)),
        one(8, "iscsi", Message(&in_tree::ISCSI)),
        one(9, "glusterfs", Message(&in_tree::GLUSTERFS)),
        one(
            10,
            "persistentVolumeClaim",
            Message(&PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE),
        ),
        one(11, "rbd", Message(&in_tree::RBD)),
        one(12, "flexVolume", Message(&in_tree::FLEX)),
        one(13, "cinder", Message(&in_tree::CINDER)),
        one(14, "cephfs", Message(&in_tree::CEPH_FS)),
        one(15, "flocker", Message(&in_tree::FLOCKER)),
        one(16, "downwardAPI", Message(&DOWNWARD_API_VOLUME_SOURCE)),
        one(17, "fc", Message(&in_tree::FC)),
        one(18, "azureFile", Message(&in_tree::AZURE_FILE)),
        one(19, "configMap", Message(&CONFIG_MAP_VOLUME_SOURCE)),
        one(20, "vsphereVolume", Message(&in_tree::VSPHERE_VIRTUAL_DISK)),
        one(21, "quobyte", Message(&in_tree::QUOBYTE)),
        one(22, "azureDisk", Message(&in_tree::AZURE_DISK)),
        one(
            23,
            "photonPersistentDisk",
            Message(&in_tree::PHOTON_PERSISTENT_DISK),
        ),
        one(24, "portworxVolume", Message(&in_tree::PORTWORX)),
        one(25, "scaleIO", Message(&in_tree::SCALE_IO)),
        one(26, "projected", Message(&PROJECTED_VOLUME_SOURCE)),
        one(27, "storageos", Message(&in_tree::STORAGE_OS)),
        one(28, "csi", Message(&CSI_VOLUME_SOURCE)),
        one(29, "ephemeral", Message(&EPHEMERAL_VOLUME_SOURCE)),
        one(30, "image", Message(&IMAGE_VOLUME_SOURCE)),
    ],
};

pub static VOLUME: MessageSchema = MessageSchema {
    name: "Volume",
    fields: &[
        one(1, "name", String),
        one(2, "volumeSource", Inline(&VOLUME_SOURCE)),
    ],
};
