//! The JQL subset jira-sim understands, with Jira's error messages for the rest.
//!
//! Clauses: `project`, `key`/`issuekey`, `id`, `status`, `statusCategory`,
//! `issuetype`/`type`, `priority`, `resolution` (`Unresolved` is empty), `assignee`,
//! `reporter` (both with `currentUser()`), `labels` with `=`, `!=`, `in`, `not in`,
//! `is EMPTY`, `is not EMPTY`; `id` and `key` also with `>`, `>=`, `<`, `<=`, as Jira
//! reads them: `id` is an alias of the issue key field, so `id > 10050` is `key > X-7`
//! for the issue X-7 whose id is 10050 (its project's issues with a higher key number;
//! nothing when no issue has that id), how exports slice a project; `text`, `summary`,
//! `description` with `~` and `!~` (every word must occur); `created` and `updated` with
//! `=`, `!=`, `>`, `>=`, `<`, `<=` against relative (`-7d`, `-2w`, `-12h`, `-30m`),
//! absolute (`2024-01-18`, `"2024/01/18 10:00"`, wall-clock times in the searching user's
//! zone, as Jira reads them) or epoch-millisecond dates; `AND`, `OR`,
//! `NOT` and parentheses; `ORDER BY` `updated`, `created`, `key`, `id` (the key's order:
//! by project, then key number), `priority` with `ASC`/`DESC`. A query with no clause is unbounded and refused, as the enhanced search
//! does; a value a field cannot have (`status = Donee`, an unknown user) is refused with
//! Jira's "The value ... does not exist for the field ..." rather than matching nothing.

mod eval;
mod lex;

use std::cmp::Ordering;

use jiff::tz::TimeZone;

use crate::data::{IssueData, Tenant};
use eval::{eval, known_values};
use lex::{parse_date, tokenize};

/// What `currentUser()` reads as until the clause resolves it to the caller.
const CURRENT_USER: &str = "\u{0}currentUser()";

/// Jira's message for a query without a restriction.
pub(crate) const UNBOUNDED: &str =
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.";

/// A parsed query.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Query {
    filter: Option<Expr>,
    order: Vec<(SortField, bool)>,
}

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Clause(Clause),
}

