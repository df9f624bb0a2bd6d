//! The statements a PostgreSQL sink runs: the schema (created once per database, under a
//! transaction-level advisory lock so two first syncs do not race), multi-row upserts
//! (`INSERT ... SELECT FROM unnest($1::bigint[], $2::text[], ...) ON CONFLICT DO UPDATE`:
//! one statement per table per commit, whatever the number of rows), and a commit's
//! whole transaction.

use std::borrow::Cow;
use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{GenericClient, Statement, Transaction};

use crate::relational::schema::{self, Dialect, Kind, Table};
use crate::relational::{Row, Rows, SqlValue};

/// The advisory lock key the schema's creation runs under (any constant; `jira`).
const SCHEMA_LOCK: i64 = 0x6a69_7261;

/// Creates the schema when the database has none; the version it holds otherwise.
pub(super) fn ensure_schema(client: &mut postgres::Client) -> Result<i64, postgres::Error> {
    let mut transaction = client.transaction()?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
    let exists: bool = transaction
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
        .get(0);
    let version: Option<i64> = if exists {
        transaction
            .query_one("SELECT MAX(version) FROM schema_version", &[])?
            .get(0)
    } else {
        None
    };
    let version = match version {
        Some(version) => version,
        None => {
            transaction.batch_execute(&schema::ddl(Dialect::Postgres))?;
            transaction.execute(
                "INSERT INTO schema_version (version, migrated_at) VALUES ($1, now())",
                &[&schema::SCHEMA_VERSION],
            )?;
            schema::SCHEMA_VERSION
        }
    };
    transaction.commit()?;
    Ok(version)
}

/// The array type and the cast back of a column of `kind`.
fn array_of(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Int => ("bigint[]", ""),
        Kind::Real => ("double precision[]", ""),
        Kind::Bool => ("boolean[]", ""),
        Kind::Text => ("text[]", ""),
        Kind::Time => ("text[]", "::timestamptz"),
        Kind::Date => ("text[]", "::date"),
        Kind::Json => ("text[]", "::json"),
    }
}

/// One column of rows as the array its parameter binds: text borrowed from the rows, not
/// copied (a commit's text is most of its bytes, and the driver encodes it once more).
fn column<'a>(rows: &[&'a Row], index: usize, kind: Kind) -> Box<dyn ToSql + Sync + 'a> {
    let values = rows
        .iter()
        .map(|row| row.get(index).unwrap_or(&SqlValue::Null));
    match kind {
        Kind::Int => Box::new(
            values
                .map(|v| match v {
                    SqlValue::Int(n) => Some(*n),
                    SqlValue::Bool(b) => Some(i64::from(*b)),
                    SqlValue::Text(t) => t.parse().ok(),
                    _ => None,
                })
                .collect::<Vec<Option<i64>>>(),
        ),
        Kind::Real => Box::new(
            values
                .map(|v| match v {
                    SqlValue::Real(x) => Some(*x),
                    SqlValue::Int(n) => Some(*n as f64),
                    _ => None,
                })
                .collect::<Vec<Option<f64>>>(),
        ),
        Kind::Bool => Box::new(
            values
                .map(|v| match v {
                    SqlValue::Bool(b) => Some(*b),
                    SqlValue::Int(n) => Some(*n != 0),
                    _ => None,
                })
                .collect::<Vec<Option<bool>>>(),
        ),
        _ => Box::new(
            values
                .map(|v| match v {
                    // PostgreSQL's text holds no NUL character.
                    SqlValue::Text(t) if t.contains('\0') => Some(Cow::Owned(t.replace('\0', ""))),
                    SqlValue::Text(t) => Some(Cow::Borrowed(t.as_str())),
                    SqlValue::Int(n) => Some(Cow::Owned(n.to_string())),
                    SqlValue::Real(x) => Some(Cow::Owned(x.to_string())),
                    SqlValue::Bool(b) => Some(Cow::Owned(b.to_string())),
                    SqlValue::Null => None,
                })
                .collect::<Vec<Option<Cow<'a, str>>>>(),
        ),
    }
}

