//! Fallbacks over a tier's ordered model list (clients.md): the first model is the tier's;
//! when it still fails with a retryable error after its retries, the next is tried, passing
//! over any that lacks a capability a guard required or whose worst case does not fit the
//! budget. The answer names the model that gave it and the models that failed before it.

use super::chat::{ChatRequest, ChatResponse};
use super::error::CallError;
use super::http::{Endpoint, ProviderClient};
use super::stream::ChatStream;

/// Why a fallback model was passed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// It lacks these capabilities, required by a guard that held for the step.
    MissingCapabilities(Vec<String>),
    /// Its worst case does not fit the budget.
    OverBudget,
}

/// A model passed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its key in `[models]`.
    pub model: String,
    /// Why.
    pub reason: SkipReason,
}

/// What the models of a fallback list did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FallbackTrail {
    /// The models that were tried and failed, in order (the call record's `fallback_from`).
    pub fallback_from: Vec<String>,
    /// The models passed over, in order.
    pub skipped: Vec<Skipped>,
}

/// An answer and the model that gave it.
#[derive(Debug)]
pub struct Answered<T> {
    /// The answer (a [`ChatResponse`] or a [`ChatStream`]).
    pub answer: T,
    /// The key of the model that answered.
    pub model: String,
    /// What happened before.
    pub trail: FallbackTrail,
}

/// Every model failed, or one failed in a way another model would not fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{model}: {error}")]
pub struct FallbackError {
    /// The last model tried (empty when the list was empty).
    pub model: String,
    /// Its error.
    pub error: CallError,
    /// What happened before (the failed model is the last of `fallback_from`).
    pub trail: FallbackTrail,
}

/// Asks the models in order until one answers (clients.md). `required` holds the
/// capabilities that the guards which held for the step require; `fits_budget` says whether
/// a fallback model's worst case fits the budget. The first model was chosen by the decision
/// (with its guards and budget already checked), so neither check passes it over.
///
/// Only a retryable failure (after the model's own retries) moves on to the next model; any
/// other error (a missing key, an unsupported parameter, a 400) is returned at once.
pub async fn chat_with_fallbacks(
    models: &[ProviderClient],
    required: &[String],
    request: &ChatRequest,
    fits_budget: impl FnMut(&Endpoint, &ChatRequest) -> bool,
) -> Result<Answered<ChatResponse>, FallbackError> {
    run(models, required, request, fits_budget, |client| {
        client.chat(request)
    })
    .await
}

/// [`chat_with_fallbacks`] for a stream: a model counts as answering once its first event
/// arrived; after that the stream is the caller's and is never switched to another model.
pub async fn chat_stream_with_fallbacks(
    models: &[ProviderClient],
    required: &[String],
    request: &ChatRequest,
    fits_budget: impl FnMut(&Endpoint, &ChatRequest) -> bool,
) -> Result<Answered<ChatStream>, FallbackError> {
    run(models, required, request, fits_budget, |client| {
        client.chat_stream(request)
    })
    .await
}

async fn run<'a, T, F, Fut>(
    models: &'a [ProviderClient],
    required: &[String],
    request: &ChatRequest,
    mut fits_budget: impl FnMut(&Endpoint, &ChatRequest) -> bool,
    mut call: F,
) -> Result<Answered<T>, FallbackError>
where
    F: FnMut(&'a ProviderClient) -> Fut,
    Fut: std::future::Future<Output = Result<T, CallError>>,
{
    let mut trail = FallbackTrail::default();
    let mut last: Option<(String, CallError)> = None;
    for (i, client) in models.iter().enumerate() {
        let endpoint = client.endpoint();
        if i > 0 {
            let missing: Vec<String> = required
                .iter()
                .filter(|r| !endpoint.capabilities.contains(r))
                .cloned()
                .collect();
            let reason = if !missing.is_empty() {
                Some(SkipReason::MissingCapabilities(missing))
            } else if !fits_budget(endpoint, request) {
                Some(SkipReason::OverBudget)
            } else {
                None
            };
            if let Some(reason) = reason {
                trail.skipped.push(Skipped {
                    model: endpoint.key.clone(),
                    reason,
                });
                continue;
            }
        }
        match call(client).await {
            Ok(answer) => {
                return Ok(Answered {
                    answer,
                    model: endpoint.key.clone(),
                    trail,
                })
            }
            Err(error) => {
                trail.fallback_from.push(endpoint.key.clone());
                let retryable = error.is_retryable();
                if !retryable {
                    return Err(FallbackError {
                        model: endpoint.key.clone(),
                        error,
                        trail,
                    });
                }
                tracing::warn!(model = %endpoint.key, %error, "model failed; trying the next in its tier");
                last = Some((endpoint.key.clone(), error));
            }
        }
    }
    let (model, error) = last.unwrap_or_else(|| {
        (
            String::new(),
            CallError::InvalidRequest("no model could take the call".into()),
        )
    });
    Err(FallbackError {
        model,
        error,
        trail,
    })
}