#[derive(Clone, Debug, PartialEq)]
enum Clause {
    /// A text field compared with a set of values; `negated` for `!=` / `not in`.
    Text {
        field: TextField,
        values: Vec<String>,
        negated: bool,
    },
    /// `is EMPTY` / `is not EMPTY`.
    Empty { field: TextField, negated: bool },
    /// A date compared with an instant in epoch milliseconds.
    Date {
        field: DateField,
        op: Op,
        epoch_ms: i64,
    },
    /// `key <= APO-100`, and `id > 10050` once [`Query::resolve_ids`] made it the key of
    /// issue 10050: an ordered comparison of key numbers within the key's project
    /// (`project` is `None` until then, and matches nothing).
    Range {
        project: Option<usize>,
        op: Op,
        bound: u64,
    },
    /// `summary ~ "words"`: every word occurs in the field's text; `negated` for `!~`.
    Contains {
        field: ContainsField,
        words: Vec<String>,
        negated: bool,
    },
    /// `issue.property[NAME].PATH = value` (or `in`, `!=`, `not in`): an entity property,
    /// the value at PATH (dot separated; the whole value when empty) compared as text.
    Property {
        name: String,
        path: String,
        values: Vec<String>,
        negated: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TextField {
    Project,
    Key,
    Id,
    Status,
    IssueType,
    Priority,
    Assignee,
    Reporter,
    Labels,
    Resolution,
    StatusCategory,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ContainsField {
    Text,
    Summary,
    Description,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DateField {
    Created,
    Updated,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SortField {
    Updated,
    Created,
    Key,
    Id,
    Priority,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Op(&'static str),
    Open,
    Close,
    Comma,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Word(word) => word.clone(),
            Token::Quoted(text) => format!("\"{text}\""),
            Token::Op(op) => (*op).to_owned(),
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::Comma => ",".into(),
        }
    }
}

/// Parses `jql`; `now_ms` anchors relative dates, and date literals are read in `zone`
/// (the searching user's, as Jira reads them); `indexed` names the entity properties an
/// app declared searchable (any other `issue.property[...]` is an unknown field). Errors
/// are Jira's messages.
pub(crate) fn parse(
    jql: &str,
    tenant: &Tenant,
    now_ms: i64,
    zone: &TimeZone,
    indexed: &[String],
) -> Result<Query, String> {
    let tokens = tokenize(jql)?;
    let mut parser = Parser {
        tokens,
        position: 0,
        tenant,
        now_ms,
        zone,
        indexed,
        depth: 0,
        clauses: 0,
    };
    let filter = if parser.at_order_by() || parser.peek().is_none() {
        None
    } else {
        Some(parser.or_expr()?)
    };
    let order = if parser.at_order_by() {
        parser.position += 2;
        parser.order_items()?
    } else {
        Vec::new()
    };
    if let Some(token) = parser.peek() {
        return Err(format!(
            "Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{}'.",
            token.describe()
        ));
    }
    if filter.is_none() {
        return Err(UNBOUNDED.into());
    }
    Ok(Query { filter, order })
}

impl Query {
    /// Gives each `id OP n` Jira's meaning: `id` is an alias of the issue key field, so
    /// the issue with id `n` is looked up (`key_of`: its project and key number) and the
    /// clause compares key numbers within its project; an id no issue has matches
    /// nothing. This is what Jira's `IssueIdClauseQueryFactory` does, and what the JQL
    /// reference says of the issue key field (aliases `id`, `issue`, `key`; "the
    /// comparison operators use numeric order, ABC-1 < ABC-9 < ABC-10"):
    /// <https://support.atlassian.com/jira-software-cloud/docs/jql-fields/#Issue-key>.
    pub fn resolve_ids(&mut self, key_of: &dyn Fn(u64) -> Option<(usize, u64)>) {
        fn walk(expr: &mut Expr, key_of: &dyn Fn(u64) -> Option<(usize, u64)>) {
            match expr {
                Expr::And(a, b) | Expr::Or(a, b) => {
                    walk(a, key_of);
                    walk(b, key_of);
                }
                Expr::Not(inner) => walk(inner, key_of),
                Expr::Clause(Clause::Range {
                    project: project @ None,
                    bound,
                    ..
                }) => match key_of(*bound) {
                    Some((of, number)) => {
                        *project = Some(of);
                        *bound = number;
                    }
                    // No such issue: a project no issue is in.
                    None => *project = Some(usize::MAX),
                },
                Expr::Clause(_) => {}
            }
        }
        if let Some(filter) = &mut self.filter {
            walk(filter, key_of);
        }
    }

    /// The issue ids every match is among, when the filter names them at its top: an `id
    /// in (…)` or `id = n` of numeric ids, joined to the rest by AND (as `(JQL) AND id in
    /// (…)`, the query a client pages a list of ids with). A search then looks at those
    /// issues alone, as Jira's index does, instead of evaluating every issue of the
    /// tenant; the result is the same, since an issue outside them cannot match.
    pub fn candidate_ids(&self) -> Option<Vec<u64>> {
        fn walk(expr: &Expr) -> Option<Vec<u64>> {
            match expr {
                Expr::And(a, b) => match (walk(a), walk(b)) {
                    (Some(mut left), Some(mut right)) => {
                        right.sort_unstable();
                        left.retain(|id| right.binary_search(id).is_ok());
                        Some(left)
                    }
                    (Some(ids), None) | (None, Some(ids)) => Some(ids),
                    (None, None) => None,
                },
                Expr::Clause(Clause::Text {
                    field: TextField::Id,
                    values,
                    negated: false,
                }) => values.iter().map(|value| value.parse().ok()).collect(),
                _ => None,
            }
        }
        let mut ids = self.filter.as_ref().and_then(walk)?;
        ids.sort_unstable();
        ids.dedup();
        Some(ids)
    }

    /// Whether `issue` matches.
    pub fn matches(&self, issue: &IssueData, tenant: &Tenant) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|filter| eval(filter, issue, tenant))
    }

    /// Orders two issues by the `ORDER BY` items, then by id for a stable order.
    pub fn compare(&self, a: &IssueData, b: &IssueData) -> Ordering {
        for (field, ascending) in &self.order {
            let ordering = match field {
                SortField::Updated => a.updated_ms.cmp(&b.updated_ms),
                SortField::Created => a.created_ms.cmp(&b.created_ms),
                // `id` is the issue key field's alias: it sorts as the key does.
                SortField::Key | SortField::Id => (a.project, a.number).cmp(&(b.project, b.number)),
                SortField::Priority => a.priority.cmp(&b.priority),
            };
            let ordering = if *ascending {
                ordering
            } else {
                ordering.reverse()
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        a.id.cmp(&b.id)
    }
}

/// The deepest nesting of parentheses and `NOT` a query may have: past it the parser (and
/// the evaluation of the tree) would need an unbounded stack.
const MAX_DEPTH: usize = 100;
/// The most clauses a query may join with `AND` and `OR`.
const MAX_CLAUSES: usize = 1_000;

struct Parser<'a> {
    tokens: Vec<Token>,
    position: usize,
    tenant: &'a Tenant,
    now_ms: i64,
    zone: &'a TimeZone,
    indexed: &'a [String],
    depth: usize,
    clauses: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.position).cloned();
        self.position += 1;
        token
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(word)) if word.eq_ignore_ascii_case(keyword))
    }

    fn at_order_by(&self) -> bool {
        self.peek_keyword("order")
            && matches!(self.tokens.get(self.position + 1), Some(Token::Word(w)) if w.eq_ignore_ascii_case("by"))
    }

    fn or_expr(&mut self) -> Result<Expr, String> {
        let mut left = self.and_expr()?;
        while self.peek_keyword("or") {
            self.position += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and_expr()?));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.peek_keyword("and") {
            self.position += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        let nests = self.peek_keyword("not") || self.peek() == Some(&Token::Open);
        if nests {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(format!(
                    "Error in the JQL Query: The query is nested too deeply (more than {MAX_DEPTH} levels of parentheses or NOT)."
                ));
            }
        }
        let expr = self.unary_inner();
        if nests {
            self.depth -= 1;
        }
        expr
    }

    fn unary_inner(&mut self) -> Result<Expr, String> {
        if self.peek_keyword("not") {
            self.position += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Token::Open) {
            self.position += 1;
            let inner = self.or_expr()?;
            return match self.next() {
                Some(Token::Close) => Ok(inner),
                other => Err(expecting("')'", other.as_ref())),
            };
        }
        self.clauses += 1;
        if self.clauses > MAX_CLAUSES {
            return Err(format!(
                "Error in the JQL Query: The query has more than {MAX_CLAUSES} clauses."
            ));
        }
        self.clause().map(Expr::Clause)
    }

    fn clause(&mut self) -> Result<Clause, String> {
        let field_name = match self.next() {
            Some(Token::Word(word)) | Some(Token::Quoted(word)) => word,
            other => return Err(expecting("a field name", other.as_ref())),
        };
        let lower = field_name.to_ascii_lowercase();
        let date_field = match lower.as_str() {
            "created" | "createddate" => Some(DateField::Created),
            "updated" | "updateddate" => Some(DateField::Updated),
            _ => None,
        };
        if let Some(field) = date_field {
            let op = self.operator()?;
            let value = self.single_value()?;
            let epoch_ms = parse_date(&value, self.now_ms, self.zone).ok_or_else(|| {
                format!(
                    "Date value '{value}' for field '{field_name}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
                )
            })?;
            return Ok(Clause::Date {
                field,
                op,
                epoch_ms,
            });
        }
        if lower.starts_with("issue.property[") {
            let rest = &field_name["issue.property[".len()..];
            let Some((name, path)) = rest.split_once(']') else {
                return Err(format!(
                    "Error in the JQL Query: '{field_name}' is not a property reference (expected issue.property[NAME].path)."
                ));
            };
            if !self.indexed.iter().any(|key| key == name) {
                // Stored and readable, but no app declared it for the index.
                return Err(format!(
                    "Field '{field_name}' does not exist or you do not have permission to view it."
                ));
            }
            let path = path.strip_prefix('.').unwrap_or(path).to_owned();
            let (values, negated) = self.compared_values(&field_name)?;
            return Ok(Clause::Property {
                name: name.to_owned(),
                path,
                values,
                negated,
            });
        }
        let contains = match lower.as_str() {
            "text" => Some(ContainsField::Text),
            "summary" => Some(ContainsField::Summary),
            "description" => Some(ContainsField::Description),
            _ => None,
        };
        if let Some(field) = contains {
            let negated = match self.next() {
                Some(Token::Op("~")) => false,
                Some(Token::Op("!~")) => true,
                other => {
                    return Err(match other {
                        Some(Token::Op(_)) => format!(
                            "The operator used is not supported by the field '{field_name}'."
                        ),
                        other => expecting("'~'", other.as_ref()),
                    });
                }
            };
            let value = self.single_value()?;
            let words: Vec<String> = value
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect();
            if words.is_empty() {
                return Err(format!(
                    "The field '{field_name}' does not support searching for an empty string."
                ));
            }
            return Ok(Clause::Contains {
                field,
                words,
                negated,
            });
        }
        if matches!(lower.as_str(), "id" | "key" | "issuekey")
            && matches!(self.peek(), Some(Token::Op(">" | ">=" | "<" | "<=")))
        {
            let op = self.operator()?;
            let value = self.single_value()?;
            return self.range(&field_name, op, &value);
        }
        let field = match lower.as_str() {
            "resolution" => TextField::Resolution,
            "statuscategory" => TextField::StatusCategory,
            "project" => TextField::Project,
            "key" | "issuekey" => TextField::Key,
            "id" => TextField::Id,
            "status" => TextField::Status,
            "issuetype" | "type" => TextField::IssueType,
            "priority" => TextField::Priority,
            "assignee" => TextField::Assignee,
            "reporter" => TextField::Reporter,
            "labels" => TextField::Labels,
            _ => {
                return Err(format!(
                    "Field '{field_name}' does not exist or you do not have permission to view it."
                ));
            }
        };
        if self.peek_keyword("is") {
            self.position += 1;
            let negated = self.peek_keyword("not");
            if negated {
                self.position += 1;
            }
            return match self.next() {
                Some(Token::Word(w))
                    if w.eq_ignore_ascii_case("empty") || w.eq_ignore_ascii_case("null") =>
                {
                    Ok(Clause::Empty { field, negated })
                }
                other => Err(expecting("'EMPTY'", other.as_ref())),
            };
        }
        let (mut values, negated) = self.compared_values(&field_name)?;
        if field == TextField::Resolution
            && values.iter().any(|v| v.eq_ignore_ascii_case("unresolved"))
        {
            if values.len() > 1 {
                return Err("Error in the JQL Query: 'Unresolved' cannot be combined with other resolutions in jira-sim.".into());
            }
            return Ok(Clause::Empty { field, negated });
        }
        if matches!(field, TextField::Assignee | TextField::Reporter) {
            for value in &mut values {
                if value == CURRENT_USER {
                    value.clone_from(&self.tenant.users[0].account_id);
                }
            }
        }
        // Jira refuses a value the field cannot have ("The value 'Donee' does not exist for
        // the field 'status'."), where a search for it would quietly find nothing.
        if let Some(known) = known_values(field, self.tenant) {
            for value in &values {
                if !known.iter().any(|k| k.eq_ignore_ascii_case(value)) {
                    return Err(format!(
                        "The value '{value}' does not exist for the field '{field_name}'."
                    ));
                }
            }
        }
        if field == TextField::Project {
            for value in &values {
                if self.tenant.project(value).is_none()
                    && !self
                        .tenant
                        .projects
                        .iter()
                        .any(|p| p.name.eq_ignore_ascii_case(value))
                {
                    return Err(format!(
                        "The value '{value}' does not exist for the field '{field_name}'."
                    ));
                }
            }
        }
        Ok(Clause::Text {
            field,
            values,
            negated,
        })
    }

    /// The values of `= v`, `!= v`, `in (...)` or `not in (...)`, and whether negated.
    fn compared_values(&mut self, field_name: &str) -> Result<(Vec<String>, bool), String> {
        Ok(if self.peek_keyword("in") {
            self.position += 1;
            (self.list()?, false)
        } else if self.peek_keyword("not")
            && matches!(self.tokens.get(self.position + 1), Some(Token::Word(w)) if w.eq_ignore_ascii_case("in"))
        {
            self.position += 2;
            (self.list()?, true)
        } else {
            match self.operator()? {
                Op::Eq => (vec![self.single_value()?], false),
                Op::Ne => (vec![self.single_value()?], true),
                _ => {
                    return Err(format!(
                        "The operator used is not supported by the field '{field_name}'."
                    ));
                }
            }
        })
    }

    /// `id OP n` or `key OP PROJ-n`.
    fn range(&self, field_name: &str, op: Op, value: &str) -> Result<Clause, String> {
        if field_name.eq_ignore_ascii_case("id") {
            return value
                .parse()
                .map(|bound| Clause::Range {
                    project: None,
                    op,
                    bound,
                })
                .map_err(|_| {
                    format!("The value '{value}' for field '{field_name}' is not a valid issue id.")
                });
        }
        let parsed = value.rsplit_once('-').and_then(|(project, number)| {
            Some((self.tenant.project(project)?, number.parse::<u64>().ok()?))
        });
        match parsed {
            Some((project, bound)) => Ok(Clause::Range {
                project: Some(project),
                op,
                bound,
            }),
            None => Err(format!(
                "The issue key '{value}' for field '{field_name}' is invalid."
            )),
        }
    }

    fn operator(&mut self) -> Result<Op, String> {
        match self.next() {
            Some(Token::Op("=")) => Ok(Op::Eq),
            Some(Token::Op("!=")) => Ok(Op::Ne),
            Some(Token::Op(">")) => Ok(Op::Gt),
            Some(Token::Op(">=")) => Ok(Op::Ge),
            Some(Token::Op("<")) => Ok(Op::Lt),
            Some(Token::Op("<=")) => Ok(Op::Le),
            other => Err(expecting("operator", other.as_ref())),
        }
    }

    fn single_value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Word(word)) => {
                if self.peek() == Some(&Token::Open) {
                    if word.eq_ignore_ascii_case("currentUser")
                        && self.tokens.get(self.position + 1) == Some(&Token::Close)
                    {
                        self.position += 2;
                        return Ok(CURRENT_USER.to_owned());
                    }
                    return Err(format!(
                        "Error in the JQL Query: the function '{word}' is not supported by jira-sim."
                    ));
                }
                Ok(word)
            }
            Some(Token::Quoted(text)) => Ok(text),
            other => Err(expecting("a value", other.as_ref())),
        }
    }

    fn list(&mut self) -> Result<Vec<String>, String> {
        match self.next() {
            Some(Token::Open) => {}
            other => return Err(expecting("'('", other.as_ref())),
        }
        let mut values = vec![self.single_value()?];
        loop {
            match self.next() {
                Some(Token::Comma) => values.push(self.single_value()?),
                Some(Token::Close) => return Ok(values),
                other => return Err(expecting("')'", other.as_ref())),
            }
        }
    }

    fn order_items(&mut self) -> Result<Vec<(SortField, bool)>, String> {
        let mut items = Vec::new();
        loop {
            let name = match self.next() {
                Some(Token::Word(word)) => word,
                other => return Err(expecting("a field name", other.as_ref())),
            };
            let field = match name.to_ascii_lowercase().as_str() {
                "updated" | "updateddate" => SortField::Updated,
                "created" | "createddate" => SortField::Created,
                "key" | "issuekey" => SortField::Key,
                "id" => SortField::Id,
                "priority" => SortField::Priority,
                _ => return Err(format!("Not able to sort using field '{name}'.")),
            };
            let ascending = if self.peek_keyword("desc") {
                self.position += 1;
                false
            } else {
                if self.peek_keyword("asc") {
                    self.position += 1;
                }
                true
            };
            items.push((field, ascending));
            if self.peek() == Some(&Token::Comma) {
                self.position += 1;
            } else {
                return Ok(items);
            }
        }
    }
}

fn expecting(what: &str, got: Option<&Token>) -> String {
    match got {
        Some(token) => format!(
            "Error in the JQL Query: Expecting {what} but got '{}'.",
            token.describe()
        ),
        None => format!("Error in the JQL Query: Expecting {what} before the end of the query."),
    }
}

#[cfg(test)]
mod tests;
