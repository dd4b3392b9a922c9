//! Contract tests of the Entrata simulator's read methods, envelope, authentication and
//! rate limits.

mod common;

use common::{as_list, entrata, entrata_with, envelope, http, start, start_with};
use sandbox::{SandboxConfig, Simulator};
use serde_json::{Value, json};

#[tokio::test]
async fn get_properties_has_the_physical_property_shape_with_attributes_and_state_codes() {
    let sandbox = start().await;
    let (status, headers, body) = entrata(&sandbox, "properties", "getProperties", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["response"]["requestId"], "15",
        "requestId comes back as a string"
    );
    assert_eq!(body["response"]["code"], 200);
    assert!(headers.contains_key("x-ratelimit-limit"));
    let properties = as_list(&body["response"]["result"]["PhysicalProperty"]["Property"]);
    assert_eq!(properties.len(), 5);
    let first = &properties[0];
    assert_eq!(first["Address"]["@attributes"]["AddressType"], "property");
    assert_eq!(
        first["Addresses"]["Address"][0]["StateCode"]
            .as_str()
            .map(str::len),
        Some(2)
    );
    assert!(
        properties
            .iter()
            .any(|p| p["Address"]["State"].as_str().is_some_and(|s| s.len() == 2)),
        "some two-letter states"
    );
    assert!(
        properties
            .iter()
            .any(|p| p["Address"]["State"].as_str().is_some_and(|s| s.len() > 2)),
        "some full names"
    );
    assert!(
        properties.iter().any(|p| p["PropertyID"].is_string())
            && properties.iter().any(|p| p["PropertyID"].is_number())
    );
}

#[tokio::test]
async fn a_single_property_arrives_as_an_object_not_a_list() {
    let sandbox = start().await;
    let (_, _, body) = entrata(
        &sandbox,
        "properties",
        "getProperties",
        json!({ "propertyIds": "100001" }),
    )
    .await;
    let property = &body["response"]["result"]["PhysicalProperty"]["Property"];
    assert!(property.is_object(), "{property}");
    assert_eq!(property["PropertyID"], 100001);
}

#[tokio::test]
async fn get_leads_returns_the_prospect_with_customers_contacts_and_rent_strings() {
    let sandbox = start().await;
    let submitted = sandbox
        .control()
        .submit_application(
            &serde_json::from_value(json!({ "applicants": 1, "rent": "1650.00" }))
                .expect("options"),
        )
        .await
        .expect("submitted");
    let params = json!({ "propertyId": submitted.property_id.to_string(), "leadId": submitted.application_id });
    let (status, _, body) = entrata(&sandbox, "leads", "getLeads", params).await;
    assert_eq!(status, 200);
    let prospect = &body["response"]["result"]["prospects"]["prospect"];
    assert!(prospect.is_object(), "one prospect comes as an object");
    assert_eq!(
        prospect["applicationId"],
        submitted.application_id.to_string()
    );
    assert_eq!(prospect["lease"]["leaseId"], submitted.lease_id);
    assert_eq!(
        prospect["customerPreferences"]["desiredUnit"]["initialRent"],
        "1650.00"
    );
    let customer = &prospect["customers"]["customer"];
    assert!(customer.is_object(), "one customer comes as an object");
    assert_eq!(customer["customerId"], submitted.applicant_ids[0]);
}

#[tokio::test]
async fn get_leases_hides_applicant_leases_unless_status_1_is_asked_for() {
    let sandbox = start().await;
    let options = serde_json::from_value(json!({ "customer_types": ["Primary", "Co-Applicant", "Guarantor", "Occupant"], "rent": "2105.50" }))
        .expect("options");
    let submitted = sandbox
        .control()
        .submit_application(&options)
        .await
        .expect("submitted");
    let base = json!({ "propertyId": submitted.property_id, "applicationId": submitted.application_id.to_string() });
    let (status, _, body) = entrata(&sandbox, "leases", "getLeases", base.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["response"]["error"]["code"], 404,
        "default is Current and Notice only"
    );

    let mut with_applicants = base;
    with_applicants["leaseStatusTypeIds"] = json!("1,4,5");
    let (_, _, body) = entrata(&sandbox, "leases", "getLeases", with_applicants).await;
    let lease = &body["response"]["result"]["leases"]["lease"];
    assert_eq!(lease["id"], submitted.lease_id);
    let types: Vec<Value> = as_list(&lease["customers"]["customer"])
        .iter()
        .map(|c| c["customerType"].clone())
        .collect();
    assert_eq!(
        types,
        [
            json!("Primary"),
            json!("Co-Applicant"),
            json!("Guarantor"),
            json!("Occupant")
        ]
    );
    let charges = as_list(&lease["scheduledCharges"]["scheduledCharge"]);
    let base_rent: Vec<&Value> = charges
        .iter()
        .filter(|c| c["chargeUsage"] == "Base" && c["frequency"] == "Monthly")
        .collect();
    assert_eq!(base_rent.len(), 1);
    assert_eq!(base_rent[0]["amount"], "2105.50");
    assert!(charges.len() > 1, "other charges are there to be ignored");
}

