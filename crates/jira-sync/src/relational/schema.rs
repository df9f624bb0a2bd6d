//! The tables and views of the relational schema, written once and rendered for each
//! database: SQLite (types it stores: `INTEGER`, `REAL`, `TEXT`) and PostgreSQL
//! (`bigint`, `double precision`, `text`, `timestamptz`, `date`, `boolean`, `json`).
//! docs/sync.md shows the same tables; a test checks each documented column exists with
//! its documented type in both databases.

/// What a column holds, rendered per database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A 64-bit integer (Jira's numeric ids, counts, seconds).
    Int,
    /// A floating-point number.
    Real,
    /// Text.
    Text,
    /// An instant: UTC ISO 8601 text in SQLite (`2025-03-19T07:52:08.734Z`, which its
    /// date functions read), `timestamptz` in PostgreSQL.
    Time,
    /// A calendar day (`2025-03-19`): text in SQLite, `date` in PostgreSQL.
    Date,
    /// True or false: 1 or 0 in SQLite, `boolean` in PostgreSQL.
    Bool,
    /// JSON as Jira sent it: text in SQLite, `json` (kept as written) in PostgreSQL.
    Json,
}

/// The databases the schema is rendered for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.
    Sqlite,
    /// PostgreSQL 12 or later.
    Postgres,
}

impl Kind {
    /// The column type in `dialect`.
    pub fn sql(self, dialect: Dialect) -> &'static str {
        match (dialect, self) {
            (Dialect::Sqlite, Kind::Int | Kind::Bool) => "INTEGER",
            (Dialect::Sqlite, Kind::Real) => "REAL",
            (Dialect::Sqlite, _) => "TEXT",
            (Dialect::Postgres, Kind::Int) => "bigint",
            (Dialect::Postgres, Kind::Real) => "double precision",
            (Dialect::Postgres, Kind::Text) => "text",
            (Dialect::Postgres, Kind::Time) => "timestamptz",
            (Dialect::Postgres, Kind::Date) => "date",
            (Dialect::Postgres, Kind::Bool) => "boolean",
            (Dialect::Postgres, Kind::Json) => "json",
        }
    }
}

/// One column.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// Its name.
    pub name: &'static str,
    /// What it holds.
    pub kind: Kind,
    /// Whether every row has a value.
    pub required: bool,
}

const fn col(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        required: false,
    }
}

const fn req(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        required: true,
    }
}

/// One table: its columns in the order rows give their values, its key and indexes.
#[derive(Debug)]
pub struct Table {
    /// Its name.
    pub name: &'static str,
    /// Its columns.
    pub columns: &'static [Column],
    /// The primary key's columns.
    pub key: &'static [&'static str],
    /// Further indexes, each a list of columns.
    pub indexes: &'static [&'static [&'static str]],
}

