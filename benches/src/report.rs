//! The report both commands write: scenarios, their tables, and figures with targets.

use serde::Serialize;

/// One figure and, when it has one, its target.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// What it measures.
    pub name: String,
    /// The value.
    pub value: f64,
    /// The value as the documents show it.
    pub shown: String,
    /// The target as text (`≤ 1.10`), when there is one.
    pub target: Option<String>,
    /// Whether the value meets the target.
    pub met: Option<bool>,
    /// A correctness figure (a count that must be exact, a bound that must hold on any
    /// machine) rather than a speed or memory target that a noisy machine can miss.
    pub hard: bool,
}

impl Figure {
    /// A figure without a target.
    pub fn info(name: &str, value: f64) -> Self {
        Figure {
            name: name.to_owned(),
            value,
            shown: round(value),
            target: None,
            met: None,
            hard: false,
        }
    }

    /// Marks a bound as correctness rather than performance.
    pub fn hard(mut self) -> Self {
        self.hard = true;
        self
    }

    /// A figure that must be at most `limit`.
    pub fn at_most(name: &str, value: f64, limit: f64) -> Self {
        Figure {
            name: name.to_owned(),
            value,
            shown: round(value),
            target: Some(format!("≤ {limit}")),
            met: Some(value <= limit),
            hard: false,
        }
    }

    /// A figure that must be at least `limit`.
    pub fn at_least(name: &str, value: f64, limit: f64) -> Self {
        Figure {
            name: name.to_owned(),
            value,
            shown: round(value),
            target: Some(format!("≥ {limit}")),
            met: Some(value >= limit),
            hard: false,
        }
    }

    /// A figure that must be exactly `expected` (counts: duplicates, early retries).
    pub fn exactly(name: &str, value: f64, expected: f64) -> Self {
        Figure {
            name: name.to_owned(),
            value,
            shown: round(value),
            target: Some(format!("= {expected}")),
            met: Some(value == expected),
            hard: true,
        }
    }
}

/// One scenario: a table of what was measured and its figures.
#[derive(Clone, Debug, Serialize)]
pub struct Scenario {
    /// Its number in the list.
    pub id: u32,
    /// What it measures.
    pub title: String,
    /// The column names.
    pub header: Vec<String>,
    /// The rows.
    pub rows: Vec<Vec<String>>,
    /// The figures it is judged by.
    pub figures: Vec<Figure>,
    /// Anything a reader needs to read the table right.
    pub notes: Vec<String>,
}

impl Scenario {
    /// An empty scenario.
    pub fn new(id: u32, title: &str, header: &[&str]) -> Self {
        Scenario {
            id,
            title: title.to_owned(),
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
            figures: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Whether every figure with a target met it.
    pub fn passed(&self) -> bool {
        self.figures.iter().all(|f| f.met != Some(false))
    }

    /// Prints the scenario as a Markdown table on stdout.
    pub fn print(&self) {
        println!("\n### {}. {}\n", self.id, self.title);
        println!("| {} |", self.header.join(" | "));
        println!("|{}|", vec!["---"; self.header.len()].join("|"));
        for row in &self.rows {
            println!("| {} |", row.join(" | "));
        }
        for figure in &self.figures {
            let verdict = match figure.met {
                Some(true) => " — met",
                Some(false) => " — MISSED",
                None => "",
            };
            println!(
                "\n{}: {}{}{}",
                figure.name,
                figure.shown,
                figure
                    .target
                    .as_ref()
                    .map(|t| format!(" (target {t})"))
                    .unwrap_or_default(),
                verdict
            );
        }
        for note in &self.notes {
            println!("\n{note}");
        }
    }
}

/// A number as a reader wants it: 3 significant decimals below 10, fewer above.
pub fn round(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.abs() < 10.0 {
        format!("{value:.3}")
    } else if value.abs() < 1000.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// `bench` or `soak`.
    pub kind: String,
    /// `quick` or `full`.
    pub mode: String,
    /// Seconds the run took.
    pub seconds: f64,
    /// The scenarios, in order.
    pub scenarios: Vec<Scenario>,
}