#[tokio::test]
async fn a_wrong_api_key_is_an_error_envelope_with_http_200() {
    let sandbox = start().await;
    let response = http()
        .post(format!("{}/leads", sandbox.entrata_url()))
        .header("x-api-key", "wrong")
        .json(&envelope("getLeads", json!({ "propertyId": 100001 })))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["response"]["error"]["code"], 401);
    assert!(body["response"].get("result").is_none());
}

#[tokio::test]
async fn unknown_properties_methods_and_missing_params_are_error_envelopes() {
    let sandbox = start().await;
    let (status, _, body) =
        entrata(&sandbox, "leads", "getLeads", json!({ "propertyId": 42 })).await;
    assert_eq!(
        (status, body["response"]["error"]["code"].clone()),
        (200, json!(404))
    );
    let (_, _, body) = entrata(&sandbox, "leads", "getLeads", json!({})).await;
    assert_eq!(body["response"]["error"]["code"], 400);
    let (_, _, body) = entrata(&sandbox, "leads", "createLead", json!({})).await;
    assert_eq!(body["response"]["error"]["code"], 400);
}

#[tokio::test]
async fn the_rate_limit_budget_runs_out_with_429_and_headers_then_resets() {
    let sandbox = start().await;
    sandbox
        .control()
        .set_rate_limit(3)
        .await
        .expect("budget set");
    let params = json!({ "propertyIds": "100001" });
    for remaining in [2, 1, 0] {
        let (status, headers, _) =
            entrata(&sandbox, "properties", "getProperties", params.clone()).await;
        assert_eq!(status, 200);
        let header = headers["x-ratelimit-remaining"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(
            header.ends_with(&format!(";{remaining}/MINUTE")),
            "{header}"
        );
    }
    let (status, headers, body) =
        entrata(&sandbox, "properties", "getProperties", params.clone()).await;
    assert_eq!(status, 429);
    assert_eq!(body["response"]["error"]["code"], 429);
    assert!(
        headers["x-ratelimit-limit"]
            .to_str()
            .expect("ascii")
            .ends_with(";3/MINUTE")
    );
    let reset = headers["x-ratelimit-reset"].to_str().expect("ascii");
    let minute: u64 = reset
        .rsplit(';')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("seconds");
    assert!(minute <= 60);
    let (status, _, _) = entrata(
        &sandbox,
        "leads",
        "getLeads",
        json!({ "propertyId": 100001 }),
    )
    .await;
    assert_eq!(status, 200, "budgets are per service");
}

#[tokio::test]
async fn an_exhausted_budget_recovers_after_the_announced_reset() {
    let sandbox = start().await;
    sandbox
        .control()
        .exhaust_rate_limit(Some("leads"), 1)
        .await
        .expect("exhausted");
    let params = json!({ "propertyId": 100001 });
    let (status, headers, _) = entrata(&sandbox, "leads", "getLeads", params.clone()).await;
    assert_eq!(status, 429);
    assert!(
        headers["x-ratelimit-reset"]
            .to_str()
            .expect("ascii")
            .ends_with(";1")
    );
    common::eventually(std::time::Duration::from_secs(5), "the budget to reset", || {
        let (sandbox, params) = (&sandbox, params.clone());
        async move { (entrata(sandbox, "leads", "getLeads", params).await.0 == 200).then_some(()) }
    })
    .await;
}

fn config_with(change: impl FnOnce(&mut sandbox::config::EntrataConfig)) -> SandboxConfig {
    let mut config = SandboxConfig::default();
    change(&mut config.entrata);
    config
}

#[tokio::test]
async fn a_method_error_is_answered_with_the_configured_http_status_and_429_stays_429() {
    let sandbox = start_with(config_with(|e| e.error_status = 400)).await;
    let (status, headers, body) =
        entrata(&sandbox, "leads", "getLeads", json!({ "propertyId": 42 })).await;
    assert_eq!(status, 400);
    assert_eq!(body["response"]["error"]["code"], 404);
    assert_eq!(body["response"]["requestId"], "15");
    assert!(headers.contains_key("x-ratelimit-remaining"));
    let (status, _, _) = entrata(
        &sandbox,
        "leads",
        "getLeads",
        json!({ "propertyId": 100001 }),
    )
    .await;
    assert_eq!(status, 200, "a success stays 200");
    sandbox
        .control()
        .exhaust_rate_limit(Some("leads"), 60)
        .await
        .expect("exhausted");
    let (status, headers, body) =
        entrata(&sandbox, "leads", "getLeads", json!({ "propertyId": 42 })).await;
    assert_eq!(
        (status, body["response"]["error"]["code"].clone()),
        (429, json!(429))
    );
    assert!(headers.contains_key("x-ratelimit-reset"));
}

#[tokio::test]
async fn the_call_log_keeps_the_version_each_entrata_method_was_called_with() {
    let sandbox = start().await;
    entrata(
        &sandbox,
        "leads",
        "getLeads",
        json!({ "propertyId": 100001 }),
    )
    .await;
    let r2 = json!({ "auth": { "type": "apikey" },
                     "method": { "name": "getLeases", "version": "r2", "params": { "propertyId": 100001 } } });
    entrata_with(&sandbox, "leases", "", &r2).await;
    let bare = json!({ "auth": { "type": "apikey" },
                       "method": { "name": "getProperties", "params": {} } });
    entrata_with(&sandbox, "properties", "", &bare).await;
    let calls = sandbox
        .control()
        .calls(Simulator::Entrata, None)
        .await
        .expect("calls");
    let versions: Vec<(&str, Option<&str>)> = calls
        .iter()
        .map(|c| (c.route.as_str(), c.version.as_deref()))
        .collect();
    assert_eq!(
        versions,
        [
            ("leads/getLeads", Some("r1")),
            ("leases/getLeases", Some("r2")),
            ("properties/getProperties", None)
        ]
    );
    common::token(&sandbox).await;
    let payscore = sandbox
        .control()
        .calls(Simulator::Payscore, Some("auth"))
        .await
        .expect("calls");
    assert_eq!(payscore[0].version, None, "Payscore calls have no version");
}

#[tokio::test]
async fn with_mailing_address_first_the_top_level_address_is_the_po_box() {
    let sandbox = start_with(config_with(|e| e.mailing_address_first = true)).await;
    let street = sandbox.control().properties().await.expect("properties")[0]
        .street
        .clone();
    let params = json!({ "propertyIds": "100001" });
    let (_, _, body) = entrata(&sandbox, "properties", "getProperties", params).await;
    let property = &body["response"]["result"]["PhysicalProperty"]["Property"];
    assert_eq!(property["Address"]["@attributes"]["AddressType"], "Mailing");
    assert!(
        property["Address"]["Address"]
            .as_str()
            .is_some_and(|a| a.starts_with("PO Box"))
    );
    let addresses = as_list(&property["Addresses"]["Address"]);
    let types: Vec<&Value> = addresses.iter().map(|a| &a["AddressType"]).collect();
    assert_eq!(types, [&json!("Mailing"), &json!("Primary")]);
    assert_eq!(
        addresses[1]["Address"],
        street.as_str(),
        "the street stays in Primary"
    );
}

#[tokio::test]
async fn with_own_lead_ids_a_caller_passing_the_application_id_finds_no_lead() {
    let sandbox = start_with(config_with(|e| e.lead_ids_are_application_ids = false)).await;
    let submitted = sandbox
        .control()
        .submit_application(&Default::default())
        .await
        .expect("submitted");
    let by_application =
        json!({ "propertyId": submitted.property_id, "leadId": submitted.application_id });
    let (status, _, body) = entrata(&sandbox, "leads", "getLeads", by_application).await;
    assert_eq!(status, 200);
    assert_eq!(body["response"]["error"]["code"], 404);
    assert_eq!(
        body["response"]["error"]["message"],
        "No leads found for the given criteria."
    );

    let application_id = json!(submitted.application_id.to_string());
    let all = json!({ "propertyId": submitted.property_id });
    let (_, _, body) = entrata(&sandbox, "leads", "getLeads", all).await;
    let prospects = as_list(&body["response"]["result"]["prospects"]["prospect"]);
    let ours = prospects
        .iter()
        .find(|p| p["applicationId"] == application_id)
        .expect("listed");
    let lead_id = ours["leadId"].as_str().expect("a lead id").to_owned();
    assert_ne!(lead_id, submitted.application_id.to_string());
    assert_eq!(ours["id"], lead_id.as_str());
    let by_lead = json!({ "propertyId": submitted.property_id, "leadId": lead_id });
    let (_, _, body) = entrata(&sandbox, "leads", "getLeads", by_lead).await;
    assert_eq!(
        body["response"]["result"]["prospects"]["prospect"]["applicationId"],
        submitted.application_id.to_string()
    );
}

#[tokio::test]
async fn lead_customers_carry_their_type_only_when_configured() {
    let options = serde_json::from_value(json!({ "customer_types": ["Primary", "Guarantor"] }))
        .expect("options");
    for (configured, expected) in [
        (false, vec![Value::Null, Value::Null]),
        (true, vec![json!("Primary"), json!("Guarantor")]),
    ] {
        let sandbox = start_with(config_with(|e| e.lead_customer_types = configured)).await;
        let submitted = sandbox
            .control()
            .submit_application(&options)
            .await
            .expect("submitted");
        let params =
            json!({ "propertyId": submitted.property_id, "leadId": submitted.application_id });
        let (_, _, body) = entrata(&sandbox, "leads", "getLeads", params).await;
        let customers =
            as_list(&body["response"]["result"]["prospects"]["prospect"]["customers"]["customer"]);
        let types: Vec<Value> = customers
            .iter()
            .map(|c| c["customerType"].clone())
            .collect();
        assert_eq!(types, expected, "lead_customer_types = {configured}");
    }
}
