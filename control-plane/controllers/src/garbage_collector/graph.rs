//! The dependency graph (the garbage collector's `uidToNode`): every object of every
//! watched type, keyed by uid, with its owner references, and the reverse index from an
//! owner's uid to the uids of the objects that name it. An owner that was never seen (or
//! is gone) has dependents in the index but no node, which is how a dangling reference
//! looks from here.
//!
//! The graph is only a cache: it decides which objects to look at, and lets a dependent
//! whose owners are all present skip the API server. Every decision to delete or change
//! an object is checked against the live object first.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use kube::runtime::watcher;

use super::{FOREGROUND_DELETION_FINALIZER, NodeIdentity, ObjectMetadata, TypeKey, WatchedType};

/// What the graph knows of one object.
#[derive(Clone, Debug)]
struct Node {
    identity: NodeIdentity,
    owners: Vec<OwnerReference>,
    being_deleted: bool,
    /// Marked for deletion with the `foregroundDeletion` finalizer: it waits for its
    /// blocking dependents to go.
    deleting_dependents: bool,
}

/// A dependent of an owner, as the graph knows it.
#[derive(Clone, Debug)]
pub(crate) struct Dependent {
    pub(crate) identity: NodeIdentity,
    /// Its reference to the owner has `blockOwnerDeletion: true`, so a foreground
    /// deletion of the owner waits for it.
    pub(crate) blocks_owner: bool,
    pub(crate) being_deleted: bool,
    pub(crate) deleting_dependents: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Graph {
    nodes: HashMap<String, Node>,
    dependents: HashMap<String, HashSet<String>>,
    /// Types whose first list has not completed: until it has, the graph may lack an
    /// owner's dependents, so nothing that needs all of them (removing a foreground or
    /// orphan finalizer) may act.
    unsynced: HashSet<TypeKey>,
    /// The uids seen so far in a type's current (re-)list, to find what vanished while
    /// the watch was down.
    relisting: HashMap<TypeKey, HashSet<String>>,
}

fn node_of(watched: &Arc<WatchedType>, object: &ObjectMetadata) -> Option<Node> {
    let metadata = &object.metadata;
    let uid = metadata.uid.clone()?;
    let being_deleted = metadata.deletion_timestamp.is_some();
    let foreground = metadata
        .finalizers
        .iter()
        .flatten()
        .any(|finalizer| finalizer == FOREGROUND_DELETION_FINALIZER);
    Some(Node {
        identity: NodeIdentity {
            watched: Arc::clone(watched),
            namespace: metadata.namespace.clone(),
            name: object.name_any(),
            uid,
        },
        owners: metadata.owner_references.clone().unwrap_or_default(),
        being_deleted,
        deleting_dependents: being_deleted && foreground,
    })
}

impl Graph {
    /// A newly watched type, unsynced until its first list completes.
    pub(crate) fn watch_type(&mut self, key: TypeKey) {
        self.unsynced.insert(key);
    }

    /// Whether every watched type has been listed once.
    pub(crate) fn synced(&self) -> bool {
        self.unsynced.is_empty()
    }

    /// Takes in one watch event of `watched`'s type and answers which objects must be
    /// looked at again because of it (besides the object itself, which its own event
    /// brings to the collector).
    pub(crate) fn observe(
        &mut self,
        watched: &Arc<WatchedType>,
        event: &watcher::Event<ObjectMetadata>,
    ) -> Vec<NodeIdentity> {
        match event {
            watcher::Event::Init => {
                self.relisting.insert(watched.key(), HashSet::new());
                Vec::new()
            }
            watcher::Event::InitApply(object) => {
                if let (Some(seen), Some(uid)) = (
                    self.relisting.get_mut(&watched.key()),
                    object.metadata.uid.as_ref(),
                ) {
                    seen.insert(uid.clone());
                }
                self.apply(watched, object)
            }
            watcher::Event::Apply(object) => self.apply(watched, object),
            watcher::Event::Delete(object) => object
                .metadata
                .uid
                .as_deref()
                .map(|uid| self.remove(uid))
                .unwrap_or_default(),
            watcher::Event::InitDone => {
                let key = watched.key();
                let seen = self.relisting.remove(&key).unwrap_or_default();
                let vanished: Vec<String> = self
                    .nodes
                    .values()
                    .filter(|node| node.identity.watched.key() == key)
                    .filter(|node| !seen.contains(&node.identity.uid))
                    .map(|node| node.identity.uid.clone())
                    .collect();
                self.unsynced.remove(&key);
                vanished.iter().flat_map(|uid| self.remove(uid)).collect()
            }
        }
    }

