//! The provider clients over real sockets: fake OpenAI and Anthropic servers on 127.0.0.1
//! speaking the real wire formats (JSON and SSE), and what goes up and comes back: the
//! translated body, the key header, answers, streams, retries and their waits, timeouts,
//! cut streams, cancellation and fallbacks. Round-trip property tests of the translations
//! close the file.

#[path = "common/fake_provider.rs"]
mod fake_provider;

use std::sync::Once;
use std::time::{Duration, Instant};

use fake_provider::{anthropic_event, openai_data, FakeProvider, Reply};
use futures_util::StreamExt;
use serde_json::{json, Value};
use switchyard::clients::fallback::SkipReason;
use switchyard::clients::{
    anthropic, chat_stream_with_fallbacks, chat_with_fallbacks, openai, CallError, ChatEvent,
    ChatMessage, ChatRequest, ChatRole, Endpoint, Part, ProviderClient, RetryPolicy, StopReason,
    TokenUsage, ToolChoice, ToolDefinition, WireFormat,
};

const OPENAI_KEY_VAR: &str = "SWITCHYARD_TEST_OPENAI_KEY";
const ANTHROPIC_KEY_VAR: &str = "SWITCHYARD_TEST_ANTHROPIC_KEY";
const EMPTY_KEY_VAR: &str = "SWITCHYARD_TEST_EMPTY_KEY";
const OPENAI_KEY: &str = "sk-test-openai-0123456789";
const ANTHROPIC_KEY: &str = "sk-ant-test-9876543210";

/// Sets the test keys once, before any client reads them (each test names its own
/// variables, so no test changes what another reads).
fn keys() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var(OPENAI_KEY_VAR, OPENAI_KEY);
        std::env::set_var(ANTHROPIC_KEY_VAR, ANTHROPIC_KEY);
        std::env::set_var(EMPTY_KEY_VAR, "");
    });
}

/// Retries with waits short enough for tests.
fn quick(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base: Duration::from_millis(20),
        cap: Duration::from_secs(60),
    }
}

fn openai_client(fake: &FakeProvider, key: &str) -> ProviderClient {
    keys();
    let endpoint = Endpoint::new(key, WireFormat::Openai, format!("{key}-id"))
        .base_url(fake.url("/v1/"))
        .api_key_env(OPENAI_KEY_VAR)
        .retry(quick(2));
    ProviderClient::new(endpoint).unwrap()
}

fn anthropic_client(fake: &FakeProvider, key: &str) -> ProviderClient {
    keys();
    let endpoint = Endpoint::new(key, WireFormat::Anthropic, format!("{key}-id"))
        .base_url(fake.url(""))
        .api_key_env(ANTHROPIC_KEY_VAR)
        .retry(quick(2));
    ProviderClient::new(endpoint).unwrap()
}

fn hello() -> ChatRequest {
    ChatRequest {
        system: Some("Be brief.".into()),
        max_output_tokens: Some(100),
        ..ChatRequest::new(vec![ChatMessage::user("Hello?")])
    }
}

fn openai_answer(text: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000,
        "model": "gpt-test", "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": null},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 8, "total_tokens": 128,
                  "prompt_tokens_details": {"cached_tokens": 100, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0}}
    })
}

fn anthropic_answer(text: &str) -> Value {
    json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 20, "output_tokens": 9,
                  "cache_creation_input_tokens": 30, "cache_read_input_tokens": 50}
    })
}

fn ok(body: Value) -> Reply {
    Reply::Json(200, body, vec![])
}

fn status(code: u16) -> Reply {
    Reply::Json(
        code,
        json!({"error": {"message": format!("status {code}"), "type": "server_error"}}),
        vec![],
    )
}

// ---------------------------------------------------------------------------------------
// Plain answers and the bytes sent upstream

#[tokio::test]
async fn openai_call_sends_the_translated_body_with_a_bearer_key_and_reads_cached_usage() {
    let fake = FakeProvider::start(vec![ok(openai_answer("Hi."))]).await;
    let client = openai_client(&fake, "gpt");
    let answer = client.chat(&hello()).await.unwrap();

    assert_eq!(answer.text(), "Hi.");
    assert_eq!(answer.stop_reason, Some(StopReason::EndTurn));
    assert_eq!(
        answer.usage,
        Some(TokenUsage {
            input_tokens: 120,
            output_tokens: 8,
            cached_input_tokens: 100,
            cache_write_tokens: 0
        })
    );
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(
        seen[0].headers["authorization"],
        format!("Bearer {OPENAI_KEY}").as_str()
    );
    assert_eq!(
        seen[0].body,
        json!({
            "model": "gpt-id",
            "messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "Hello?"}],
            "max_completion_tokens": 100,
        })
    );
}

#[tokio::test]
async fn anthropic_call_sends_version_and_key_headers_and_totals_cached_input() {
    let fake = FakeProvider::start(vec![ok(anthropic_answer("Hi."))]).await;
    let client = anthropic_client(&fake, "claude");
    let answer = client.chat(&hello()).await.unwrap();

    assert_eq!(answer.text(), "Hi.");
    // Anthropic counts cache reads and writes apart; the canonical input is the total.
    assert_eq!(
        answer.usage,
        Some(TokenUsage {
            input_tokens: 100,
            output_tokens: 9,
            cached_input_tokens: 50,
            cache_write_tokens: 30
        })
    );
    let seen = fake.seen();
    assert_eq!(seen[0].path, "/v1/messages");
    assert_eq!(seen[0].headers["x-api-key"], ANTHROPIC_KEY);
    assert_eq!(seen[0].headers["anthropic-version"], "2023-06-01");
    assert!(seen[0].headers.get("authorization").is_none());
    assert_eq!(
        seen[0].body,
        json!({
            "model": "claude-id", "max_tokens": 100, "system": "Be brief.",
            "messages": [{"role": "user", "content": "Hello?"}],
        })
    );
}

