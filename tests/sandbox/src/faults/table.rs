//! The per-route fault table of one simulator and the decision for each request.

use super::ANY_ROUTE;
use super::{Decision, Faults, Latency, PASS, Scripted, Verdict, random_verdict, scripted_verdict};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct RouteFaults {
    faults: Faults,
    next: VecDeque<Scripted>,
}

/// The faults of one simulator, per route.
#[derive(Debug, Default)]
pub struct FaultTable {
    active: AtomicBool,
    routes: Mutex<HashMap<String, RouteFaults>>,
}

/// One route's faults as listed by `GET /_control/faults`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteFaultsView {
    /// The route name.
    pub route: String,
    /// Its random faults.
    pub faults: Faults,
    /// Scripted faults still pending, in order.
    pub next: Vec<Scripted>,
}

impl FaultTable {
    /// Replace the random faults of `route`, keeping its scripted ones.
    pub fn set(&self, route: &str, faults: Faults) {
        let mut routes = self.lock();
        routes.entry(route.to_owned()).or_default().faults = faults;
        self.refresh(&routes);
    }

    /// Queue a scripted fault on `route`.
    pub fn script(&self, route: &str, scripted: Scripted) {
        let mut routes = self.lock();
        routes
            .entry(route.to_owned())
            .or_default()
            .next
            .push_back(scripted);
        self.refresh(&routes);
    }

    /// Remove every fault of every route.
    pub fn clear(&self) {
        let mut routes = self.lock();
        routes.clear();
        self.refresh(&routes);
    }

    /// Every route with faults, sorted by name.
    pub fn list(&self) -> Vec<RouteFaultsView> {
        let routes = self.lock();
        let mut views: Vec<_> = routes
            .iter()
            .map(|(route, f)| RouteFaultsView {
                route: route.clone(),
                faults: f.faults.clone(),
                next: f.next.iter().cloned().collect(),
            })
            .collect();
        views.sort_by(|a, b| a.route.cmp(&b.route));
        views
    }

    /// Decide what happens to the next request of `route`.
    pub fn decide(&self, route: &str) -> Decision {
        if !self.active.load(Ordering::Relaxed) {
            return PASS;
        }
        let mut routes = self.lock();
        let scripted = [route, ANY_ROUTE].into_iter().find_map(|key| {
            let entry = routes.get_mut(key)?;
            let front = entry.next.front_mut()?;
            let taken = front.clone();
            front.count = front.count.saturating_sub(1);
            if front.count == 0 {
                entry.next.pop_front();
            }
            (taken.count > 0).then_some(taken)
        });
        let faults = routes
            .get(route)
            .filter(|f| !f.faults.is_none())
            .or_else(|| routes.get(ANY_ROUTE))
            .map(|f| f.faults.clone());
        self.refresh(&routes);
        drop(routes);
        let delay = faults.as_ref().and_then(|f| f.latency).map(Latency::sample);
        let verdict = match (scripted, faults) {
            (Some(s), _) => scripted_verdict(&s),
            (None, Some(f)) => random_verdict(&f, fastrand::f64()),
            (None, None) => Verdict::Pass,
        };
        Decision { delay, verdict }
    }

    fn refresh(&self, routes: &HashMap<String, RouteFaults>) {
        let any = routes
            .values()
            .any(|f| !f.faults.is_none() || !f.next.is_empty());
        self.active.store(any, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, RouteFaults>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_faults_means_every_request_passes() {
        let table = FaultTable::default();
        assert_eq!(table.decide("create_group"), PASS);
    }

    #[test]
    fn scripted_faults_are_consumed_in_order_then_requests_pass() {
        let table = FaultTable::default();
        table.script("create_group", Scripted::status(2, 500));
        table.script("create_group", Scripted::status(1, 429).with_retry_after(2));
        let verdicts: Vec<_> = (0..4)
            .map(|_| table.decide("create_group").verdict)
            .collect();
        let e500 = Verdict::Status {
            status: 500,
            retry_after: None,
        };
        let e429 = Verdict::Status {
            status: 429,
            retry_after: Some(2),
        };
        assert_eq!(verdicts, vec![e500, e500, e429, Verdict::Pass]);
        assert!(table.list()[0].next.is_empty());
    }

    #[test]
    fn scripted_faults_of_one_route_leave_other_routes_alone() {
        let table = FaultTable::default();
        table.script("create_group", Scripted::status(1, 503));
        assert_eq!(table.decide("get_group").verdict, Verdict::Pass);
    }

    #[test]
    fn the_wildcard_route_applies_when_a_route_has_no_faults_of_its_own() {
        let table = FaultTable::default();
        table.set(
            ANY_ROUTE,
            Faults {
                error_rate: 1.0,
                error_status: 503,
                ..Faults::default()
            },
        );
        assert!(matches!(
            table.decide("leads/getLeads").verdict,
            Verdict::Status { status: 503, .. }
        ));
    }
}
