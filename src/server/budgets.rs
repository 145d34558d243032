//! `GET /v1/budgets`: every counter of the loaded policies' caps — cap, committed, held and
//! remaining, in exact dollars — as the budget store holds it now (docs/fleet.md). A store
//! that cannot be reached is a 503 `budget_store_unavailable`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::{ApiError, Format};
use super::AppState;
use crate::runner::budget::{self, BudgetStore, PolicyCaps};

/// `GET /v1/budgets`.
pub(super) async fn budgets(State(state): State<AppState>) -> Response {
    let caps = PolicyCaps::of_set(&state.policies());
    let store = state.budget_store();
    match store.status(&caps).await {
        Ok(counters) => Json(budget::status_json(store.kind_name(), &counters)).into_response(),
        Err(e) => {
            tracing::warn!(target: "switchyard::budget", error = %e, "the budget counters could not be read");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "budget_store_unavailable",
                e.to_string(),
            )
            .into_response_as(Format::OpenAi)
        }
    }
}
