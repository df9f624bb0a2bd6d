//! The JQL subset jira-sim understands, with Jira's error messages for the rest.
//!
//! Clauses: `project`, `key`/`issuekey`, `id`, `status`, `statusCategory`,
//! `issuetype`/`type`, `priority`, `resolution` (`Unresolved` is empty), `assignee`,
//! `reporter` (both with `currentUser()`), `labels` with `=`, `!=`, `in`, `not in`,
//! `is EMPTY`, `is not EMPTY`; `id` and `key` also with `>`, `>=`, `<`, `<=` (a key range
//! stays within its project), how exports slice a project; `text`, `summary`,
//! `description` with `~` and `!~` (every word must occur); `created` and `updated` with
//! `=`, `!=`, `>`, `>=`, `<`, `<=` against relative (`-7d`, `-2w`, `-12h`, `-30m`),
//! absolute (`2024-01-18`, `"2024/01/18 10:00"`, wall-clock times in the searching user's
//! zone, as Jira reads them) or epoch-millisecond dates; `AND`, `OR`,
//! `NOT` and parentheses; `ORDER BY` `updated`, `created`, `key`, `id`, `priority` with
//! `ASC`/`DESC`. A query with no clause is unbounded and refused, as the enhanced search
//! does; a value a field cannot have (`status = Donee`, an unknown user) is refused with
//! Jira's "The value ... does not exist for the field ..." rather than matching nothing.

use std::cmp::Ordering;

use jiff::tz::TimeZone;

use time::macros::format_description;
use time::{Date, PrimitiveDateTime};

use crate::data::{ISSUE_TYPES, IssueData, PRIORITIES, RESOLUTIONS, STATUSES, Tenant};

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
    /// `id > 10050`, `key <= APO-100`: an ordered comparison of ids, or of key numbers
    /// within the key's project.
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
                SortField::Key => (a.project, a.number).cmp(&(b.project, b.number)),
                SortField::Id => a.id.cmp(&b.id),
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

fn eval(expr: &Expr, issue: &IssueData, tenant: &Tenant) -> bool {
    match expr {
        Expr::And(a, b) => eval(a, issue, tenant) && eval(b, issue, tenant),
        Expr::Or(a, b) => eval(a, issue, tenant) || eval(b, issue, tenant),
        Expr::Not(inner) => !eval(inner, issue, tenant),
        Expr::Clause(Clause::Text {
            field,
            values,
            negated,
        }) => {
            let actual = text_values(*field, issue, tenant);
            let hit = values
                .iter()
                .any(|wanted| actual.iter().any(|have| have.eq_ignore_ascii_case(wanted)));
            hit != *negated
        }
        Expr::Clause(Clause::Range { project, op, bound }) => {
            let actual = match project {
                None => issue.id,
                Some(project) if *project == issue.project => issue.number,
                Some(_) => return false,
            };
            compare(actual, *op, *bound)
        }
        Expr::Clause(Clause::Contains {
            field,
            words,
            negated,
        }) => {
            let summary = || {
                issue
                    .summary
                    .clone()
                    .unwrap_or_else(|| crate::data::generated_summary(issue.seed))
            };
            let description = || {
                let doc = issue.description.clone().unwrap_or_else(|| {
                    crate::data::adf(&crate::data::generated_paragraphs(issue.seed, 2))
                });
                crate::data::adf_text(&doc).join(" ")
            };
            let text = match field {
                ContainsField::Summary => summary(),
                ContainsField::Description => description(),
                ContainsField::Text => format!("{} {}", summary(), description()),
            }
            .to_lowercase();
            // Word by word, a query word matching the start of a text word (Jira stems;
            // a prefix is the nearest simple rule).
            let text_words: Vec<&str> = text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect();
            words
                .iter()
                .all(|w| text_words.iter().any(|t| t.starts_with(w.as_str())))
                != *negated
        }
        Expr::Clause(Clause::Empty { field, negated }) => {
            text_values(*field, issue, tenant).is_empty() != *negated
        }
        Expr::Clause(Clause::Property {
            name,
            path,
            values,
            negated,
        }) => {
            let mut value = issue.properties.get(name);
            for segment in path.split('.').filter(|s| !s.is_empty()) {
                value = value.and_then(|v| v.get(segment));
            }
            let actual = match value {
                Some(serde_json::Value::String(text)) => Some(text.clone()),
                Some(serde_json::Value::Null) | None => None,
                Some(other) => Some(other.to_string()),
            };
            let hit = actual.is_some_and(|have| {
                values
                    .iter()
                    .any(|wanted| have.eq_ignore_ascii_case(wanted))
            });
            hit != *negated
        }
        Expr::Clause(Clause::Date {
            field,
            op,
            epoch_ms,
        }) => {
            let actual = match field {
                DateField::Created => issue.created_ms,
                DateField::Updated => issue.updated_ms,
            };
            compare(actual, *op, *epoch_ms)
        }
    }
}

