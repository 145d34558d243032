//! How a chat request becomes a step: the features the caller gives (the body's `switchyard`
//! object or the `x-switchyard-step` header) and the ones derived from the request itself
//! (tokens, JSON output, reasoning, tool output, the chain of dependent tool calls), for
//! OpenAI Chat Completions and Anthropic Messages bodies alike. Pure functions over JSON.

use serde_json::{Map, Value};

use crate::policy::Tokenizer;
use crate::step::{Step, STEP_FIELDS};

/// Which chat format a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatFormat {
    /// OpenAI Chat Completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

/// Step fields a request may not give: the workload is the request's `model`, and the text
/// is the request's messages.
const NOT_ALLOWED: &[&str] = &["workload", "prompt"];

/// Why the step features are not valid: a sentence naming the field, and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureError {
    /// What is wrong, naming the field.
    pub message: String,
    /// Where the features were read: `switchyard` (the body) or `x-switchyard-step`.
    pub param: &'static str,
}

/// Where the caller's step features come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    /// The body's `switchyard` object (already taken out of the body).
    Body(&'a Value),
    /// The `x-switchyard-step` header's bytes.
    Header(&'a [u8]),
    /// Neither was given.
    None,
}

/// Builds the step for a chat request to `workload`: the caller's features, then each field
/// it left out derived from the body. The caller's object is checked first: an unknown field,
/// a wrong type, `workload` or `prompt`, or no `role` is an error naming the field.
pub fn step_for_request(
    source: Source<'_>,
    body: &Map<String, Value>,
    format: ChatFormat,
    workload: &str,
    tokenizer: Tokenizer,
) -> Result<Step, FeatureError> {
    let (given, param) = match source {
        Source::Body(v) => (v.clone(), "switchyard"),
        Source::Header(bytes) => {
            let v = serde_json::from_slice::<Value>(bytes).map_err(|e| FeatureError {
                message: format!(
                    "the x-switchyard-step header is not valid JSON (column {}): {e}",
                    e.column()
                ),
                param: "x-switchyard-step",
            })?;
            (v, "x-switchyard-step")
        }
        Source::None => {
            return Err(FeatureError {
                message:
                    "missing field `role`: give the step's features in the body's `switchyard` \
                          object or the x-switchyard-step header, e.g. {\"role\": \"summarize\"}"
                        .into(),
                param: "switchyard",
            })
        }
    };
    let fail = |message: String| FeatureError { message, param };
    let Value::Object(mut map) = given else {
        return Err(fail(format!(
            "`{param}` must be a JSON object of step features, such as {{\"role\": \"summarize\"}}"
        )));
    };
    for key in map.keys() {
        if NOT_ALLOWED.contains(&key.as_str()) {
            return Err(fail(format!(
                "field `{key}` is not allowed in `{param}`: the workload is the request's `model` \
                 and the text is its messages"
            )));
        }
        if !STEP_FIELDS.contains(&key.as_str()) {
            let allowed: Vec<&str> = STEP_FIELDS
                .iter()
                .copied()
                .filter(|f| !NOT_ALLOWED.contains(f))
                .collect();
            return Err(fail(format!(
                "unknown field `{key}` in `{param}`; the step features are {}",
                allowed.join(", ")
            )));
        }
    }
    if !map.contains_key("role") {
        return Err(fail(format!(
            "missing field `role` in `{param}`: every step needs a role, such as \"summarize\""
        )));
    }
    // Derive only what the caller left out: their word wins (e.g. "untrusted_input": false).
    if !map.contains_key("input_tokens") {
        map.insert("input_tokens".into(), input_tokens(body, tokenizer).into());
    }
    if !map.contains_key("expected_output_tokens") {
        if let Some(n) = expected_output_tokens(body) {
            map.insert("expected_output_tokens".into(), n.into());
        }
    }
    let flags = [
        ("output_must_be_json", output_must_be_json(body, format)),
        (
            "needs_chain_of_thought",
            needs_chain_of_thought(body, format),
        ),
        ("untrusted_input", untrusted_input(body, format)),
    ];
    for (name, on) in flags {
        if !map.contains_key(name) {
            map.insert(name.into(), on.into());
        }
    }
    if !map.contains_key("dependent_tool_calls") {
        map.insert(
            "dependent_tool_calls".into(),
            dependent_tool_calls(body, format).into(),
        );
    }
    map.insert("workload".into(), workload.into());
    Step::from_value(&Value::Object(map)).map_err(|e| fail(format!("in `{param}`: {}", e.message)))
}

/// The request's text counted with the policy's tokenizer: system, every message's text,
/// tool calls' arguments, tool results and tool definitions.
pub fn input_tokens(body: &Map<String, Value>, tokenizer: Tokenizer) -> u64 {
    let text = request_text(body);
    if text.is_empty() {
        0
    } else {
        tokenizer.count(&text)
    }
}

/// Every piece of the request's text that the model reads, joined by newlines.
/// Both formats' shapes are read: a body holds one or the other.
pub fn request_text(body: &Map<String, Value>) -> String {
    let mut out = String::new();
    let mut push = |s: &str| {
        if !s.is_empty() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(s);
        }
    };
    // Anthropic's system prompt sits beside the messages; OpenAI's is a message.
    if let Some(system) = body.get("system") {
        content_text(system, &mut push);
    }
    for msg in messages(body) {
        if let Some(content) = msg.get("content") {
            content_text(content, &mut push);
        }
        // OpenAI: the assistant's tool calls, name and arguments.
        for call in array(msg.get("tool_calls")) {
            if let Some(f) = call.get("function") {
                push(str_of(f.get("name")));
                push(str_of(f.get("arguments")));
            }
        }
        if let Some(f) = msg.get("function_call") {
            push(str_of(f.get("name")));
            push(str_of(f.get("arguments")));
        }
    }
    // Tool definitions are sent to the model as their JSON.
    for tool in array(body.get("tools")) {
        push(&tool.to_string());
    }
    out
}