/// A key column's value, borrowed and hashable.
#[derive(PartialEq, Eq, Hash)]
enum KeyPart<'a> {
    Null,
    Int(i64),
    /// A real number by its bits (keys are never real numbers in the schema).
    Real(u64),
    Text(&'a str),
    Bool(bool),
}

impl<'a> From<&'a SqlValue> for KeyPart<'a> {
    fn from(value: &'a SqlValue) -> Self {
        match value {
            SqlValue::Null => KeyPart::Null,
            SqlValue::Int(n) => KeyPart::Int(*n),
            SqlValue::Real(x) => KeyPart::Real(x.to_bits()),
            SqlValue::Text(t) => KeyPart::Text(t),
            SqlValue::Bool(b) => KeyPart::Bool(*b),
        }
    }
}

/// The rows of `rows` with one per key, the last of each (one statement cannot update a
/// row twice).
fn last_per_key<'a>(table: &Table, rows: &'a [Row]) -> Vec<&'a Row> {
    let key_columns: Vec<usize> = table
        .key
        .iter()
        .filter_map(|k| table.columns.iter().position(|c| c.name == *k))
        .collect();
    let mut seen: HashMap<Vec<KeyPart<'a>>, usize> = HashMap::with_capacity(rows.len());
    let mut kept: Vec<Option<&Row>> = Vec::with_capacity(rows.len());
    for row in rows {
        let key = key_columns
            .iter()
            .map(|i| KeyPart::from(row.get(*i).unwrap_or(&SqlValue::Null)))
            .collect();
        if let Some(earlier) = seen.insert(key, kept.len()) {
            kept[earlier] = None;
        }
        kept.push(Some(row));
    }
    kept.into_iter().flatten().collect()
}

/// Statements prepared on this connection, by their text: each is parsed and planned
/// once, then only bound and run (one round trip instead of two).
pub(super) type Statements = HashMap<String, Statement>;

/// `sql` prepared on `client`'s connection, once.
pub(super) fn prepared(
    client: &mut impl GenericClient,
    statements: &mut Statements,
    sql: &str,
) -> Result<Statement, postgres::Error> {
    if let Some(statement) = statements.get(sql) {
        return Ok(statement.clone());
    }
    let statement = client.prepare(sql)?;
    statements.insert(sql.to_owned(), statement.clone());
    Ok(statement)
}

