//! The choice among the ways' estimates: the fastest that fits what is left of the hourly
//! quota, unless one within 10% of its wall saves a larger share of its points than it
//! adds to its wall; when none fits, the fewest points (the run pauses at the quota
//! whichever way it goes), the fastest of those that nearly tie.

use super::Estimate;
use crate::Strategy;

/// Points within this share of the fewest are a tie when no way fits the quota: the
/// fastest of those is taken.
pub(super) const POINTS_TIE: f64 = 0.05;
/// Estimated walls within this share of the fastest are about as fast: the estimates are
/// good to about that (a sample of a hundred issues), so the points may decide.
const WALL_TIE: f64 = 0.10;

/// What the choice is told besides the estimates.
pub(super) struct Context {
    /// Issues in the window.
    pub(super) count: u64,
    /// The burst rate the plan assumed (requests a second an endpoint).
    pub(super) rate: f64,
    /// The hourly quota the site announced, in points.
    pub(super) quota_points: Option<u64>,
}

/// The way a window is read, and why.
pub(super) fn choose(estimates: &[Estimate], context: &Context) -> (Strategy, String) {
    let Context {
        count,
        rate,
        quota_points,
    } = *context;
    let by_wall = |a: &&Estimate, b: &&Estimate| {
        a.seconds
            .total_cmp(&b.seconds)
            .then(a.requests.cmp(&b.requests))
    };
    let fitting: Vec<&Estimate> = estimates.iter().filter(|e| e.fits_quota).collect();
    if count <= 100 {
        return (
            Strategy::Pages,
            format!("pages: {count} issues fit in one search page"),
        );
    }
    if let Some(fastest) = fitting.iter().copied().min_by(by_wall) {
        let quota = match quota_points {
            Some(quota) => format!(" and within the hourly quota of {quota} points"),
            None => String::new(),
        };
        // A way about as fast is worth its extra time when it saves a larger share of
        // the fastest's points than it adds to its wall.
        let gain = |e: &Estimate| {
            (fastest.points as f64 - e.points as f64) / fastest.points.max(1) as f64
                - (e.seconds - fastest.seconds) / fastest.seconds.max(1e-9)
        };
        let thrifty = fitting
            .iter()
            .copied()
            .filter(|e| e.seconds <= fastest.seconds * (1.0 + WALL_TIE) && gain(e) > 0.0)
            .max_by(|a, b| gain(a).total_cmp(&gain(b)));
        return match thrifty {
            Some(best) => (
                best.strategy,
                format!(
                    "{}: {:.1}% fewer points than {}, the fastest ({} against {}), for \
                     {:.1}% more wall time ({:.1} s against {:.1} s){quota}",
                    best.strategy.name(),
                    (1.0 - best.points as f64 / fastest.points.max(1) as f64) * 100.0,
                    fastest.strategy.name(),
                    best.points,
                    fastest.points,
                    (best.seconds / fastest.seconds.max(1e-9) - 1.0) * 100.0,
                    best.seconds,
                    fastest.seconds,
                ),
            ),
            None => {
                let others: Vec<String> = estimates
                    .iter()
                    .filter(|e| e.strategy != fastest.strategy)
                    .map(|e| format!("{} {:.1} s", e.strategy.name(), e.seconds))
                    .collect();
                (
                    fastest.strategy,
                    format!(
                        "{}: least wall time ({:.1} s; {}) under the burst limits ({rate:.0} requests a second an endpoint){quota}",
                        fastest.strategy.name(),
                        fastest.seconds,
                        others.join(", "),
                    ),
                )
            }
        };
    }
    // None fits what is left of the quota: the run pauses at it whichever way it goes,
    // so the fewest points (within a few percent: a tie, the fastest of those).
    let least = estimates.iter().map(|e| e.points).min().unwrap_or(0);
    let tie = (least as f64 * (1.0 + POINTS_TIE)).ceil() as u64;
    let best = estimates
        .iter()
        .filter(|e| e.points <= tie)
        .min_by(by_wall)
        .expect("three estimates");
    (
        best.strategy,
        format!(
            "{}: no way fits the hourly quota left; fewest points ({}, within {:.0}% of the least) and of those the least wall time ({:.1} s)",
            best.strategy.name(),
            best.points,
            POINTS_TIE * 100.0,
            best.seconds
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn way(strategy: Strategy, seconds: f64, points: u64) -> Estimate {
        Estimate {
            strategy,
            requests: 100,
            points,
            seconds,
            fits_quota: true,
            memory_budget: 0,
        }
    }

    const CONTEXT: Context = Context {
        count: 10_000,
        rate: 100.0,
        quota_points: None,
    };

    #[test]
    fn the_fastest_unless_one_about_as_fast_costs_clearly_fewer_points() {
        // Slices 3% faster but 6% dearer than ids: ids save more points than they add
        // wall.
        let ways = [
            way(Strategy::Ids, 10.0, 20_000),
            way(Strategy::Pages, 40.0, 20_000),
            way(Strategy::Slices, 9.7, 21_200),
        ];
        let (chosen, reason) = choose(&ways, &CONTEXT);
        assert_eq!(chosen, Strategy::Ids, "{reason}");
        assert!(reason.contains("fewer points"), "{reason}");
        // 2.9% dearer: ids would add more wall than they save points.
        let ways = [
            way(Strategy::Ids, 10.0, 20_000),
            way(Strategy::Pages, 40.0, 20_000),
            way(Strategy::Slices, 9.7, 20_600),
        ];
        assert_eq!(choose(&ways, &CONTEXT).0, Strategy::Slices);
        // Twice as fast is no tie, whatever the points.
        let ways = [
            way(Strategy::Ids, 20.0, 20_000),
            way(Strategy::Pages, 40.0, 20_000),
            way(Strategy::Slices, 10.0, 30_000),
        ];
        let (chosen, reason) = choose(&ways, &CONTEXT);
        assert_eq!(chosen, Strategy::Slices, "{reason}");
        assert!(reason.contains("least wall time"), "{reason}");
    }

    #[test]
    fn without_a_fitting_way_the_fewest_points_and_of_those_the_fastest() {
        let mut ways = [
            way(Strategy::Ids, 10.0, 20_000),
            way(Strategy::Pages, 40.0, 20_000),
            way(Strategy::Slices, 5.0, 22_000),
        ];
        for way in &mut ways {
            way.fits_quota = false;
        }
        let (chosen, reason) = choose(&ways, &CONTEXT);
        assert_eq!(chosen, Strategy::Ids, "{reason}");
        assert!(reason.contains("fewest points"), "{reason}");
        // A window of one search page is that page.
        let one_page = Context {
            count: 80,
            ..CONTEXT
        };
        assert_eq!(choose(&ways, &one_page).0, Strategy::Pages);
    }
}