    fn apply(&mut self, watched: &Arc<WatchedType>, object: &ObjectMetadata) -> Vec<NodeIdentity> {
        let Some(node) = node_of(watched, object) else {
            return Vec::new();
        };
        let uid = node.identity.uid.clone();
        for owner in &node.owners {
            self.dependents
                .entry(owner.uid.clone())
                .or_default()
                .insert(uid.clone());
        }
        let Some(previous) = self.nodes.insert(uid.clone(), node.clone()) else {
            return Vec::new();
        };
        if previous.owners == node.owners {
            return Vec::new();
        }
        for owner in &previous.owners {
            if !node.owners.iter().any(|kept| kept.uid == owner.uid) {
                self.forget_dependent(&owner.uid, &uid);
            }
        }
        // An owner waiting in foreground for this object may be free now that the
        // reference is gone or no longer blocks.
        previous
            .owners
            .iter()
            .chain(&node.owners)
            .filter_map(|owner| self.nodes.get(&owner.uid))
            .filter(|owner| owner.deleting_dependents)
            .map(|owner| owner.identity.clone())
            .collect()
    }

    fn forget_dependent(&mut self, owner_uid: &str, dependent_uid: &str) {
        if let Some(dependents) = self.dependents.get_mut(owner_uid) {
            dependents.remove(dependent_uid);
            if dependents.is_empty() {
                self.dependents.remove(owner_uid);
            }
        }
    }

    /// Removes a deleted object; its dependents may now be dangling, and its owners
    /// waiting in foreground may be free.
    fn remove(&mut self, uid: &str) -> Vec<NodeIdentity> {
        let Some(node) = self.nodes.remove(uid) else {
            return Vec::new();
        };
        for owner in &node.owners {
            self.forget_dependent(&owner.uid, uid);
        }
        let waiting_owners = node
            .owners
            .iter()
            .filter_map(|owner| self.nodes.get(&owner.uid))
            .filter(|owner| owner.deleting_dependents)
            .map(|owner| owner.identity.clone());
        let dependents = self
            .dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|dependent| self.nodes.get(dependent))
            .map(|dependent| dependent.identity.clone());
        waiting_owners.chain(dependents).collect()
    }

    /// Whether the graph shows every reference's owner present (same uid, name and kind)
    /// and not waiting for its dependents to be deleted, so that the dependent needs no
    /// look at the API server.
    pub(crate) fn all_owners_solid(&self, references: &[OwnerReference]) -> bool {
        references.iter().all(|reference| {
            self.nodes.get(&reference.uid).is_some_and(|owner| {
                owner.identity.name == reference.name
                    && owner.identity.watched.resource.kind == reference.kind
                    && !owner.deleting_dependents
            })
        })
    }

    /// The objects whose owner references name `owner_uid`.
    pub(crate) fn dependents_of(&self, owner_uid: &str) -> Vec<Dependent> {
        self.dependents
            .get(owner_uid)
            .into_iter()
            .flatten()
            .filter_map(|uid| self.nodes.get(uid))
            .map(|node| Dependent {
                identity: node.identity.clone(),
                blocks_owner: node.owners.iter().any(|reference| {
                    reference.uid == owner_uid && reference.block_owner_deletion == Some(true)
                }),
                being_deleted: node.being_deleted,
                deleting_dependents: node.deleting_dependents,
            })
            .collect()
    }
}
