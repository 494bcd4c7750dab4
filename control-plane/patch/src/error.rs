//! The errors a patch can fail with.
//!
//! The messages are the ones the Kubernetes API server returns for the same
//! mistakes (they come from Go's encoding/json, evanphx/json-patch v4 and
//! apimachinery's strategicpatch/mergepatch packages), so clients that match
//! on them keep working.

use thiserror::Error;

/// Why a patch could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PatchError {
    /// The patch document has the wrong JSON type for its patch format, e.g. an
    /// array sent as a strategic merge patch.
    #[error("json: cannot unmarshal {found_json_type} into Go value of type {expected_go_type}")]
    CannotUnmarshal {
        /// The JSON type that was found: "array", "object", "string", "number" or "bool".
        found_json_type: &'static str,
        /// The Go type Kubernetes decodes the document into.
        expected_go_type: &'static str,
    },

    /// A JSON merge patch that is not an object (null, a string, a number or a boolean).
    #[error("Invalid JSON Patch")]
    InvalidMergePatch,

    /// One operation of an RFC 6902 JSON patch failed; the message names the
    /// operation and the path, as evanphx/json-patch does.
    #[error("{0}")]
    JsonPatchOperationFailed(String),

    /// A strategic merge patch whose top level could not be read as a document.
    #[error("invalid JSON document")]
    BadJsonDocument,

    /// A strategic merge patch touched a list whose elements are lists.
    #[error("lists of lists are not supported")]
    NoListOfLists,

    /// A `$deleteFromPrimitiveList` directive with a malformed key or value.
    #[error("invalid patch format of primitive list")]
    BadPatchFormatForPrimitiveList,

    /// A `$retainKeys` directive that is not a list, or a patch that sets a key
    /// the directive does not retain.
    #[error("invalid patch format of retainKeys")]
    BadPatchFormatForRetainKeys,

    /// A `$setElementOrder` directive with a malformed key.
    #[error("invalid patch format of setElementOrder list")]
    BadPatchFormatForSetElementOrderList,

    /// An element of a merge list lacks the list's merge key.
    #[error("map: {element} does not contain declared merge key: {merge_key}")]
    NoMergeKey {
        /// The element, printed the way Go prints a map (`map[image:nginx]`).
        element: String,
        /// The merge key the list is merged by.
        merge_key: String,
    },

    /// A value had a different JSON type than the patch algorithm needed.
    #[error("expected a {expected_go_type}, but received a {received_go_type}")]
    BadArgumentType {
        /// The Go type that was needed, e.g. `map[string]interface {}`.
        expected_go_type: &'static str,
        /// The Go type that was found, e.g. `string`.
        received_go_type: &'static str,
    },

    /// A `$patch` directive with a value other than the ones allowed where it appears.
    #[error("unknown patch type: {directive} in map: {map}")]
    UnknownPatchType {
        /// The directive's value, as Go prints it.
        directive: String,
        /// The map that held the directive, as Go prints it.
        map: String,
    },

    /// `$patch: merge` inside a list element, which Kubernetes does not support.
    #[error("merging lists cannot yet be specified in the patch")]
    MergingListsNotSupported,

    /// A list declared as a list of primitives that holds objects.
    #[error("cannot merge lists without merge key for type {element_kind}")]
    CannotMergeWithoutMergeKey {
        /// The declared element kind, e.g. `string`.
        element_kind: &'static str,
    },

    /// A merge list whose elements do not all have the same JSON type.
    #[error("list element types are not identical: {lists}")]
    ListElementTypesNotIdentical {
        /// The lists involved, as Go prints them.
        lists: String,
    },

    /// A `$setElementOrder` directive for a list that is empty everywhere.
    #[error("no elements in any of the given slices")]
    NoElementsInSlices,

    /// A merge list (in the stored object) with an element that is not an object.
    #[error("value for key {index} is not a map.")]
    ListElementIsNotAMap {
        /// The position of the offending element.
        index: usize,
    },

    /// The patch list's elements appear in a different order than in its
    /// `$setElementOrder` list.
    #[error(
        "The order in patch list:\n{patch_list}\n doesn't match $setElementOrder list:\n{order_list}\n"
    )]
    ElementOrderMismatch {
        /// The patch list, as Go prints it.
        patch_list: String,
        /// The `$setElementOrder` list, as Go prints it.
        order_list: String,
    },
}

impl PatchError {
    /// The HTTP status the Kubernetes API server answers this error with:
    /// 400 for malformed patch documents, 422 for patches that are well formed
    /// but cannot apply, and 500 for the strategic merge errors the API server
    /// passes through without classifying them.
    pub fn http_status_code(&self) -> u16 {
        match self {
            PatchError::CannotUnmarshal { .. }
            | PatchError::InvalidMergePatch
            | PatchError::BadJsonDocument
            | PatchError::BadPatchFormatForPrimitiveList
            | PatchError::BadPatchFormatForRetainKeys
            | PatchError::BadPatchFormatForSetElementOrderList => 400,
            PatchError::JsonPatchOperationFailed(_) | PatchError::NoListOfLists => 422,
            PatchError::NoMergeKey { .. }
            | PatchError::BadArgumentType { .. }
            | PatchError::UnknownPatchType { .. }
            | PatchError::MergingListsNotSupported
            | PatchError::CannotMergeWithoutMergeKey { .. }
            | PatchError::ListElementTypesNotIdentical { .. }
            | PatchError::NoElementsInSlices
            | PatchError::ListElementIsNotAMap { .. }
            | PatchError::ElementOrderMismatch { .. } => 500,
        }
    }
}