#[tokio::test]
async fn anthropic_max_tokens_is_the_requests_else_the_models_else_4096() {
    let fake =
        FakeProvider::start(vec![ok(anthropic_answer("a")), ok(anthropic_answer("b"))]).await;
    let request = ChatRequest::new(vec![ChatMessage::user("x")]);
    anthropic_client(&fake, "c").chat(&request).await.unwrap();
    let mut endpoint = anthropic_client(&fake, "c").endpoint().clone();
    endpoint.max_output_tokens = Some(777);
    ProviderClient::new(endpoint)
        .unwrap()
        .chat(&request)
        .await
        .unwrap();
    let seen = fake.seen();
    assert_eq!(seen[0].body["max_tokens"], 4096);
    assert_eq!(seen[1].body["max_tokens"], 777);
}

#[tokio::test]
async fn json_output_is_a_response_format_for_openai_and_a_prefill_for_anthropic() {
    let json_request = ChatRequest {
        json_output: true,
        ..ChatRequest::new(vec![ChatMessage::user("Give me JSON.")])
    };
    let fake = FakeProvider::start(vec![
        ok(openai_answer("{\"a\":1}")),
        ok(anthropic_answer("\"a\":1}")),
    ])
    .await;
    let from_openai = openai_client(&fake, "gpt")
        .chat(&json_request)
        .await
        .unwrap();
    let from_anthropic = anthropic_client(&fake, "claude")
        .chat(&json_request)
        .await
        .unwrap();
    assert_eq!(from_openai.text(), "{\"a\":1}");
    // Anthropic continues the `{` it was given; the caller gets the whole object.
    assert_eq!(from_anthropic.text(), "{\"a\":1}");
    let seen = fake.seen();
    assert_eq!(
        seen[0].body["response_format"],
        json!({"type": "json_object"})
    );
    assert_eq!(
        seen[1].body["messages"],
        json!([{"role": "user", "content": "Give me JSON."}, {"role": "assistant", "content": "{"}])
    );
}

#[tokio::test]
async fn a_model_without_api_key_env_sends_no_key() {
    let fake = FakeProvider::start(vec![ok(openai_answer("local"))]).await;
    let endpoint = Endpoint::new("local", WireFormat::Openai, "llama").base_url(fake.url("/v1"));
    let answer = ProviderClient::new(endpoint)
        .unwrap()
        .chat(&hello())
        .await
        .unwrap();
    assert_eq!(answer.text(), "local");
    assert!(fake.seen()[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn a_missing_or_empty_key_variable_fails_naming_it_and_sends_nothing() {
    keys();
    let fake = FakeProvider::start(vec![]).await;
    for var in ["SWITCHYARD_TEST_NEVER_SET", EMPTY_KEY_VAR] {
        let endpoint = Endpoint::new("m", WireFormat::Openai, "m")
            .base_url(fake.url("/v1"))
            .api_key_env(var);
        let err = ProviderClient::new(endpoint)
            .unwrap()
            .chat(&hello())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "missing_api_key");
        assert!(err.to_string().contains(var), "{err}");
    }
    assert!(fake.seen().is_empty());
}

#[tokio::test]
async fn the_key_never_shows_in_debug_output_or_errors() {
    let fake = FakeProvider::start(vec![status(401)]).await;
    let client = openai_client(&fake, "gpt");
    let err = client.chat(&hello()).await.unwrap_err();
    for text in [
        format!("{client:?}"),
        format!("{err:?}"),
        err.to_string(),
        format!("{:?}", client.endpoint()),
    ] {
        assert!(!text.contains(OPENAI_KEY), "{text}");
    }
    assert_eq!(err.kind(), "provider_error");
}

// ---------------------------------------------------------------------------------------
// Tool calls

#[tokio::test]
async fn openai_tool_calls_and_results_translate_both_ways() {
    let answer = json!({
        "id": "chatcmpl-2", "object": "chat.completion", "created": 1, "model": "gpt-test",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null,
            "tool_calls": [{"id": "call_1", "type": "function",
                            "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]}}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}
    });
    let fake = FakeProvider::start(vec![ok(answer)]).await;
    let request = ChatRequest {
        messages: vec![
            ChatMessage::user("Weather in Paris and Rome?"),
            ChatMessage {
                role: ChatRole::Assistant,
                content: vec![Part::ToolCall {
                    id: "call_0".into(),
                    name: "weather".into(),
                    arguments: "{\"city\":\"Rome\"}".into(),
                }],
            },
            ChatMessage::tool_result("call_0", "sunny"),
        ],
        tools: vec![ToolDefinition {
            name: "weather".into(),
            description: Some("Current weather".into()),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
        }],
        tool_choice: Some(ToolChoice::Auto),
        ..ChatRequest::default()
    };
    let got = openai_client(&fake, "gpt").chat(&request).await.unwrap();
    assert_eq!(got.stop_reason, Some(StopReason::ToolUse));
    assert_eq!(
        got.content,
        vec![Part::ToolCall {
            id: "call_1".into(),
            name: "weather".into(),
            arguments: "{\"city\":\"Paris\"}".into()
        }]
    );
    let body = &fake.seen()[0].body;
    assert_eq!(
        body["messages"][1],
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_0", "type": "function",
               "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}]})
    );
    assert_eq!(
        body["messages"][2],
        json!({"role": "tool", "tool_call_id": "call_0", "content": "sunny"})
    );
    assert_eq!(
        body["tools"][0],
        json!({"type": "function", "function": {"name": "weather", "description": "Current weather",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}})
    );
    assert_eq!(body["tool_choice"], "auto");
}

#[tokio::test]
async fn anthropic_tool_use_and_thinking_blocks_translate_and_thinking_is_not_passed_to_openai_callers(
) {
    let answer = json!({
        "id": "msg_2", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [
            {"type": "thinking", "thinking": "The user wants weather.", "signature": "sig=="},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 40, "output_tokens": 30}
    });
    let fake = FakeProvider::start(vec![ok(answer)]).await;
    let request = ChatRequest {
        reasoning: Some(switchyard::clients::Reasoning::High),
        max_output_tokens: Some(3000),
        messages: vec![
            ChatMessage::user("Weather?"),
            ChatMessage {
                role: ChatRole::Assistant,
                content: vec![Part::ToolCall {
                    id: "toolu_0".into(),
                    name: "weather".into(),
                    arguments: "{\"city\":\"Rome\"}".into(),
                }],
            },
            ChatMessage::tool_result("toolu_0", "sunny"),
        ],
        tool_choice: Some(ToolChoice::Required),
        ..ChatRequest::default()
    };
    let got = anthropic_client(&fake, "claude")
        .chat(&request)
        .await
        .unwrap();
    assert_eq!(got.stop_reason, Some(StopReason::ToolUse));
    assert_eq!(got.content.len(), 3);
    assert!(matches!(&got.content[0], Part::Thinking { signature: Some(s), .. } if s == "sig=="));
    assert_eq!(got.text(), "Checking.");

    let body = &fake.seen()[0].body;
    // High reasoning is 4096 budget tokens, kept below max_tokens.
    assert_eq!(
        body["thinking"],
        json!({"type": "enabled", "budget_tokens": 2999})
    );
    assert_eq!(body["tool_choice"], json!({"type": "any"}));
    assert_eq!(
        body["messages"][1]["content"][0],
        json!({"type": "tool_use", "id": "toolu_0", "name": "weather", "input": {"city": "Rome"}})
    );
    assert_eq!(
        body["messages"][2],
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_0", "content": "sunny"}]})
    );

    // The same answer handed to an OpenAI-format caller carries no thinking.
    let wire = openai::response_to_wire(&got, 0);
    assert_eq!(wire["choices"][0]["message"]["content"], "Checking.");
    assert_eq!(wire["choices"][0]["finish_reason"], "tool_calls");
    assert!(!wire.to_string().contains("The user wants weather"));
}

// ---------------------------------------------------------------------------------------
// Streams

fn openai_chunk(delta: Value, finish: Value) -> String {
    openai_data(&json!({
        "id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test",
        "system_fingerprint": "fp", "choices": [{"index": 0, "delta": delta, "logprobs": null,
        "finish_reason": finish}], "usage": null
    }))
}

fn openai_usage_chunk() -> String {
    openai_data(&json!({
        "id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test",
        "choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 5, "total_tokens": 35,
        "prompt_tokens_details": {"cached_tokens": 10}}
    }))
}

fn openai_text_stream() -> Vec<String> {
    vec![
        openai_chunk(
            json!({"role": "assistant", "content": "", "refusal": null}),
            Value::Null,
        ),
        openai_chunk(json!({"content": "Hel"}), Value::Null),
        openai_chunk(json!({"content": "lo"}), Value::Null),
        openai_chunk(json!({}), json!("stop")),
        openai_usage_chunk(),
        "data: [DONE]\n\n".into(),
    ]
}

#[tokio::test]
async fn an_openai_text_stream_arrives_event_by_event_with_usage() {
    let fake = FakeProvider::start(vec![Reply::Sse {
        pieces: openai_text_stream(),
        gap: Duration::ZERO,
        cut: false,
    }])
    .await;
    let mut stream = openai_client(&fake, "gpt")
        .chat_stream(&hello())
        .await
        .unwrap();
    let mut events = Vec::new();
    while let Some(e) = stream.next().await {
        events.push(e.unwrap());
    }
    assert_eq!(
        events,
        vec![
            ChatEvent::Start {
                id: "chatcmpl-s".into(),
                model: "gpt-test".into()
            },
            ChatEvent::Text {
                index: 0,
                text: "Hel".into()
            },
            ChatEvent::Text {
                index: 0,
                text: "lo".into()
            },
            ChatEvent::Stop {
                reason: StopReason::EndTurn
            },
            ChatEvent::Usage {
                usage: TokenUsage {
                    input_tokens: 30,
                    output_tokens: 5,
                    cached_input_tokens: 10,
                    cache_write_tokens: 0
                }
            },
        ]
    );
    let body = &fake.seen()[0].body;
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
}

#[tokio::test]
async fn an_openai_stream_of_tool_call_arguments_folds_into_the_call() {
    let pieces = vec![
        openai_chunk(
            json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": "call_9",
                   "type": "function", "function": {"name": "weather", "arguments": ""}}]}),
            Value::Null,
        ),
        openai_chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"ci"}}]}),
            Value::Null,
        ),
        openai_chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "ty\":\"Oslo\"}"}}]}),
            Value::Null,
        ),
        openai_chunk(json!({}), json!("tool_calls")),
        openai_usage_chunk(),
        "data: [DONE]\n\n".into(),
    ];
    let fake = FakeProvider::start(vec![Reply::Sse {
        pieces,
        gap: Duration::ZERO,
        cut: false,
    }])
    .await;
    let stream = openai_client(&fake, "gpt")
        .chat_stream(&hello())
        .await
        .unwrap();
    let answer = stream.collect_response().await.unwrap();
    assert_eq!(
        answer.content,
        vec![Part::ToolCall {
            id: "call_9".into(),
            name: "weather".into(),
            arguments: "{\"city\":\"Oslo\"}".into()
        }]
    );
    assert_eq!(answer.stop_reason, Some(StopReason::ToolUse));
}

