//! Builders for the column definitions that many kinds share.

use crate::ColumnDefinition;
use crate::descriptions::{OBJECT_META_CREATION_TIMESTAMP, OBJECT_META_NAME};

/// A column shown by default.
pub(crate) const fn column(
    name: &'static str,
    column_type: &'static str,
    description: &'static str,
) -> ColumnDefinition {
    ColumnDefinition {
        name,
        column_type,
        format: "",
        description,
        priority: 0,
    }
}

/// A column only shown with `-o wide` (priority 1).
pub(crate) const fn wide_column(
    name: &'static str,
    column_type: &'static str,
    description: &'static str,
) -> ColumnDefinition {
    ColumnDefinition {
        priority: 1,
        ..column(name, column_type, description)
    }
}

/// The "Name" column that leads nearly every table.
pub(crate) const fn name_column() -> ColumnDefinition {
    ColumnDefinition {
        format: "name",
        ..column("Name", "string", OBJECT_META_NAME)
    }
}

/// The "Age" column, the time since the object was created.
pub(crate) const fn age_column() -> ColumnDefinition {
    column("Age", "string", OBJECT_META_CREATION_TIMESTAMP)
}

/// The wide "Containers" column of the workload kinds.
pub(crate) const fn containers_column() -> ColumnDefinition {
    wide_column(
        "Containers",
        "string",
        "Names of each container in the template.",
    )
}

/// The wide "Images" column of the workload kinds.
pub(crate) const fn images_column() -> ColumnDefinition {
    wide_column(
        "Images",
        "string",
        "Images referenced by each container in the template.",
    )
}