impl Table {
    /// The column names, comma-separated, in row order.
    pub fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

use Kind::{Bool, Date, Int, Json, Real, Text, Time};

/// The schema's version, kept in the `schema_version` table. Version 1 (jira-ops before
/// this schema) held each entity as JSON only; a sink of version 1 is migrated in place
/// when a sync opens it.
pub const SCHEMA_VERSION: i64 = 2;

/// `issues`: one row per issue ever synced; a deleted one keeps its row with `deleted_at`.
pub const ISSUES: Table = Table {
    name: "issues",
    columns: &[
        req("id", Int),
        req("key", Text),
        col("project_key", Text),
        col("issue_type", Text),
        col("status", Text),
        col("status_category", Text),
        col("priority", Text),
        col("assignee_account_id", Text),
        col("reporter_account_id", Text),
        col("creator_account_id", Text),
        col("created", Time),
        req("updated", Time),
        col("resolution", Text),
        col("resolved", Time),
        col("due_date", Date),
        col("parent_key", Text),
        col("labels", Text),
        col("summary", Text),
        col("description_text", Text),
        col("deleted_at", Time),
        req("json", Json),
    ],
    key: &["id"],
    indexes: &[&["key"], &["updated"], &["project_key", "status"]],
};

/// `issue_field_values`: one row per non-empty custom field value of a live issue (an
/// array one row per element, `position` its place).
pub const FIELD_VALUES: Table = Table {
    name: "issue_field_values",
    columns: &[
        req("issue_id", Int),
        req("issue_key", Text),
        req("field_id", Text),
        req("field_name", Text),
        req("position", Int),
        col("value_text", Text),
        col("value_number", Real),
        req("value_json", Json),
    ],
    key: &["issue_id", "field_id", "position"],
    indexes: &[&["field_name"]],
};

/// `changelog`: one row per history entry (a change of one or more fields by one person
/// at one time), as Jira sent it.
pub const CHANGELOG: Table = Table {
    name: "changelog",
    columns: &[
        req("id", Int),
        req("issue_id", Int),
        req("issue_key", Text),
        col("author_account_id", Text),
        req("created", Time),
        req("json", Json),
    ],
    key: &["issue_id", "id"],
    indexes: &[],
};

/// `changelog_items`: one row per changed field of a history entry.
pub const CHANGELOG_ITEMS: Table = Table {
    name: "changelog_items",
    columns: &[
        req("history_id", Int),
        req("position", Int),
        req("issue_id", Int),
        req("issue_key", Text),
        col("author_account_id", Text),
        req("created", Time),
        req("field", Text),
        col("field_id", Text),
        col("from_value", Text),
        col("from_string", Text),
        col("to_value", Text),
        col("to_string", Text),
    ],
    key: &["issue_id", "history_id", "position"],
    indexes: &[&["field", "created"]],
};

/// `comments`: one row per comment; one deleted on the site (or with its issue) keeps
/// its row with `deleted_at`.
pub const COMMENTS: Table = Table {
    name: "comments",
    columns: &[
        req("id", Int),
        req("issue_id", Int),
        req("issue_key", Text),
        col("author_account_id", Text),
        col("created", Time),
        col("updated", Time),
        col("body_text", Text),
        col("deleted_at", Time),
        req("json", Json),
    ],
    key: &["id"],
    indexes: &[&["issue_id"]],
};

/// `worklogs`: one row per worklog; a deleted one keeps its row with `deleted_at`.
pub const WORKLOGS: Table = Table {
    name: "worklogs",
    columns: &[
        req("id", Int),
        req("issue_id", Int),
        req("issue_key", Text),
        col("author_account_id", Text),
        col("started", Time),
        col("created", Time),
        col("updated", Time),
        col("time_spent_seconds", Int),
        col("comment_text", Text),
        col("deleted_at", Time),
        req("json", Json),
    ],
    key: &["id"],
    indexes: &[&["issue_id"], &["author_account_id"]],
};

/// `users`: every person the synced entities name (assignees, reporters, authors, user
/// fields), as last seen.
pub const USERS: Table = Table {
    name: "users",
    columns: &[
        req("account_id", Text),
        col("display_name", Text),
        col("active", Bool),
        col("time_zone", Text),
    ],
    key: &["account_id"],
    indexes: &[],
};

/// `fields`: the site's field catalogue (`GET /field`), read each run.
pub const FIELDS: Table = Table {
    name: "fields",
    columns: &[
        req("id", Text),
        req("name", Text),
        req("custom", Bool),
        col("type", Text),
        req("json", Json),
    ],
    key: &["id"],
    indexes: &[],
};

/// `statuses`: every status the synced issues are in, with its category.
pub const STATUSES: Table = Table {
    name: "statuses",
    columns: &[
        req("id", Text),
        req("name", Text),
        col("category", Text),
        col("category_key", Text),
    ],
    key: &["id"],
    indexes: &[],
};

/// `sync_state`: each query's state (its mark, window, census and last runs) as JSON.
pub const SYNC_STATE: Table = Table {
    name: "sync_state",
    columns: &[req("jql", Text), req("json", Json)],
    key: &["jql"],
    indexes: &[],
};

/// `sync_members`: which query holds which issue, so a census judges only its own.
pub const SYNC_MEMBERS: Table = Table {
    name: "sync_members",
    columns: &[req("jql", Text), req("issue_id", Int)],
    key: &["jql", "issue_id"],
    indexes: &[&["issue_id"]],
};

/// The tables whose rows name their issue by key (`issue_key`): an issue that moves to
/// another project takes its new key into them.
pub const KEYED_CHILDREN: [&str; 5] = [
    "issue_field_values",
    "changelog",
    "changelog_items",
    "comments",
    "worklogs",
];

/// The tables of what a sync reads from the site (every table but the sync's own state),
/// in the order they are created: a JSON Lines sink writes a file of each.
pub const DATA_TABLES: [&Table; 9] = [
    &ISSUES,
    &FIELD_VALUES,
    &CHANGELOG,
    &CHANGELOG_ITEMS,
    &COMMENTS,
    &WORKLOGS,
    &USERS,
    &FIELDS,
    &STATUSES,
];

/// Every table, in the order they are created: [`DATA_TABLES`], then the sync's own
/// state and memberships.
pub const TABLES: [&Table; DATA_TABLES.len() + 2] = {
    let mut all = [&SYNC_STATE; DATA_TABLES.len() + 2];
    let mut n = 0;
    while n < DATA_TABLES.len() {
        all[n] = DATA_TABLES[n];
        n += 1;
    }
    all[n + 1] = &SYNC_MEMBERS;
    all
};

/// The `CREATE TABLE`/`INDEX`/`VIEW` statements of the whole schema in `dialect`, each
/// `IF NOT EXISTS`, with `schema_version`.
pub fn ddl(dialect: Dialect) -> String {
    let mut sql = String::new();
    sql.push_str(&format!(
        "CREATE TABLE IF NOT EXISTS schema_version (version {} NOT NULL, migrated_at {} NOT NULL);\n",
        Int.sql(dialect),
        Time.sql(dialect)
    ));
    for table in TABLES {
        let columns = table
            .columns
            .iter()
            .map(|c| {
                let null = if c.required { " NOT NULL" } else { "" };
                format!("{} {}{null}", c.name, c.kind.sql(dialect))
            })
            .collect::<Vec<_>>()
            .join(", ");
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {} ({columns}, PRIMARY KEY ({}));\n",
            table.name,
            table.key.join(", ")
        ));
        for index in table.indexes {
            sql.push_str(&format!(
                "CREATE INDEX IF NOT EXISTS {}_by_{} ON {} ({});\n",
                table.name,
                index.join("_"),
                table.name,
                index.join(", ")
            ));
        }
    }
    let seconds = match dialect {
        Dialect::Sqlite => {
            "CAST(ROUND((julianday(COALESCE(\"left\", 'now')) - julianday(entered)) * 86400) AS INTEGER)"
        }
        Dialect::Postgres => {
            "CAST(ROUND(EXTRACT(EPOCH FROM COALESCE(\"left\", now()) - entered)) AS bigint)"
        }
    };
    sql.push_str(&format!(
        "CREATE VIEW IF NOT EXISTS current_issues AS SELECT * FROM issues WHERE deleted_at IS NULL;\n{}",
        STATUS_PERIODS.replace("{seconds}", seconds)
    ));
    if dialect == Dialect::Postgres {
        sql = sql.replace("CREATE VIEW IF NOT EXISTS", "CREATE OR REPLACE VIEW");
    }
    sql
}

