//! The JSON income report (`GET …/report/data`): a combined household report in the shape
//! of Payscore's published example, with amounts in cents derived from the group id so the
//! same group always reports the same figures.

use super::model::Group;
use serde_json::{Value, json};

/// The combined report of a completed group.
pub fn report_data(group: &Group) -> Value {
    let base = (group.id.as_u128() % 4000) as i64 * 100 + 250_000;
    let screenings: Vec<Value> = group
        .screenings
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let monthly = base + i as i64 * 10_000;
            json!({
                "screening_id": s.id.to_string(),
                "reason_completed": s.reason_completed,
                "total_net_income": monthly * 6,
                "two_month_avg_monthly_net_income": monthly,
                "three_month_avg_monthly_net_income": monthly,
                "six_month_avg_monthly_net_income": monthly,
                "nine_month_avg_monthly_net_income": null,
                "twelve_month_avg_monthly_net_income": null,
                "total_non_recurring_deposits": 12_000,
                "summary_timespan_length": 180,
                "bank_connections": [{
                    "accounts": [{
                        "name": "Checking Account", "type": "Checking",
                        "available_balance": 150_000, "current_balance": 160_000
                    }],
                    "income": {
                        "total_net_income": monthly * 6,
                        "income_streams": [{
                            "name": "Sandbox Payroll",
                            "transactions": [
                                { "amount": monthly, "name": "Sandbox Payroll", "date": "04/01/2026" },
                                { "amount": monthly, "name": "Sandbox Payroll", "date": "03/01/2026" }
                            ]
                        }]
                    }
                }]
            })
        })
        .collect();
    let household: i64 = screenings
        .iter()
        .filter_map(|s| s["two_month_avg_monthly_net_income"].as_i64())
        .sum();
    json!({
        "screening_group_id": group.id.to_string(),
        "report_version": group.report_version,
        "total_net_income": household * 6,
        "two_month_avg_monthly_net_income": household,
        "three_month_avg_monthly_net_income": household,
        "six_month_avg_monthly_net_income": household,
        "monthly_rent_cents": group.monthly_rent_cents,
        "income_multiplier_threshold": group.income_multiplier_threshold,
        "screenings": screenings,
    })
}
