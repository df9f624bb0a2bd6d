//! The one workflow every project shares: its transitions, from which statuses each one
//! starts and where it leads.

/// A transition of the workflow.
pub(crate) struct Transition {
    pub id: &'static str,
    pub name: &'static str,
    /// Index into [`super::STATUSES`].
    pub to: usize,
    /// The statuses it starts from.
    pub from: &'static [usize],
    /// Whether its screen asks for a resolution (a 400 without one).
    pub needs_resolution: bool,
}

/// The one workflow: To Do → In Progress ⇄ In Review → Done, a "Won't Do" that needs a
/// resolution, and Reopen.
pub(crate) const TRANSITIONS: &[Transition] = &[
    Transition {
        id: "11",
        name: "Back to To Do",
        to: 0,
        from: &[1, 2],
        needs_resolution: false,
    },
    Transition {
        id: "21",
        name: "Start Progress",
        to: 1,
        from: &[0, 2],
        needs_resolution: false,
    },
    Transition {
        id: "31",
        name: "Request Review",
        to: 2,
        from: &[1],
        needs_resolution: false,
    },
    Transition {
        id: "41",
        name: "Done",
        to: 3,
        from: &[0, 1, 2],
        needs_resolution: false,
    },
    Transition {
        id: "51",
        name: "Close",
        to: 3,
        from: &[0, 1, 2],
        needs_resolution: true,
    },
    Transition {
        id: "61",
        name: "Reopen",
        to: 0,
        from: &[3],
        needs_resolution: false,
    },
];

/// The transitions open from `status`.
pub(crate) fn available(status: usize) -> impl Iterator<Item = &'static Transition> {
    TRANSITIONS.iter().filter(move |t| t.from.contains(&status))
}