/// The text of a message's content: a string, or blocks (text, tool_use input, tool_result
/// content, thinking).
fn content_text(content: &Value, push: &mut impl FnMut(&str)) {
    match content {
        Value::String(s) => push(s),
        Value::Array(blocks) => {
            for b in blocks {
                match b {
                    Value::String(s) => push(s),
                    Value::Object(m) => {
                        push(str_of(m.get("text")));
                        push(str_of(m.get("thinking")));
                        if m.get("type").and_then(Value::as_str) == Some("tool_use") {
                            push(str_of(m.get("name")));
                            if let Some(input) = m.get("input") {
                                push(&input.to_string());
                            }
                        }
                        if m.get("type").and_then(Value::as_str) == Some("tool_result") {
                            if let Some(c) = m.get("content") {
                                content_text(c, push);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// `max_completion_tokens`, else `max_tokens`.
pub fn expected_output_tokens(body: &Map<String, Value>) -> Option<u64> {
    body.get("max_completion_tokens")
        .and_then(Value::as_u64)
        .or_else(|| body.get("max_tokens").and_then(Value::as_u64))
}

/// `response_format.type` is `json_object` or `json_schema` (Anthropic's structured output,
/// `output_format`, counts too).
pub fn output_must_be_json(body: &Map<String, Value>, format: ChatFormat) -> bool {
    let json_type = |key: &str| {
        matches!(
            body.get(key)
                .and_then(|f| f.get("type"))
                .and_then(Value::as_str),
            Some("json_object" | "json_schema")
        )
    };
    json_type("response_format") || (format == ChatFormat::Anthropic && json_type("output_format"))
}

/// OpenAI: `reasoning_effort` is `medium` or `high`; Anthropic: `thinking.type` is `enabled`.
pub fn needs_chain_of_thought(body: &Map<String, Value>, format: ChatFormat) -> bool {
    match format {
        ChatFormat::OpenAi => matches!(
            body.get("reasoning_effort").and_then(Value::as_str),
            Some("medium" | "high")
        ),
        ChatFormat::Anthropic => {
            body.get("thinking")
                .and_then(|t| t.get("type"))
                .and_then(Value::as_str)
                == Some("enabled")
        }
    }
}

/// The conversation holds a tool result: a `tool` (or legacy `function`) message, or a
/// `tool_result` block. Tool output is outside text until the caller says otherwise.
pub fn untrusted_input(body: &Map<String, Value>, format: ChatFormat) -> bool {
    messages(body).any(|m| match format {
        ChatFormat::OpenAi => matches!(role(m), "tool" | "function"),
        ChatFormat::Anthropic => blocks(m).any(|b| block_type(b) == "tool_result"),
    })
}

/// The tool calls the assistant made since the last user turn that carries text (a user turn
/// holding only tool results does not end the chain).
pub fn dependent_tool_calls(body: &Map<String, Value>, format: ChatFormat) -> u64 {
    let msgs: Vec<&Map<String, Value>> = messages(body).collect();
    let mut calls = 0u64;
    for m in msgs.iter().rev() {
        match role(m) {
            "user" if user_has_text(m) => break,
            "assistant" => {
                let n = match format {
                    ChatFormat::OpenAi => {
                        array(m.get("tool_calls")).count()
                            + usize::from(m.contains_key("function_call"))
                    }
                    ChatFormat::Anthropic => {
                        blocks(m).filter(|b| block_type(b) == "tool_use").count()
                    }
                };
                calls += n as u64;
            }
            _ => {}
        }
    }
    calls
}

/// Whether a user message carries text of its own (not only tool results).
fn user_has_text(m: &Map<String, Value>) -> bool {
    match m.get("content") {
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Array(items)) => items.iter().any(|b| match b {
            Value::String(s) => !s.trim().is_empty(),
            Value::Object(o) => match o.get("type").and_then(Value::as_str) {
                Some("tool_result") => false,
                Some("text") | None => !str_of(o.get("text")).trim().is_empty(),
                // An image or a document is the user speaking too.
                Some(_) => true,
            },
            _ => false,
        }),
        _ => false,
    }
}

fn messages(body: &Map<String, Value>) -> impl Iterator<Item = &Map<String, Value>> {
    array(body.get("messages")).filter_map(Value::as_object)
}

fn blocks(m: &Map<String, Value>) -> impl Iterator<Item = &Map<String, Value>> {
    array(m.get("content")).filter_map(Value::as_object)
}

fn array(v: Option<&Value>) -> std::slice::Iter<'_, Value> {
    match v {
        Some(Value::Array(a)) => a.iter(),
        _ => [].iter(),
    }
}

fn role(m: &Map<String, Value>) -> &str {
    str_of(m.get("role"))
}

fn block_type(b: &Map<String, Value>) -> &str {
    str_of(b.get("type"))
}

fn str_of(v: Option<&Value>) -> &str {
    v.and_then(Value::as_str).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test bodies are objects"),
        }
    }

    const OA: ChatFormat = ChatFormat::OpenAi;
    const AN: ChatFormat = ChatFormat::Anthropic;

    #[test]
    fn openai_text_covers_system_messages_tool_calls_results_and_tools() {
        let body = obj(json!({
            "messages": [
                {"role": "system", "content": "SYS"},
                {"role": "user", "content": [{"type": "text", "text": "USER"}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"ARGS\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "c1", "content": "RESULT"}
            ],
            "tools": [{"type": "function", "function": {"name": "lookup", "description": "DEFN"}}]
        }));
        let text = request_text(&body);
        for part in ["SYS", "USER", "ARGS", "RESULT", "DEFN", "lookup"] {
            assert!(text.contains(part), "{part} in {text}");
        }
        assert!(input_tokens(&body, Tokenizer::Approx) > 0);
    }

    #[test]
    fn anthropic_text_covers_system_blocks_tool_use_and_results() {
        let body = obj(json!({
            "system": [{"type": "text", "text": "SYS"}],
            "messages": [
                {"role": "user", "content": "USER"},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"q": "ARGS"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "RESULT"}]}
                ]}
            ],
            "tools": [{"name": "lookup", "description": "DEFN", "input_schema": {"type": "object"}}]
        }));
        let text = request_text(&body);
        for part in ["SYS", "USER", "ARGS", "RESULT", "DEFN"] {
            assert!(text.contains(part), "{part} in {text}");
        }
    }

    #[test]
    fn an_empty_request_has_no_tokens() {
        assert_eq!(input_tokens(&Map::new(), Tokenizer::O200kBase), 0);
    }

    #[test]
    fn expected_output_prefers_max_completion_tokens() {
        assert_eq!(
            expected_output_tokens(&obj(json!({"max_tokens": 10, "max_completion_tokens": 20}))),
            Some(20)
        );
        assert_eq!(
            expected_output_tokens(&obj(json!({"max_tokens": 10}))),
            Some(10)
        );
        assert_eq!(
            expected_output_tokens(&obj(json!({"max_tokens": "ten"}))),
            None
        );
        assert_eq!(expected_output_tokens(&Map::new()), None);
    }

    #[test]
    fn json_output_from_response_format() {
        for (t, want) in [
            ("json_object", true),
            ("json_schema", true),
            ("text", false),
        ] {
            let body = obj(json!({"response_format": {"type": t}}));
            assert_eq!(output_must_be_json(&body, OA), want, "{t}");
        }
        assert!(!output_must_be_json(&Map::new(), OA));
        assert!(output_must_be_json(
            &obj(json!({"output_format": {"type": "json_schema"}})),
            AN
        ));
    }

    #[test]
    fn reasoning_from_effort_or_thinking() {
        for (e, want) in [
            ("minimal", false),
            ("low", false),
            ("medium", true),
            ("high", true),
        ] {
            assert_eq!(
                needs_chain_of_thought(&obj(json!({"reasoning_effort": e})), OA),
                want,
                "{e}"
            );
        }
        assert!(needs_chain_of_thought(
            &obj(json!({"thinking": {"type": "enabled", "budget_tokens": 2000}})),
            AN
        ));
        assert!(!needs_chain_of_thought(
            &obj(json!({"thinking": {"type": "disabled"}})),
            AN
        ));
        assert!(!needs_chain_of_thought(
            &obj(json!({"reasoning_effort": "high"})),
            AN
        ));
    }

    #[test]
    fn tool_output_is_untrusted() {
        let oa = obj(json!({"messages": [
            {"role": "user", "content": "hi"},
            {"role": "tool", "tool_call_id": "c", "content": "web page"}
        ]}));
        assert!(untrusted_input(&oa, OA));
        let clean = obj(json!({"messages": [{"role": "user", "content": "hi"}]}));
        assert!(!untrusted_input(&clean, OA));
        let an = obj(json!({"messages": [
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]}
        ]}));
        assert!(untrusted_input(&an, AN));
        assert!(!untrusted_input(&clean, AN));
    }

    #[test]
    fn openai_chain_counts_tool_calls_since_the_last_user_text() {
        let body = obj(json!({"messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "tool_calls": [{"id": "a"}, {"id": "b"}]},
            {"role": "tool", "content": "r"},
            {"role": "user", "content": "second"},
            {"role": "assistant", "tool_calls": [{"id": "c"}]},
            {"role": "tool", "content": "r"},
            {"role": "assistant", "tool_calls": [{"id": "d"}, {"id": "e"}]},
            {"role": "tool", "content": "r"},
            {"role": "tool", "content": "r"}
        ]}));
        assert_eq!(dependent_tool_calls(&body, OA), 3);
        assert_eq!(dependent_tool_calls(&Map::new(), OA), 0);
    }

    #[test]
    fn anthropic_tool_result_turns_do_not_end_the_chain() {
        let body = obj(json!({"messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "text", "text": "ok"}, {"type": "tool_use", "id": "1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "1", "content": "r"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "2", "name": "f", "input": {}}, {"type": "tool_use", "id": "3", "name": "g", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "2", "content": "r"}, {"type": "tool_result", "tool_use_id": "3", "content": "r"}]}
        ]}));
        assert_eq!(dependent_tool_calls(&body, AN), 3);
        // A user turn with text of its own starts a new chain.
        let mut body = body;
        if let Some(Value::Array(msgs)) = body.get_mut("messages") {
            msgs.push(
                json!({"role": "user", "content": [{"type": "text", "text": "thanks, now"}]}),
            );
        }
        assert_eq!(dependent_tool_calls(&body, AN), 0);
    }

    fn step(source: Source<'_>, body: Value) -> Result<Step, FeatureError> {
        step_for_request(source, &obj(body), OA, "cr", Tokenizer::Approx)
    }

    #[test]
    fn the_callers_features_win_and_the_rest_are_derived() {
        let given =
            json!({"role": "summarize", "untrusted_input": false, "tags": {"tier": "gold"}});
        let s = step(
            Source::Body(&given),
            json!({"max_tokens": 50, "messages": [
                {"role": "user", "content": "hello there"},
                {"role": "tool", "content": "page"}
            ]}),
        )
        .unwrap();
        assert_eq!(s.role, "summarize");
        assert_eq!(s.workload.as_deref(), Some("cr"));
        assert!(
            !s.untrusted_input,
            "the caller said the tool output is trusted"
        );
        assert_eq!(s.expected_output_tokens, Some(50));
        assert!(s.input_tokens.unwrap() > 0);
        assert!(s.tags.contains_key("tier"));

        let given = json!({"role": "x", "input_tokens": 7});
        let s = step(
            Source::Body(&given),
            json!({"messages": [{"role": "tool", "content": "p"}]}),
        )
        .unwrap();
        assert_eq!(s.input_tokens, Some(7));
        assert!(s.untrusted_input);
    }

    #[test]
    fn the_header_gives_the_same_object() {
        let s = step(
            Source::Header(br#"{"role":"plan","needs_chain_of_thought":true}"#),
            json!({}),
        )
        .unwrap();
        assert_eq!(s.role, "plan");
        assert!(s.needs_chain_of_thought);
        let e = step(Source::Header(b"{role"), json!({})).unwrap_err();
        assert_eq!(e.param, "x-switchyard-step");
    }

    #[test]
    fn bad_features_name_the_field() {
        let cases = [
            (json!({"input_tokens": 3}), "`role`"),
            (json!({"role": "x", "needs_cot": true}), "`needs_cot`"),
            (json!({"role": "x", "workload": "other"}), "`workload`"),
            (json!({"role": "x", "prompt": "hi"}), "`prompt`"),
            (json!({"role": 5}), "`role`"),
            (
                json!({"role": "x", "untrusted_input": "yes"}),
                "`untrusted_input`",
            ),
            (json!({"role": "x", "input_tokens": -1}), "`input_tokens`"),
            (json!(["role"]), "JSON object"),
        ];
        for (given, field) in cases {
            let e = step(Source::Body(&given), json!({})).unwrap_err();
            assert!(e.message.contains(field), "{given}: {}", e.message);
            assert_eq!(e.param, "switchyard");
        }
        let e = step(Source::None, json!({})).unwrap_err();
        assert!(e.message.contains("`role`"), "{}", e.message);
    }
}