fn compare<T: Ord>(actual: T, op: Op, bound: T) -> bool {
    match op {
        Op::Eq => actual == bound,
        Op::Ne => actual != bound,
        Op::Gt => actual > bound,
        Op::Ge => actual >= bound,
        Op::Lt => actual < bound,
        Op::Le => actual <= bound,
    }
}

/// The values a text clause compares with: for a project its key and id, for a user their
/// account id and display name.
fn text_values(field: TextField, issue: &IssueData, tenant: &Tenant) -> Vec<String> {
    let user = |index: usize| {
        let user = &tenant.users[index];
        vec![user.account_id.clone(), user.display_name.clone()]
    };
    match field {
        TextField::Project => {
            let project = &tenant.projects[issue.project];
            vec![
                project.key.clone(),
                project.id.to_string(),
                project.name.clone(),
            ]
        }
        TextField::Key => vec![issue.key.clone(), issue.id.to_string()],
        TextField::Id => vec![issue.id.to_string(), issue.key.clone()],
        TextField::Status => vec![
            STATUSES[issue.status].1.to_owned(),
            STATUSES[issue.status].0.to_owned(),
        ],
        TextField::IssueType => vec![
            ISSUE_TYPES[issue.issue_type].1.to_owned(),
            ISSUE_TYPES[issue.issue_type].0.to_owned(),
        ],
        TextField::Priority => vec![
            PRIORITIES[issue.priority].1.to_owned(),
            PRIORITIES[issue.priority].0.to_owned(),
        ],
        TextField::Assignee => issue.assignee.map(user).unwrap_or_default(),
        TextField::Reporter => user(issue.reporter),
        TextField::Labels => issue.labels.clone(),
        TextField::Resolution => issue
            .resolution
            .map(|r| vec![RESOLUTIONS[r].1.to_owned(), RESOLUTIONS[r].0.to_owned()])
            .unwrap_or_default(),
        TextField::StatusCategory => {
            let (key, name, id) = match STATUSES[issue.status].2 {
                "new" => ("new", "To Do", "2"),
                "indeterminate" => ("indeterminate", "In Progress", "4"),
                _ => ("done", "Done", "3"),
            };
            vec![key.to_owned(), name.to_owned(), id.to_owned()]
        }
    }
}