/// `status_periods`: for each live issue, the status it was in from its creation through
/// every status change to now (`left` is NULL for the status it is in, and `seconds`
/// counts to now). The status before the first change is that change's `from_string`;
/// an issue never moved has one period, in its status.
const STATUS_PERIODS: &str = "CREATE VIEW IF NOT EXISTS status_periods AS
WITH changes AS (
    SELECT issue_id, created, from_string, to_string,
        ROW_NUMBER() OVER (PARTITION BY issue_id ORDER BY created, history_id, position) AS n,
        LEAD(created) OVER (PARTITION BY issue_id ORDER BY created, history_id, position) AS next_at
    FROM changelog_items WHERE field = 'status'
), periods AS (
    SELECT i.id AS issue_id, i.key AS issue_key, COALESCE(c.from_string, i.status) AS status,
        i.created AS entered, c.created AS \"left\"
    FROM issues i LEFT JOIN changes c ON c.issue_id = i.id AND c.n = 1
    WHERE i.deleted_at IS NULL AND i.created IS NOT NULL
    UNION ALL
    SELECT c.issue_id, i.key, c.to_string, c.created, c.next_at
    FROM changes c JOIN issues i ON i.id = c.issue_id
    WHERE i.deleted_at IS NULL
)
SELECT issue_id, issue_key, status, entered, \"left\", {seconds} AS seconds FROM periods;
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_its_key_among_its_columns_and_one_name_per_column() {
        for table in TABLES {
            for key in table
                .key
                .iter()
                .chain(table.indexes.iter().copied().flatten())
            {
                assert!(
                    table.columns.iter().any(|c| c.name == *key),
                    "{}.{key}",
                    table.name
                );
            }
            let mut names: Vec<_> = table.columns.iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), table.columns.len(), "{}", table.name);
        }
        assert!(ddl(Dialect::Postgres).contains("timestamptz"));
        assert!(!ddl(Dialect::Sqlite).contains("timestamptz"));
    }
}
