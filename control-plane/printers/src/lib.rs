//! The columns kubectl shows for each built-in kind, as server-side Table rows