fn anthropic_stream() -> Vec<String> {
    [
        json!({"type": "message_start", "message": {"id": "msg_s", "type": "message", "role": "assistant",
               "model": "claude-test", "content": [], "stop_reason": null, "stop_sequence": null,
               "usage": {"input_tokens": 25, "cache_creation_input_tokens": 0,
                         "cache_read_input_tokens": 100, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "ping"}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Let me "}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "check."}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use",
               "id": "toolu_s", "name": "weather", "input": {}}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": "}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"Oslo\"}"}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
               "usage": {"output_tokens": 42}}),
        json!({"type": "message_stop"}),
    ]
    .iter()
    .map(anthropic_event)
    .collect()
}

#[tokio::test]
async fn an_anthropic_stream_with_text_ping_and_tool_arguments_folds_into_the_answer() {
    let fake = FakeProvider::start(vec![Reply::Sse {
        pieces: anthropic_stream(),
        gap: Duration::ZERO,
        cut: false,
    }])
    .await;
    let stream = anthropic_client(&fake, "claude")
        .chat_stream(&hello())
        .await
        .unwrap();
    let answer = stream.collect_response().await.unwrap();
    assert_eq!(answer.id, "msg_s");
    assert_eq!(
        answer.content,
        vec![
            Part::text("Let me check."),
            Part::ToolCall {
                id: "toolu_s".into(),
                name: "weather".into(),
                arguments: "{\"city\": \"Oslo\"}".into()
            }
        ]
    );
    assert_eq!(answer.stop_reason, Some(StopReason::ToolUse));
    assert_eq!(
        answer.usage,
        Some(TokenUsage {
            input_tokens: 125,
            output_tokens: 42,
            cached_input_tokens: 100,
            cache_write_tokens: 0
        })
    );
    assert_eq!(fake.seen()[0].body["stream"], true);
}