/// Runs `sql` with `params` as a statement prepared once.
fn run(
    client: &mut impl GenericClient,
    statements: &mut Statements,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, postgres::Error> {
    let statement = prepared(client, statements, sql)?;
    client.execute(&statement, params)
}

/// Upserts `rows` into `table` by its key, in one statement.
pub(super) fn upsert(
    client: &mut impl GenericClient,
    statements: &mut Statements,
    table: &Table,
    rows: &[Row],
) -> Result<(), postgres::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let rows = last_per_key(table, rows);
    let mut arrays = Vec::new();
    let mut selects = Vec::new();
    let mut params: Vec<Box<dyn ToSql + Sync + '_>> = Vec::new();
    for (index, column_def) in table.columns.iter().enumerate() {
        let (array, cast) = array_of(column_def.kind);
        arrays.push(format!("${}::{array}", index + 1));
        selects.push(format!("u.{}{cast}", column_def.name));
        params.push(column(&rows, index, column_def.kind));
    }
    let updates = table
        .columns
        .iter()
        .filter(|c| !table.key.contains(&c.name))
        .map(|c| format!("{0} = EXCLUDED.{0}", c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO {name} ({columns}) SELECT {selects} FROM unnest({arrays}) AS u({columns})
         ON CONFLICT ({key}) DO UPDATE SET {updates}",
        name = table.name,
        columns = table.column_list(),
        selects = selects.join(", "),
        arrays = arrays.join(", "),
        key = table.key.join(", "),
    );
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(AsRef::as_ref).collect();
    run(client, statements, &sql, &refs)?;
    Ok(())
}

/// What a commit writes, owned (it crosses to the connection's thread).
pub(super) struct Commit {
    pub(super) rows: Rows,
    /// The issues written.
    pub(super) issues: Vec<i64>,
    /// Those whose key changed since the sink wrote them, with the new key.
    pub(super) renamed: Vec<(i64, String)>,
    pub(super) jql: String,
    pub(super) state_json: String,
    /// Now, UTC ISO: when comments no longer on their issue were found gone.
    pub(super) now: String,
}

/// Writes `commit` into the open transaction.
pub(super) fn write(
    tx: &mut Transaction<'_>,
    statements: &mut Statements,
    commit: &Commit,
) -> Result<(), postgres::Error> {
    let rows = &commit.rows;
    let ids = &commit.issues;
    if !commit.renamed.is_empty() {
        let (moved, keys): (Vec<i64>, Vec<String>) = commit.renamed.iter().cloned().unzip();
        for table in schema::KEYED_CHILDREN {
            run(
                tx,
                statements,
                &format!(
                    "UPDATE {table} t SET issue_key = u.key FROM unnest($1::bigint[], $2::text[]) AS u(id, key)
                     WHERE t.issue_id = u.id AND t.issue_key <> u.key"
                ),
                &[&moved, &keys],
            )?;
        }
    }
    if !ids.is_empty() {
        run(
            tx,
            statements,
            "DELETE FROM issue_field_values WHERE issue_id = ANY($1)",
            &[&ids],
        )?;
        run(
            tx,
            statements,
            "INSERT INTO sync_members (jql, issue_id) SELECT $1, unnest($2::bigint[])
             ON CONFLICT DO NOTHING",
            &[&commit.jql, &ids],
        )?;
    }
    upsert(tx, statements, &schema::ISSUES, &rows.issues)?;
    upsert(tx, statements, &schema::FIELD_VALUES, &rows.field_values)?;
    if !rows.history_issue_ids.is_empty() {
        for table in ["changelog", "changelog_items"] {
            run(
                tx,
                statements,
                &format!("DELETE FROM {table} WHERE issue_id = ANY($1)"),
                &[&rows.history_issue_ids],
            )?;
        }
    }
    upsert(tx, statements, &schema::CHANGELOG, &rows.changelog)?;
    upsert(
        tx,
        statements,
        &schema::CHANGELOG_ITEMS,
        &rows.changelog_items,
    )?;
    if !rows.comment_issue_ids.is_empty() {
        run(
            tx,
            statements,
            "UPDATE comments SET deleted_at = $2::text::timestamptz
             WHERE issue_id = ANY($1) AND deleted_at IS NULL",
            &[&rows.comment_issue_ids, &commit.now],
        )?;
    }
    upsert(tx, statements, &schema::COMMENTS, &rows.comments)?;
    upsert(tx, statements, &schema::WORKLOGS, &rows.worklogs)?;
    if !rows.deleted_worklogs.is_empty() {
        let (ids, at): (Vec<i64>, Vec<Option<String>>) = rows
            .deleted_worklogs
            .iter()
            .map(|(id, at)| {
                let at = match at {
                    SqlValue::Text(t) => Some(t.clone()),
                    _ => None,
                };
                (*id, at)
            })
            .unzip();
        run(
            tx,
            statements,
            "UPDATE worklogs w SET deleted_at = u.at::timestamptz
             FROM unnest($1::bigint[], $2::text[]) AS u(id, at) WHERE w.id = u.id",
            &[&ids, &at],
        )?;
    }
    upsert(tx, statements, &schema::USERS, &rows.users)?;
    upsert(tx, statements, &schema::STATUSES, &rows.statuses)?;
    upsert(
        tx,
        statements,
        &schema::SYNC_STATE,
        &[vec![
            SqlValue::Text(commit.jql.clone()),
            SqlValue::Text(commit.state_json.clone()),
        ]],
    )
}