/// Every value a field can be compared with (names and ids, any case), for the fields
/// whose values the tenant fixes; `None` for free values (labels, keys, ids, projects,
/// which are checked on their own).
fn known_values(field: TextField, tenant: &Tenant) -> Option<Vec<String>> {
    let pairs = |table: &mut dyn Iterator<Item = (&str, &str)>| {
        table
            .flat_map(|(id, name)| [id.to_owned(), name.to_owned()])
            .collect::<Vec<_>>()
    };
    Some(match field {
        TextField::Status => pairs(&mut STATUSES.iter().map(|(id, name, _)| (*id, *name))),
        TextField::IssueType => pairs(&mut ISSUE_TYPES.iter().copied()),
        TextField::Priority => pairs(&mut PRIORITIES.iter().copied()),
        TextField::Resolution => pairs(&mut RESOLUTIONS.iter().map(|(id, name, _)| (*id, *name))),
        TextField::StatusCategory => [
            "new",
            "indeterminate",
            "done",
            "To Do",
            "In Progress",
            "Done",
            "2",
            "4",
            "3",
        ]
        .map(str::to_owned)
        .to_vec(),
        TextField::Assignee | TextField::Reporter => tenant
            .users
            .iter()
            .flat_map(|u| [u.account_id.clone(), u.display_name.clone()])
            .collect(),
        TextField::Project | TextField::Key | TextField::Id | TextField::Labels => return None,
    })
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

fn tokenize(jql: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = jql.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            ',' => {
                chars.next();
                tokens.push(Token::Comma);
            }
            '=' => {
                chars.next();
                tokens.push(Token::Op("="));
            }
            '~' => {
                chars.next();
                tokens.push(Token::Op("~"));
            }
            '!' if jql[at + 1..].starts_with('~') => {
                chars.next();
                chars.next();
                tokens.push(Token::Op("!~"));
            }
            '!' | '>' | '<' => {
                chars.next();
                let with_eq = chars.peek().is_some_and(|&(_, n)| n == '=');
                if with_eq {
                    chars.next();
                }
                tokens.push(Token::Op(match (c, with_eq) {
                    ('!', true) => "!=",
                    ('>', true) => ">=",
                    ('<', true) => "<=",
                    ('>', false) => ">",
                    ('<', false) => "<",
                    _ => {
                        return Err(format!(
                            "Error in the JQL Query: The character '!' is a reserved JQL character. (line 1, character {})",
                            at + 1
                        ));
                    }
                }));
            }
            '"' | '\'' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        Some((_, '\\')) => {
                            if let Some((_, escaped)) = chars.next() {
                                text.push(escaped);
                            }
                        }
                        Some((_, q)) if q == c => break,
                        Some((_, other)) => text.push(other),
                        None => {
                            return Err(format!(
                                "Error in the JQL Query: The quoted string starting at character {} is not terminated.",
                                at + 1
                            ));
                        }
                    }
                }
                tokens.push(Token::Quoted(text));
            }
            _ => {
                let mut word = String::new();
                while let Some(&(_, n)) = chars.peek() {
                    if n.is_whitespace() || "()=,!<>~\"'".contains(n) {
                        break;
                    }
                    word.push(n);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

/// A relative period (`-7d`, `-2w`, `-12h`, `-30m`, `+1d`), epoch milliseconds, or an
/// absolute date (`2024-01-18`, `2024/01/18 10:00`, read as a wall-clock time in `zone`)
/// in epoch milliseconds.
fn parse_date(value: &str, now_ms: i64, zone: &TimeZone) -> Option<i64> {
    let value = value.trim();
    // Epoch milliseconds, as exports write their cursor (no time zone to get wrong).
    if value.len() >= 10 && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok();
    }
    if let Some(sign) = value.chars().next().filter(|c| *c == '-' || *c == '+') {
        let mut total_ms: i64 = 0;
        for part in value[1..].split_whitespace() {
            let (number, unit) = part.split_at(part.len().checked_sub(1)?);
            let number: i64 = number.parse().ok()?;
            let unit_ms = match unit {
                "w" => 7 * 86_400_000,
                "d" => 86_400_000,
                "h" => 3_600_000,
                "m" => 60_000,
                _ => return None,
            };
            total_ms += number * unit_ms;
        }
        return Some(if sign == '-' {
            now_ms - total_ms
        } else {
            now_ms + total_ms
        });
    }
    let normalized = value.replace('/', "-");
    let date_time = format_description!("[year]-[month]-[day] [hour]:[minute]");
    let date_only = format_description!("[year]-[month]-[day]");
    let wall = PrimitiveDateTime::parse(&normalized, date_time)
        .ok()
        .or_else(|| {
            Date::parse(&normalized, date_only)
                .ok()
                .map(|d| d.midnight())
        })?;
    // The wall-clock time in the zone (a time that falls in a DST gap or overlap is taken
    // as Temporal's "compatible" rule takes it: the later instant in a gap, the earlier in
    // an overlap).
    let civil = jiff::civil::datetime(
        i16::try_from(wall.year()).ok()?,
        u8::from(wall.month()) as i8,
        wall.day() as i8,
        wall.hour() as i8,
        wall.minute() as i8,
        0,
        0,
    );
    Some(
        civil
            .to_zoned(zone.clone())
            .ok()?
            .timestamp()
            .as_millisecond(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimConfig;
    use crate::data;
    use proptest::prelude::*;

    const NOW: i64 = 1_700_000_000_000;
    /// Properties the tests search by, as if an app declared them.
    const INDEXED: &[String] = &[];

    fn tenant() -> (Tenant, data::IssueStore) {
        let config = SimConfig {
            projects: 3,
            issues_per_project: 40,
            ..SimConfig::default()
        };
        data::generate(&config, NOW)
    }

    /// Counts the issues a query matches, or returns its error.
    fn check(jql: &str, expected: Result<usize, &str>) {
        let (tenant, store) = tenant();
        let result = parse(jql, &tenant, NOW, &TimeZone::UTC, INDEXED).map(|query| {
            store
                .by_id
                .values()
                .filter(|issue| query.matches(issue, &tenant))
                .count()
        });
        match expected {
            Ok(count) => assert_eq!(result, Ok(count), "{jql}"),
            Err(fragment) => {
                let error = result.expect_err(jql);
                assert!(error.contains(fragment), "{jql}: {error}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
        /// No query, however malformed, panics the parser or the evaluation: it is an
        /// answer or Jira's error.
        #[test]
        fn no_query_panics(words in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::sample::select(vec![
                    "(", ")", "NOT", "AND", "OR", "ORDER", "BY", "project", "=", "!=", "in",
                    "~", ">", "<=", "APO", "\"", ",", "created", "-1d", "key", "empty", "is",
                    "labels", "updated", "DESC", "status", "Done", "currentUser()", "\\",
                ]).prop_map(str::to_owned),
                "\\PC{0,12}",
            ],
            0..60,
        )) {
            let jql = words.join(" ");
            let (tenant, store) = tenant();
            if let Ok(query) = parse(&jql, &tenant, NOW, &TimeZone::UTC, INDEXED) {
                let mut issues: Vec<&IssueData> = store
                    .by_id
                    .values()
                    .filter(|issue| query.matches(issue, &tenant))
                    .collect();
                issues.sort_by(|a, b| query.compare(a, b));
            }
        }
    }

    #[test]
    fn clauses() {
        check("project = APO", Ok(40));
        check("project = apo", Ok(40));
        check("project = 10001", Ok(40));
        check("project in (APO, BEA)", Ok(80));
        check("project not in (APO, BEA)", Ok(40));
        check("project != APO", Ok(80));
        check("key in (APO-1, APO-2, BEA-40, BEA-41)", Ok(3));
        check("issuekey = APO-7", Ok(1));
        check("project = APO OR project = COM", Ok(80));
        check(
            "(project = APO OR project = COM) AND NOT project = COM",
            Ok(40),
        );
        check("created <= -1d", Ok(120));
        check("created > -1d", Ok(0));
        check("updated >= 2000-01-01", Ok(120));
        check("updated >= \"2000/01/01 10:00\"", Ok(120));
        check("updated < '2000-01-01'", Ok(0));
    }

    #[test]
    fn export_clauses_slice_and_filter() {
        // Ranges partition: ids of the 120 issues are 10000..10120.
        check("id >= 10000 AND id < 10060", Ok(60));
        check("id < 10060 OR id >= 10060", Ok(120));
        check("id > 10119", Ok(0));
        check("key > APO-30", Ok(10));
        check("key <= BEA-5 AND project = BEA", Ok(5));
        check("key < APO-0", Ok(0));
        check("id > x", Err("not a valid issue id"));
        check("key > NOPE-3", Err("is invalid"));
        // Epoch milliseconds: every generated issue is older than NOW.
        check(&format!("updated <= {NOW}"), Ok(120));
        check(&format!("updated > {NOW}"), Ok(0));
        // Text: every generated summary says what it is "for".
        check("summary ~ for AND project = APO", Ok(40));
        check("summary !~ for", Ok(0));
        check("text ~ \"zzzz-nothing\"", Ok(0));
        check("summary = for", Err("not supported"));
        // Resolution: exactly the done ones; Unresolved is the others.
        let (tenant, store) = tenant();
        let done = store
            .by_id
            .values()
            .filter(|i| STATUSES[i.status].2 == "done")
            .count();
        check("resolution = Done", Ok(done));
        check("resolution is EMPTY", Ok(120 - done));
        check("resolution = Unresolved", Ok(120 - done));
        check("statusCategory = Done", Ok(done));
        // currentUser() is the caller (the first user).
        let mine = store
            .by_id
            .values()
            .filter(|i| i.assignee == Some(0))
            .count();
        check("assignee = currentUser()", Ok(mine));
        check("assignee in (currentUser())", Ok(mine));
        check("assignee = membersOf(x)", Err("not supported"));
        drop(tenant);
    }

    #[test]
    fn date_windows_partition() {
        let (tenant, store) = tenant();
        let count = |jql: &str| {
            let query = parse(jql, &tenant, NOW, &TimeZone::UTC, INDEXED).unwrap();
            store
                .by_id
                .values()
                .filter(|i| query.matches(i, &tenant))
                .count()
        };
        let recent = count("project = APO AND updated >= -30d");
        let older = count("project = APO AND updated < -30d");
        assert_eq!(recent + older, 40);
        assert_eq!(count("updated >= -4w"), count("updated >= -28d"));
        assert_eq!(count("updated >= -24h"), count("updated >= -1d"));
        assert_eq!(count("updated >= -1440m"), count("updated >= -1d"));
    }

    #[test]
    fn errors_are_jiras() {
        check("", Err("Unbounded JQL"));
        check("ORDER BY created DESC", Err("Unbounded JQL"));
        check("votes ~ foo", Err("Field 'votes' does not exist"));
        check(
            "project = NOPE",
            Err("The value 'NOPE' does not exist for the field 'project'"),
        );
        check(
            "project = APO AND",
            Err("Expecting a field name before the end"),
        );
        check("project APO", Err("Expecting operator but got 'APO'"));
        check("project in (APO", Err("Expecting ')'"));
        check("project = \"APO", Err("not terminated"));
        check("created > yesterday", Err("Date value 'yesterday'"));
        check(
            "project = APO ORDER BY summary",
            Err("Not able to sort using field 'summary'"),
        );
        check(
            "project = APO project = BEA",
            Err("Expecting either 'OR' or 'AND'"),
        );
        check("assignee = now()", Err("function 'now' is not supported"));
        // Deep nesting and huge queries are Jira's 400, never a stack overflow.
        let deep = format!("{}project = APO{}", "(".repeat(5_000), ")".repeat(5_000));
        check(&deep, Err("nested too deeply"));
        let nots = format!("{}project = APO", "NOT ".repeat(5_000));
        check(&nots, Err("nested too deeply"));
        let wide = vec!["project = APO"; 5_000].join(" OR ");
        check(&wide, Err("more than 1000 clauses"));
        let fine = format!("{}project = APO{}", "(".repeat(50), ")".repeat(50));
        check(&fine, Ok(40));
    }

    #[test]
    fn order_by_is_stable_and_directional() {
        let (tenant, store) = tenant();
        let sorted = |jql: &str| {
            let query = parse(jql, &tenant, NOW, &TimeZone::UTC, INDEXED).unwrap();
            let mut issues: Vec<&IssueData> = store
                .by_id
                .values()
                .filter(|i| query.matches(i, &tenant))
                .collect();
            issues.sort_by(|a, b| query.compare(a, b));
            issues.iter().map(|i| i.key.clone()).collect::<Vec<_>>()
        };
        let desc = sorted("project = APO ORDER BY key DESC");
        assert_eq!(desc.first().map(String::as_str), Some("APO-40"));
        let asc = sorted("project = APO ORDER BY key");
        assert_eq!(asc.first().map(String::as_str), Some("APO-1"));
        let by_updated = sorted("project in (APO, BEA) ORDER BY updated DESC");
        let updated_of = |key: &str| store.find(key).unwrap().updated_ms;
        assert!(
            by_updated
                .windows(2)
                .all(|w| updated_of(&w[0]) >= updated_of(&w[1]))
        );
    }
}