#[tokio::test]
async fn stream_events_reach_the_caller_as_they_arrive_not_at_the_end() {
    let gap = Duration::from_millis(300);
    let fake = FakeProvider::start(vec![Reply::Sse {
        pieces: openai_text_stream(),
        gap,
        cut: false,
    }])
    .await;
    let start = Instant::now();
    let mut stream = openai_client(&fake, "gpt")
        .chat_stream(&hello())
        .await
        .unwrap();
    let first = stream.next().await.unwrap().unwrap();
    let first_at = start.elapsed();
    assert!(matches!(first, ChatEvent::Start { .. }));
    while let Some(e) = stream.next().await {
        e.unwrap();
    }
    let end_at = start.elapsed();
    // Six pieces 300 ms apart: the whole body takes 1.5 s, the first event much less.
    assert!(first_at < gap * 2, "first event after {first_at:?}");
    assert!(end_at >= gap * 5, "stream ended after {end_at:?}");
}

#[tokio::test]
async fn a_stream_cut_after_its_first_event_ends_with_stream_cut_and_is_not_retried() {
    let mut pieces = openai_text_stream();
    pieces.truncate(3); // start, "Hel", then the connection breaks
    let fake = FakeProvider::start(vec![Reply::Sse {
        pieces,
        // A gap lets the server flush each piece before it breaks the connection.
        gap: Duration::from_millis(50),
        cut: true,
    }])
    .await;
    let mut stream = openai_client(&fake, "gpt")
        .chat_stream(&hello())
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut error = None;
    while let Some(e) = stream.next().await {
        match e {
            Ok(e) => got.push(e),
            Err(e) => error = Some(e),
        }
    }
    assert_eq!(got.len(), 2, "{got:?}");
    let error = error.expect("a cut stream ends with an error");
    assert_eq!(error.kind(), "stream_cut", "{error}");
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn a_stream_that_breaks_before_its_first_event_is_retried() {
    let fake = FakeProvider::start(vec![
        Reply::Sse {
            pieces: vec![String::new()],
            gap: Duration::ZERO,
            cut: true,
        },
        Reply::Sse {
            pieces: anthropic_stream(),
            gap: Duration::ZERO,
            cut: false,
        },
    ])
    .await;
    let stream = anthropic_client(&fake, "claude")
        .chat_stream(&hello())
        .await
        .unwrap();
    let answer = stream.collect_response().await.unwrap();
    assert_eq!(answer.text(), "Let me check.");
    assert_eq!(fake.seen().len(), 2);
}

#[tokio::test]
async fn an_anthropic_stream_ended_without_message_stop_is_cut() {
    let mut pieces = anthropic_stream();
    pieces.truncate(5);
    let fake = FakeProvider::start(vec![Reply::Sse {
        pieces,
        gap: Duration::ZERO,
        cut: false,
    }])
    .await;
    let stream = anthropic_client(&fake, "claude")
        .chat_stream(&hello())
        .await
        .unwrap();
    let err = stream.collect_response().await.unwrap_err();
    assert_eq!(err.kind(), "stream_cut");
}

// ---------------------------------------------------------------------------------------
// Retries, waits and timeouts

#[tokio::test]
async fn a_429_is_retried_after_the_retry_after_seconds_it_asks_for() {
    let fake = FakeProvider::start(vec![
        Reply::Json(
            429,
            json!({"error": {"message": "slow down"}}),
            vec![("retry-after", "1".into())],
        ),
        ok(openai_answer("done")),
    ])
    .await;
    let answer = openai_client(&fake, "gpt").chat(&hello()).await.unwrap();
    assert_eq!(answer.text(), "done");
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test]
async fn retry_after_ms_is_honoured() {
    let fake = FakeProvider::start(vec![
        Reply::Json(
            429,
            json!({"error": {"message": "slow down"}}),
            vec![
                ("retry-after-ms", "300".into()),
                ("retry-after", "30".into()),
            ],
        ),
        ok(anthropic_answer("done")),
    ])
    .await;
    anthropic_client(&fake, "claude")
        .chat(&hello())
        .await
        .unwrap();
    let seen = fake.seen();
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= Duration::from_millis(290) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
}

#[tokio::test]
async fn server_errors_are_retried_with_growing_waits_up_to_max_retries() {
    let fake =
        FakeProvider::start(vec![status(500), status(503), ok(openai_answer("third"))]).await;
    let answer = openai_client(&fake, "gpt").chat(&hello()).await.unwrap();
    assert_eq!(answer.text(), "third");
    let seen = fake.seen();
    assert_eq!(seen.len(), 3);
    // Base 20 ms: the first wait is 15–20 ms, the second 30–40 ms.
    let first = seen[1].at - seen[0].at;
    let second = seen[2].at - seen[1].at;
    assert!(first >= Duration::from_millis(15), "{first:?}");
    assert!(second >= Duration::from_millis(30), "{second:?}");

    let fake = FakeProvider::start(vec![status(500), status(502), status(503), status(504)]).await;
    let err = openai_client(&fake, "gpt")
        .chat(&hello())
        .await
        .unwrap_err();
    assert_eq!(fake.seen().len(), 3, "one try and two retries");
    assert!(
        matches!(err, CallError::Status { status: 503, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn statuses_that_another_try_cannot_fix_are_not_retried() {
    for code in [400, 401, 404, 501] {
        let fake = FakeProvider::start(vec![status(code), ok(openai_answer("no"))]).await;
        let err = openai_client(&fake, "gpt")
            .chat(&hello())
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::Status { status, .. } if status == code));
        assert!(!err.is_retryable());
        assert_eq!(fake.seen().len(), 1, "status {code}");
    }
    for code in [408, 409] {
        let fake = FakeProvider::start(vec![status(code), ok(openai_answer("yes"))]).await;
        openai_client(&fake, "gpt").chat(&hello()).await.unwrap();
        assert_eq!(fake.seen().len(), 2, "status {code}");
    }
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    // Bind a port, then free it: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let endpoint = Endpoint::new("gone", WireFormat::Openai, "m")
        .base_url(format!("http://127.0.0.1:{port}/v1"))
        .retry(quick(2));
    let start = Instant::now();
    let err = ProviderClient::new(endpoint)
        .unwrap()
        .chat(&hello())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "provider_unreachable", "{err}");
    // Two waits: at least 15 + 30 ms.
    assert!(start.elapsed() >= Duration::from_millis(45));
}

#[tokio::test]
async fn an_answer_slower_than_the_timeout_is_a_timeout() {
    let fake = FakeProvider::start(vec![Reply::Slow(
        Duration::from_secs(5),
        openai_answer("late"),
    )])
    .await;
    let mut endpoint = openai_client(&fake, "gpt").endpoint().clone();
    endpoint.timeout = Duration::from_millis(200);
    endpoint.retry.max_retries = 0;
    let start = Instant::now();
    let err = ProviderClient::new(endpoint)
        .unwrap()
        .chat(&hello())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "provider_timeout", "{err}");
    assert!(err.is_retryable());
    assert!(start.elapsed() < Duration::from_secs(2));
}

// ---------------------------------------------------------------------------------------
// Cancellation

#[tokio::test]
async fn dropping_a_call_closes_the_upstream_connection() {
    let fake = FakeProvider::start(vec![Reply::Hang]).await;
    let client = openai_client(&fake, "gpt");
    let request = hello();
    let call = client.chat(&request);
    assert!(tokio::time::timeout(Duration::from_millis(200), call)
        .await
        .is_err());
    assert!(fake.wait_dropped(1, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn dropping_a_stream_closes_the_upstream_connection() {
    let pieces = openai_text_stream()[..2].to_vec();
    let fake = FakeProvider::start(vec![Reply::SseThenHang(pieces)]).await;
    let mut stream = openai_client(&fake, "gpt")
        .chat_stream(&hello())
        .await
        .unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    drop(stream);
    assert!(fake.wait_dropped(1, Duration::from_secs(5)).await);
}

// ---------------------------------------------------------------------------------------
// Fallbacks

#[tokio::test]
async fn a_failing_model_falls_back_past_weaker_and_over_budget_models() {
    let down = FakeProvider::start(vec![status(503)]).await;
    let up = FakeProvider::start(vec![ok(anthropic_answer("from the fallback"))]).await;
    let mut first = openai_client(&down, "primary").endpoint().clone();
    first.retry.max_retries = 0;
    let weak = openai_client(&up, "weak")
        .endpoint()
        .clone()
        .capabilities(&[]);
    let pricey = anthropic_client(&up, "pricey")
        .endpoint()
        .clone()
        .capabilities(&["injection_tested"]);
    let good = anthropic_client(&up, "good")
        .endpoint()
        .clone()
        .capabilities(&["injection_tested"]);
    let models: Vec<ProviderClient> = [first, weak, pricey, good]
        .into_iter()
        .map(|e| ProviderClient::new(e).unwrap())
        .collect();
    let required = vec!["injection_tested".to_owned()];
    let answered = chat_with_fallbacks(&models, &required, &hello(), |e, _| e.key != "pricey")
        .await
        .unwrap();
    assert_eq!(answered.model, "good");
    assert_eq!(answered.answer.text(), "from the fallback");
    assert_eq!(answered.trail.fallback_from, vec!["primary"]);
    let skipped: Vec<(&str, &SkipReason)> = answered
        .trail
        .skipped
        .iter()
        .map(|s| (s.model.as_str(), &s.reason))
        .collect();
    assert_eq!(
        skipped,
        vec![
            (
                "weak",
                &SkipReason::MissingCapabilities(vec!["injection_tested".into()])
            ),
            ("pricey", &SkipReason::OverBudget),
        ]
    );
    // The fallback was sent its own model id, in its own format.
    assert_eq!(up.seen()[0].body["model"], "good-id");
    assert_eq!(up.seen()[0].path, "/v1/messages");
}

#[tokio::test]
async fn an_error_another_model_cannot_fix_does_not_fall_back() {
    let bad = FakeProvider::start(vec![status(400)]).await;
    let spare = FakeProvider::start(vec![ok(openai_answer("spare"))]).await;
    let models = vec![openai_client(&bad, "a"), openai_client(&spare, "b")];
    let err = chat_with_fallbacks(&models, &[], &hello(), |_, _| true)
        .await
        .unwrap_err();
    assert_eq!(err.model, "a");
    assert_eq!(err.trail.fallback_from, vec!["a"]);
    assert!(spare.seen().is_empty());
}

#[tokio::test]
async fn when_every_model_fails_the_last_error_is_reported_with_the_trail() {
    let down = FakeProvider::start(vec![status(503), status(502)]).await;
    let mut a = openai_client(&down, "a").endpoint().clone();
    a.retry.max_retries = 0;
    let mut b = openai_client(&down, "b").endpoint().clone();
    b.retry.max_retries = 0;
    let models = vec![
        ProviderClient::new(a).unwrap(),
        ProviderClient::new(b).unwrap(),
    ];
    let err = chat_with_fallbacks(&models, &[], &hello(), |_, _| true)
        .await
        .unwrap_err();
    assert_eq!(err.model, "b");
    assert!(matches!(err.error, CallError::Status { status: 502, .. }));
    assert_eq!(err.trail.fallback_from, vec!["a", "b"]);
}

#[tokio::test]
async fn a_stream_falls_back_before_its_first_event() {
    let down = FakeProvider::start(vec![status(529)]).await;
    let up = FakeProvider::start(vec![Reply::Sse {
        pieces: openai_text_stream(),
        gap: Duration::ZERO,
        cut: false,
    }])
    .await;
    let mut a = anthropic_client(&down, "a").endpoint().clone();
    a.retry.max_retries = 0;
    let models = vec![ProviderClient::new(a).unwrap(), openai_client(&up, "b")];
    let answered = chat_stream_with_fallbacks(&models, &[], &hello(), |_, _| true)
        .await
        .unwrap();
    assert_eq!(answered.model, "b");
    let answer = answered.answer.collect_response().await.unwrap();
    assert_eq!(answer.text(), "Hello");
}

// ---------------------------------------------------------------------------------------
// What a format cannot express

#[tokio::test]
async fn an_inexpressible_field_is_unsupported_parameter_naming_it_and_nothing_is_sent() {
    let fake = FakeProvider::start(vec![]).await;
    // OpenAI-only fields (kept raw from an OpenAI caller) cannot go to Anthropic.
    let from_openai = openai::request_from_wire(&json!({
        "model": "x", "messages": [{"role": "user", "content": "hi"}], "logit_bias": {"50256": -100}
    }))
    .unwrap();
    let err = anthropic_client(&fake, "claude")
        .chat(&from_openai)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "unsupported_parameter");
    assert!(err.to_string().contains("logit_bias"), "{err}");
    // OpenAI cannot mark a tool result as an error.
    let mut failed = ChatMessage::tool_result("call_1", "boom");
    if let Part::ToolResult { is_error, .. } = &mut failed.content[0] {
        *is_error = true;
    }
    let request = ChatRequest::new(vec![failed]);
    let err = openai_client(&fake, "gpt")
        .chat(&request)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "unsupported_parameter");
    assert!(err.to_string().contains("is_error"), "{err}");
    assert!(fake.seen().is_empty());
}

#[test]
fn extra_fields_go_to_an_upstream_of_their_own_format() {
    let request = anthropic::request_from_wire(&json!({
        "model": "x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
        "metadata": {"user_id": "u1"}, "top_k": 5
    }))
    .unwrap();
    let wire = anthropic::request_to_wire(&request, "claude", false, None).unwrap();
    assert_eq!(wire["metadata"], json!({"user_id": "u1"}));
    assert_eq!(wire["top_k"], 5);
    let err = openai::request_to_wire(&request, "gpt", false).unwrap_err();
    assert_eq!(
        err,
        CallError::UnsupportedParameter {
            field: "metadata".into(),
            format: "openai"
        }
    );
}

#[test]
fn reasoning_that_cannot_fit_below_max_tokens_is_refused_for_anthropic() {
    let request = ChatRequest {
        reasoning: Some(switchyard::clients::Reasoning::Low),
        max_output_tokens: Some(800),
        ..ChatRequest::new(vec![ChatMessage::user("hi")])
    };
    let err = anthropic::request_to_wire(&request, "c", false, None).unwrap_err();
    assert_eq!(err.kind(), "unsupported_parameter");
    assert!(err.to_string().contains("reasoning"));
    let wire = openai::request_to_wire(&request, "g", false).unwrap();
    assert_eq!(wire["reasoning_effort"], "low");
}

#[test]
fn malformed_wire_requests_are_errors_naming_the_field_not_panics() {
    for body in [
        json!(null),
        json!({"messages": 3}),
        json!({"messages": [{"role": "user", "content": 5}]}),
        json!({"messages": [{"role": "assistant", "tool_calls": [{"id": 1}]}]}),
        json!({"messages": [], "max_tokens": -1}),
        json!({"messages": [], "tool_choice": {"x": 1}}),
    ] {
        let err = openai::request_from_wire(&body).unwrap_err();
        assert!(
            matches!(err.kind(), "invalid_request" | "unsupported_parameter"),
            "{body}: {err}"
        );
        let err = anthropic::request_from_wire(&body).unwrap_err();
        assert!(
            matches!(err.kind(), "invalid_request" | "unsupported_parameter"),
            "{body}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Round trips: canonical -> wire -> canonical is the identity for what a format expresses

mod round_trip {
    use proptest::prelude::*;
    use serde_json::json;
    use switchyard::clients::{
        anthropic, openai, ChatEvent, ChatMessage, ChatRequest, ChatResponse, ChatRole, Part,
        Reasoning, ResponseBuilder, StopReason, TokenUsage, ToolChoice, ToolDefinition,
    };

    fn text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 ,.!?é\"\\\\\n]{0,20}"
    }

    fn name() -> impl Strategy<Value = String> {
        "[a-z_]{1,10}"
    }

    fn arguments() -> impl Strategy<Value = String> {
        // Compact JSON objects, as a model writes them and as serde writes them back.
        prop::collection::btree_map(
            "[a-z]{1,5}",
            prop_oneof![
                any::<i32>().prop_map(|n| json!(n)),
                text().prop_map(|s| json!(s)),
                any::<bool>().prop_map(|b| json!(b)),
            ],
            0..3,
        )
        .prop_map(|m| serde_json::to_string(&m).unwrap())
    }

    fn tool_call() -> impl Strategy<Value = Part> {
        (name(), name(), arguments()).prop_map(|(id, name, arguments)| Part::ToolCall {
            id,
            name,
            arguments,
        })
    }

    /// Messages both formats express: user text, assistant text then tool calls, tool
    /// messages with one result.
    fn message(thinking: bool, errors: bool) -> impl Strategy<Value = ChatMessage> {
        prop_oneof![
            prop::collection::vec(text(), 1..3).prop_map(|t| ChatMessage {
                role: ChatRole::User,
                content: t.into_iter().map(Part::text).collect(),
            }),
            (
                prop::option::of((text(), proptest::option::of(name()))),
                prop::collection::vec(text(), 0..2),
                prop::collection::vec(tool_call(), 0..3)
            )
                .prop_filter("an assistant message says something", |(_, t, c)| {
                    !t.is_empty() || !c.is_empty()
                })
                .prop_map(move |(th, t, c)| {
                    let mut content = Vec::new();
                    if thinking {
                        if let Some((text, signature)) = th {
                            content.push(Part::Thinking { text, signature });
                        }
                    }
                    content.extend(t.into_iter().map(Part::text));
                    content.extend(c);
                    ChatMessage {
                        role: ChatRole::Assistant,
                        content,
                    }
                }),
            (name(), text(), any::<bool>()).prop_map(move |(id, content, e)| ChatMessage {
                role: ChatRole::Tool,
                content: vec![Part::ToolResult {
                    tool_call_id: id,
                    content,
                    is_error: errors && e,
                }],
            }),
        ]
    }

    fn tool() -> impl Strategy<Value = ToolDefinition> {
        (name(), prop::option::of(text())).prop_map(|(name, description)| ToolDefinition {
            name,
            description,
            parameters: json!({"type": "object", "properties": {"q": {"type": "string"}}}),
        })
    }

    fn tool_choice() -> impl Strategy<Value = ToolChoice> {
        prop_oneof![
            Just(ToolChoice::Auto),
            Just(ToolChoice::None),
            Just(ToolChoice::Required),
            name().prop_map(ToolChoice::Tool),
        ]
    }

    fn reasoning() -> impl Strategy<Value = Reasoning> {
        prop_oneof![
            Just(Reasoning::Low),
            Just(Reasoning::Medium),
            Just(Reasoning::High)
        ]
    }

    fn openai_request() -> impl Strategy<Value = ChatRequest> {
        (
            prop::option::of(text()),
            prop::collection::vec(message(false, false), 0..5),
            prop::collection::vec(tool(), 0..3),
            prop::option::of(tool_choice()),
            prop::collection::vec(text(), 0..3),
            prop::option::of(0u32..8),
            prop::option::of(0u32..4),
            prop::option::of(1u64..100_000),
            any::<bool>(),
            prop::option::of(reasoning()),
        )
            .prop_map(
                |(
                    system,
                    messages,
                    tools,
                    tool_choice,
                    stop,
                    t,
                    p,
                    max,
                    json_output,
                    reasoning,
                )| {
                    ChatRequest {
                        model: "m".into(),
                        system,
                        messages,
                        tools,
                        tool_choice,
                        stop,
                        temperature: t.map(|t| f64::from(t) / 4.0),
                        top_p: p.map(|p| f64::from(p) / 4.0),
                        max_output_tokens: max,
                        json_output,
                        reasoning,
                        extra: None,
                    }
                },
            )
    }

    fn anthropic_request() -> impl Strategy<Value = ChatRequest> {
        (
            prop::option::of(text()),
            prop::collection::vec(message(true, true), 0..5),
            prop::collection::vec(tool(), 0..3),
            prop::option::of(tool_choice()),
            prop::collection::vec(text(), 0..3),
            prop::option::of(0u32..4),
            prop::option::of(0u32..4),
            8192u64..100_000,
            prop::option::of(reasoning()),
        )
            .prop_map(
                |(system, messages, tools, tool_choice, stop, t, p, max, reasoning)| ChatRequest {
                    model: "m".into(),
                    system,
                    messages,
                    tools,
                    tool_choice,
                    stop,
                    temperature: t.map(|t| f64::from(t) / 4.0),
                    top_p: p.map(|p| f64::from(p) / 4.0),
                    max_output_tokens: Some(max),
                    json_output: false,
                    reasoning,
                    extra: None,
                },
            )
    }

    fn usage(cache_write: bool) -> impl Strategy<Value = TokenUsage> {
        (0u64..1_000_000, 0u64..100_000, 0u64..1_000, 0u64..1_000).prop_map(
            move |(input, output, cached, write)| TokenUsage {
                input_tokens: input + cached + if cache_write { write } else { 0 },
                output_tokens: output,
                cached_input_tokens: cached,
                cache_write_tokens: if cache_write { write } else { 0 },
            },
        )
    }

    fn stop_reason() -> impl Strategy<Value = StopReason> {
        prop_oneof![
            Just(StopReason::EndTurn),
            Just(StopReason::MaxTokens),
            Just(StopReason::ToolUse),
            Just(StopReason::ContentFilter),
        ]
    }

    fn openai_response() -> impl Strategy<Value = ChatResponse> {
        (
            prop::option::of("[a-zA-Z0-9 ]{1,30}"),
            prop::option::of("[a-zA-Z0-9 ]{1,30}"),
            prop::collection::vec(tool_call(), 0..3),
            stop_reason(),
            prop::option::of(usage(false)),
        )
            .prop_map(|(text, refusal, calls, stop, usage)| ChatResponse {
                id: "chatcmpl-1".into(),
                model: "gpt".into(),
                content: text
                    .into_iter()
                    .map(Part::text)
                    .chain(refusal.map(|text| Part::Refusal { text }))
                    .chain(calls)
                    .collect(),
                stop_reason: Some(stop),
                usage,
            })
    }

    fn anthropic_response() -> impl Strategy<Value = ChatResponse> {
        (
            prop::collection::vec(
                prop_oneof![
                    text().prop_map(Part::text),
                    tool_call(),
                    (text(), name()).prop_map(|(text, s)| Part::Thinking {
                        text,
                        signature: Some(s)
                    }),
                ],
                0..4,
            ),
            prop_oneof![stop_reason(), Just(StopReason::StopSequence)],
            usage(true),
        )
            .prop_map(|(content, stop, usage)| ChatResponse {
                id: "msg_1".into(),
                model: "claude".into(),
                content,
                stop_reason: Some(stop),
                usage: Some(usage),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn openai_requests_round_trip(req in openai_request()) {
            let wire = openai::request_to_wire(&req, "m", false).unwrap();
            prop_assert_eq!(openai::request_from_wire(&wire).unwrap(), req);
        }

        #[test]
        fn anthropic_requests_round_trip(req in anthropic_request()) {
            let wire = anthropic::request_to_wire(&req, "m", false, None).unwrap();
            prop_assert_eq!(anthropic::request_from_wire(&wire).unwrap(), req);
        }

        #[test]
        fn openai_responses_round_trip(resp in openai_response()) {
            let wire = openai::response_to_wire(&resp, 0);
            prop_assert_eq!(openai::response_from_wire(&wire).unwrap(), resp);
        }

        #[test]
        fn anthropic_responses_round_trip(resp in anthropic_response()) {
            let wire = anthropic::response_to_wire(&resp);
            prop_assert_eq!(anthropic::response_from_wire(&wire, None).unwrap(), resp);
        }

        /// Encoding an answer as a stream and decoding it again gives back the answer.
        #[test]
        fn openai_streams_round_trip(resp in openai_response()) {
            let events = events_of(&resp);
            let mut encoder = openai::StreamEncoder::new(0);
            let mut decoder = openai::StreamDecoder::new();
            let mut out = Vec::new();
            for e in &events {
                if let Some(chunk) = encoder.encode(e) {
                    decoder.decode(&chunk.to_string(), &mut out).unwrap();
                }
            }
            decoder.decode("[DONE]", &mut out).unwrap();
            prop_assert!(decoder.is_done());
            prop_assert_eq!(fold(&out), resp);
        }

        #[test]
        fn anthropic_streams_round_trip(resp in anthropic_response()) {
            let events = events_of(&resp);
            let mut encoder = anthropic::StreamEncoder::new();
            let mut wire = Vec::new();
            for e in &events {
                encoder.encode(e, &mut wire);
            }
            encoder.finish(&mut wire);
            let mut decoder = anthropic::StreamDecoder::new();
            let mut out = Vec::new();
            for (name, data) in &wire {
                prop_assert_eq!(data["type"].as_str(), Some(*name));
                decoder.decode(&data.to_string(), &mut out).unwrap();
            }
            prop_assert!(decoder.is_done());
            prop_assert_eq!(fold(&out), resp);
        }

        /// Another format's fields are refused by name, whatever they are.
        #[test]
        fn foreign_extra_fields_are_unsupported_parameters(key in "[a-z_]{1,12}") {
            prop_assume!(!["model", "messages", "max_tokens", "system", "tools", "tool_choice",
                "stop_sequences", "temperature", "top_p", "thinking", "stream"].contains(&key.as_str()));
            let req = anthropic::request_from_wire(&json!({
                "model": "m", "max_tokens": 5, "messages": [], key.clone(): 1
            })).unwrap();
            let err = openai::request_to_wire(&req, "m", false).unwrap_err();
            prop_assert_eq!(err.kind(), "unsupported_parameter");
            prop_assert!(err.to_string().contains(&key));
        }
    }

    /// The events a provider would stream for this answer: the answer's own events, each
    /// text cut in two, as a stream would send it.
    fn events_of(resp: &ChatResponse) -> Vec<ChatEvent> {
        let mut events = Vec::new();
        for event in resp.events() {
            match event {
                ChatEvent::Text { index, text } => {
                    let cut = text
                        .char_indices()
                        .nth(text.chars().count() / 2)
                        .map_or(0, |(i, _)| i);
                    for piece in [&text[..cut], &text[cut..]] {
                        events.push(ChatEvent::Text {
                            index,
                            text: piece.to_owned(),
                        });
                    }
                }
                other => events.push(other),
            }
        }
        events
    }

    fn fold(events: &[ChatEvent]) -> ChatResponse {
        let mut builder = ResponseBuilder::new();
        for e in events {
            builder.push(e);
        }
        builder.finish()
    }
}

/// A policy's `max_retries` and `timeout_seconds` reach the model's endpoint; without them
/// the defaults of clients.md hold.
#[test]
fn a_policy_models_retries_and_timeout_reach_its_endpoint() {
    let p = switchyard::policy::load_policy_text(
        std::path::Path::new("p.toml"),
        r#"[policy]
name = "p"
default_tier = "t"

[models.a]
provider = "openai"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 2.0
max_retries = 0
timeout_seconds = 1.5

[models.b]
provider = "anthropic"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 2.0

[tiers]
t = ["a", "b"]
"#,
    )
    .unwrap();
    let a = Endpoint::from_model(&p.models()[0]).unwrap();
    assert_eq!(a.retry.max_retries, 0);
    assert_eq!(a.timeout, Duration::from_millis(1500));
    let b = Endpoint::from_model(&p.models()[1]).unwrap();
    assert_eq!(b.retry.max_retries, 2);
    assert_eq!(b.timeout, Duration::from_secs(600));
}

// ---------------------------------------------------------------------------------------
// Refusals

const REFUSAL: &str = "I can't help with that.";

/// A refusal read from an OpenAI answer, plain or streamed, is kept: passed on to OpenAI
/// callers as `refusal`, and to Anthropic callers as text.
fn assert_refusal_is_kept(answer: &switchyard::clients::ChatResponse) {
    let wire = openai::response_to_wire(answer, 1);
    assert_eq!(wire["choices"][0]["message"]["refusal"], REFUSAL, "{wire}");
    assert_eq!(wire["choices"][0]["message"]["content"], Value::Null);
    let claude = anthropic::response_to_wire(answer);
    assert_eq!(
        claude["content"],
        json!([{"type": "text", "text": REFUSAL}]),
        "{claude}"
    );
}

#[tokio::test]
async fn an_openai_refusal_is_kept_for_both_kinds_of_caller() {
    let mut body = openai_answer("");
    body["choices"][0]["message"]["content"] = Value::Null;
    body["choices"][0]["message"]["refusal"] = json!(REFUSAL);
    let fake = FakeProvider::start(vec![ok(body)]).await;
    let answer = openai_client(&fake, "gpt").chat(&hello()).await.unwrap();
    assert_refusal_is_kept(&answer);
}

#[tokio::test]
async fn a_streamed_openai_refusal_is_kept_for_both_kinds_of_caller() {
    let pieces = vec![
        openai_chunk(
            json!({"role": "assistant", "content": null, "refusal": ""}),
            Value::Null,
        ),
        openai_chunk(json!({"refusal": "I can't "}), Value::Null),
        openai_chunk(json!({"refusal": "help with that."}), Value::Null),
        openai_chunk(json!({}), json!("stop")),
        openai_usage_chunk(),
        "data: [DONE]\n\n".into(),
    ];
    let fake = FakeProvider::start(vec![Reply::Sse {
        pieces,
        gap: Duration::ZERO,
        cut: false,
    }])
    .await;
    let mut stream = openai_client(&fake, "gpt")
        .chat_stream(&hello())
        .await
        .unwrap();
    let mut answer = switchyard::clients::ResponseBuilder::new();
    let mut events = Vec::new();
    while let Some(e) = stream.next().await {
        let e = e.unwrap();
        answer.push(&e);
        events.push(e);
    }
    assert_refusal_is_kept(&answer.finish());
    // Streamed back out, the refusal is a `delta.refusal` for OpenAI callers and a text
    // delta for Anthropic callers.
    let mut to_openai = openai::StreamEncoder::new(1);
    let deltas: Vec<Value> = events.iter().filter_map(|e| to_openai.encode(e)).collect();
    assert!(
        deltas
            .iter()
            .any(|d| d["choices"][0]["delta"]["refusal"] == "I can't "),
        "{deltas:?}"
    );
    let mut to_claude = anthropic::StreamEncoder::new();
    let mut out = Vec::new();
    for e in &events {
        to_claude.encode(e, &mut out);
    }
    let text: String = out
        .iter()
        .filter(|(name, _)| *name == "content_block_delta")
        .filter_map(|(_, v)| v["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, REFUSAL);
}
