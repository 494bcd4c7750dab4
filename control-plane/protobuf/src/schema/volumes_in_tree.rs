//! Layouts of the volume sources that attach a storage system directly: network file
//! systems, block devices, and the cloud disks whose drivers Kubernetes once built in
//! and has since deprecated in favour of CSI. Pods still may name them, so a PodSpec
//! that does must decode.

use super::FieldKind::{Bool, Integer, Message, String};
use super::core::LOCAL_OBJECT_REFERENCE;
use super::{MessageSchema, STRING_MAP, many, one};

pub static GCE_PERSISTENT_DISK: MessageSchema = MessageSchema {
    name: "GCEPersistentDiskVolumeSource",
    fields: &[
        one(1, "pdName", String),
        one(2, "fsType", String),
        one(3, "partition", Integer),
        one(4, "readOnly", Bool),
    ],
};

pub static AWS_ELASTIC_BLOCK_STORE: MessageSchema = MessageSchema {
    name: "AWSElasticBlockStoreVolumeSource",
    fields: &[
        one(1, "volumeID", String),
        one(2, "fsType", String),
        one(3, "partition", Integer),
        one(4, "readOnly", Bool),
    ],
};

pub static GIT_REPO: MessageSchema = MessageSchema {
    name: "GitRepoVolumeSource",
    fields: &[
        one(1, "repository", String),
        one(2, "revision", String),
        one(3, "directory", String),
    ],
};

pub static NFS: MessageSchema = MessageSchema {
    name: "NFSVolumeSource",
    fields: &[
        one(1, "server", String),
        one(2, "path", String),
        one(3, "readOnly", Bool),
    ],
};

/// Field 9 is missing on purpose: Kubernetes' `generated.proto` skips it.
pub static ISCSI: MessageSchema = MessageSchema {
    name: "ISCSIVolumeSource",
    fields: &[
        one(1, "targetPortal", String),
        one(2, "iqn", String),
        one(3, "lun", Integer),
        one(4, "iscsiInterface", String),
        one(5, "fsType", String),
        one(6, "readOnly", Bool),
        many(7, "portals", String),
        one(8, "chapAuthDiscovery", Bool),
        one(10, "secretRef", Message(&LOCAL_OBJECT_REFERENCE)),
        one(11, "chapAuthSession", Bool),
        one(12, "initiatorName", String),
    ],
};

pub static GLUSTERFS: MessageSchema = MessageSchema {
    name: "GlusterfsVolumeSource",
    fields: &[
        one(1, "endpoints", String),
        one(2, "path", String),
        one(3, "readOnly", Bool),
    ],
};

pub static RBD: MessageSchema = MessageSchema {
    name: "RBDVolumeSource",
    fields: &[
        many(1, "monitors", String),
        one(2, "image", String),
        one(3, "fsType", String),
        one(4, "pool", String),
        one(5, "user", String),
        one(6, "keyring", String),
        one(7, "secretRef", Message(&LOCAL_OBJECT_REFERENCE)),
        one(8, "readOnly", Bool),
    ],
};

pub static FLEX: MessageSchema = MessageSchema {
    name: "FlexVolumeSource",
    fields: &[
        one(1, "driver", String),
        one(2, "fsType", String),
        one(3, "secretRef", Message(&LOCAL_OBJECT_REFERENCE)),
        one(4, "readOnly", Bool),
        one(5, "options", STRING_MAP),
    ],
};

pub static CINDER: MessageSchema = MessageSchema {
    name: "CinderVolumeSource",
    fields: &[
        one(1, "volumeID", String),
        one(2, "fsType", String),
        one(3, "readOnly", Bool),
        one(4, "secretRef", Message(&LOCAL_OBJECT_REFERENCE)),
    ],
};

pub static CEPH_FS: MessageSchema = MessageSchema {
    name: "CephFSVolumeSource",
    fields: &[
        many(1, "monitors", String),
        one(2, "path", String),
        one(3, "user", String),
        one(4, "secretFile", String),
        one(5, "secretRef", Message(&LOCAL_OBJECT_REFERENCE)),
        one(6, "readOnly", Bool),
    ],
};

pub static FLOCKER: MessageSchema = MessageSchema {
    name: "FlockerVolumeSource",
    fields: &[one(1, "datasetName", String), one(2, "datasetUUID", String)],
};

pub static FC: MessageSchema = MessageSchema {
    name: "FCVolumeSource",
    fields: &[
        many(1, "targetWWNs", String),
        one(2, "lun", Integer),
        one(3, "fsType", String),
        one(4, "readOnly", Bool),
        many(5, "wwids", String),
    ],
};

pub static AZURE_FILE: MessageSchema = MessageSchema {
    name: "AzureFileVolumeSource",
    fields: &[
        one(1, "secretName", String),
        one(2, "shareName", String),
        one(3, "readOnly", Bool),
    ],
};

pub static VSPHERE_VIRTUAL_DISK: MessageSchema = MessageSchema {
    name: "VsphereVirtualDiskVolumeSource",
    fields: &[
        one(1, "volumePath", String),
        one(2, "fsType", String),
        one(3, "storagePolicyName", String),
        one(4, "storagePolicyID", String),
    ],
};

pub static QUOBYTE: MessageSchema = MessageSchema {
    name: "QuobyteVolumeSource",
    fields: &[
        one(1, "registry", String),
        one(2, "volume", String),
        one(3, "readOnly", Bool),
        one(4, "user", String),
        one(5, "group", String),
        one(6, "tenant", String),
    ],
};

pub static AZURE_DISK: MessageSchema = MessageSchema {
    name: "AzureDiskVolumeSource",
    fields: &[
        one(1, "diskName", String),
        one(2, "diskURI", String),
        one(3, "cachingMode", String),
        one(4, "fsType", String),
        one(5, "readOnly", Bool),
        one(6, "kind", String),
    ],
};

pub static PHOTON_PERSISTENT_DISK: MessageSchema = MessageSchema {
    name: "PhotonPersistentDiskVolumeSource",
    fields: &[one(1, "pdID", String), one(2, "fsType", String)],
};

pub static PORTWORX: MessageSchema = MessageSchema {
    name: "PortworxVolumeSource",
    fields: &[
        one(1, "volumeID", String),
        one(2, "fsType", String),
        one(3, "readOnly", Bool),
    ],
};

pub static SCALE_IO: MessageSchema = MessageSchema {
    name: "ScaleIOVolumeSource",
    fields: &[
        one(1, "gateway", String),
        one(2, "system", String),
        one(3, "secretRef", Message(&LOCAL_OBJECT_REFERENCE)),
        one(4, "sslEnabled", Bool),
        one(5, "protectionDomain", String),
        one(6, "storagePool", String),
        one(7, "storageMode", String),
        one(8, "volumeName", String),
        one(9, "fsType", String),
        one(10, "readOnly", Bool),
    ],
};

pub static STORAGE_OS: MessageSchema = MessageSchema {
    name: "StorageOSVolumeSource",
    fields: &[
        one(1, "volumeName", String),
        one(2, "volumeNamespace", String),
        one(3, "fsType", String),
        one(4, "readOnly", Bool),
        one(5, "secretRef", Message(&LOCAL_OBJECT_REFERENCE)),
    ],
};
