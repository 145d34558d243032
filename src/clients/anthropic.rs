//! Anthropic Messages ↔ the canonical chat shape, both ways: requests, answers and the
//! named SSE events of a stream (`message_start`, `content_block_*`, `message_delta`,
//! `message_stop`, `ping`, `error`).

use serde_json::{json, Map, Value};

use super::chat::{
    ChatEvent, ChatMessage, ChatRequest, ChatResponse, ChatRole, ExtraFields, Part, Reasoning,
    StopReason, TokenUsage, ToolChoice, ToolDefinition, WireFormat,
};
use super::error::CallError;
use super::json::{
    array, object, only_keys, opt_f64, opt_string, opt_u64, string, text_parts, text_value, Side,
};
use super::openai::add_extra;

const FORMAT: &str = "anthropic";

/// `max_tokens` when neither the request nor the model gives one (clients.md).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// The smallest thinking budget Anthropic accepts.
const MIN_THINKING_BUDGET: u64 = 1024;

/// The `anthropic-version` header every request carries.
pub const API_VERSION: &str = "2023-06-01";

/// The assistant prefill that asks for JSON: Anthropic has no JSON switch, so the answer is
/// started with `{` and the caller gets the `{` back in front of the text.
pub const JSON_PREFILL: &str = "{";

fn unsupported(field: impl Into<String>) -> CallError {
    CallError::UnsupportedParameter {
        field: field.into(),
        format: FORMAT,
    }
}

/// The request body for `POST {base_url}/v1/messages`, for model `model`.
///
/// `max_tokens` is the request's, else `model_max_output` (the model's `max_output_tokens`),
/// else 4096. Reasoning becomes a thinking budget of 1024 / 2048 / 4096 tokens kept below
/// `max_tokens`; when that leaves less than Anthropic's minimum of 1024 the request is
/// refused (`unsupported_parameter` naming `reasoning`). JSON output is asked for with an
/// assistant prefill of `{`, which Anthropic refuses together with thinking.
pub fn request_to_wire(
    req: &ChatRequest,
    model: &str,
    stream: bool,
    model_max_output: Option<u64>,
) -> Result<Value, CallError> {
    let max_tokens = req
        .max_output_tokens
        .or(model_max_output)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("max_tokens".into(), json!(max_tokens));
    if let Some(system) = &req.system {
        body.insert("system".into(), json!(system));
    }
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    for (i, message) in req.messages.iter().enumerate() {
        messages.push(message_to_wire(message, i)?);
    }
    if req.json_output {
        if req.reasoning.is_some() {
            return Err(unsupported("json_output (together with reasoning)"));
        }
        if req.messages.last().map(|m| m.role) != Some(ChatRole::Assistant) {
            messages.push(json!({"role": "assistant", "content": JSON_PREFILL}));
        }
    }
    body.insert("messages".into(), Value::Array(messages));
    if !req.tools.is_empty() {
        let tools = req
            .tools
            .iter()
            .map(|t| {
                let mut tool = Map::new();
                tool.insert("name".into(), json!(t.name));
                if let Some(d) = &t.description {
                    tool.insert("description".into(), json!(d));
                }
                tool.insert("input_schema".into(), t.parameters.clone());
                Value::Object(tool)
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &req.tool_choice {
        let value = match choice {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::None => json!({"type": "none"}),
            ToolChoice::Required => json!({"type": "any"}),
            ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
        };
        body.insert("tool_choice".into(), value);
    }
    if !req.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(req.stop));
    }
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if let Some(r) = req.reasoning {
        let budget = r.budget_tokens().min(max_tokens.saturating_sub(1));
        if budget < MIN_THINKING_BUDGET {
            return Err(unsupported(format!(
                "reasoning (max_tokens {max_tokens} leaves no room for a thinking budget of at least {MIN_THINKING_BUDGET})"
            )));
        }
        body.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }
    if stream {
        body.insert("stream".into(), json!(true));
    }
    add_extra(&mut body, req.extra.as_ref(), WireFormat::Anthropic, FORMAT)?;
    Ok(Value::Object(body))
}

fn tool_input(arguments: &str, path: &str) -> Result<Value, CallError> {
    if arguments.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(arguments)
        .map_err(|_| CallError::InvalidRequest(format!("`{path}`: expected JSON arguments")))
}

fn message_to_wire(message: &ChatMessage, i: usize) -> Result<Value, CallError> {
    let role = match message.role {
        ChatRole::Assistant => "assistant",
        ChatRole::User | ChatRole::Tool => "user",
    };
    // One text part stays a plain string, so that it reads back as the same one part.
    if let [Part::Text { text }] = message.content.as_slice() {
        if message.role != ChatRole::Tool {
            return Ok(json!({"role": role, "content": text_value(&[text])}));
        }
    }
    let mut blocks = Vec::with_capacity(message.content.len());
    for (j, part) in message.content.iter().enumerate() {
        let path = format!("messages[{i}].content[{j}]");
        let block = match (message.role, part) {
            (_, Part::Text { text }) => json!({"type": "text", "text": text}),
            // Anthropic has no refusal block: an earlier refusal is what the model said.
            (ChatRole::Assistant, Part::Refusal { text }) => json!({"type": "text", "text": text}),
            (
                ChatRole::Assistant,
                Part::ToolCall {
                    id,
                    name,
                    arguments,
                },
            ) => json!({
                "type": "tool_use", "id": id, "name": name,
                "input": tool_input(arguments, &path)?,
            }),
            (ChatRole::Assistant, Part::Thinking { text, signature }) => {
                let mut b = json!({"type": "thinking", "thinking": text});
                if let Some(s) = signature {
                    b["signature"] = json!(s);
                }
                b
            }
            (
                ChatRole::Tool,
                Part::ToolResult {
                    tool_call_id,
                    content,
                    is_error,
                },
            ) => {
                let mut b =
                    json!({"type": "tool_result", "tool_use_id": tool_call_id, "content": content});
                if *is_error {
                    b["is_error"] = json!(true);
                }
                b
            }
            _ => return Err(unsupported(path)),
        };
        blocks.push(block);
    }
    Ok(json!({"role": role, "content": blocks}))
}

const REQUEST_KEYS: &[&str] = &[
    "model",
    "max_tokens",
    "system",
    "messages",
    "tools",
    "tool_choice",
    "stop_sequences",
    "temperature",
    "top_p",
    "thinking",
    "stream",
];

/// Reads an Anthropic Messages request body into the canonical shape. Top-level fields the
/// shape does not know are kept in [`ChatRequest::extra`]; `stream` is dropped, since the
/// client decides how it calls. A user message with any `tool_result` block becomes a
/// [`ChatRole::Tool`] message.
pub fn request_from_wire(body: &Value) -> Result<ChatRequest, CallError> {
    let side = Side::Request;
    let obj = object(side, body, "request")?;
    let mut req = ChatRequest {
        model: opt_string(side, obj, "model", "request")?.unwrap_or_default(),
        max_output_tokens: opt_u64(side, obj, "max_tokens", "request")?,
        ..ChatRequest::default()
    };
    if let Some(system) = obj.get("system").filter(|v| !v.is_null()) {
        req.system = Some(text_parts(side, system, "system", FORMAT)?.join("\n\n"));
    }
    let messages = array(
        side,
        obj.get("messages").unwrap_or(&Value::Null),
        "messages",
    )?;
    for (i, m) in messages.iter().enumerate() {
        let path = format!("messages[{i}]");
        let m = object(side, m, &path)?;
        only_keys(m, &["role", "content"], &path, FORMAT)?;
        let role = string(side, m, "role", &path)?;
        let assistant = match role.as_str() {
            "user" => false,
            "assistant" => true,
            other => {
                return Err(side.bad(
                    &format!("{path}.role"),
                    &format!("user or assistant, not {other}"),
                ))
            }
        };
        let content_path = format!("{path}.content");
        let content = m.get("content").unwrap_or(&Value::Null);
        let mut parts = Vec::new();
        let mut has_result = false;
        match content {
            Value::String(s) => parts.push(Part::text(s.clone())),
            Value::Array(blocks) => {
                for (j, block) in blocks.iter().enumerate() {
                    let p = format!("{content_path}[{j}]");
                    let block = object(side, block, &p)?;
                    let kind = string(side, block, "type", &p)?;
                    let part = match (assistant, kind.as_str()) {
                        (_, "text") => {
                            only_keys(block, &["type", "text"], &p, FORMAT)?;
                            Part::text(string(side, block, "text", &p)?)
                        }
                        (true, "tool_use") => {
                            only_keys(block, &["type", "id", "name", "input"], &p, FORMAT)?;
                            let input = block.get("input").cloned().unwrap_or(json!({}));
                            Part::ToolCall {
                                id: string(side, block, "id", &p)?,
                                name: string(side, block, "name", &p)?,
                                arguments: input.to_string(),
                            }
                        }
                        (true, "thinking") => {
                            only_keys(block, &["type", "thinking", "signature"], &p, FORMAT)?;
                            Part::Thinking {
                                text: string(side, block, "thinking", &p)?,
                                signature: opt_string(side, block, "signature", &p)?,
                            }
                        }
                        (false, "tool_result") => {
                            only_keys(
                                block,
                                &["type", "tool_use_id", "content", "is_error"],
                                &p,
                                FORMAT,
                            )?;
                            has_result = true;
                            let content = block.get("content").unwrap_or(&Value::Null);
                            Part::ToolResult {
                                tool_call_id: string(side, block, "tool_use_id", &p)?,
                                content: text_parts(
                                    side,
                                    content,
                                    &format!("{p}.content"),
                                    FORMAT,
                                )?
                                .concat(),
                                is_error: block
                                    .get("is_error")
                                    .and_then(Value::as_bool)
                                    .unwrap_or(false),
                            }
                        }
                        (_, other) => return Err(unsupported(format!("{p} ({other})"))),
                    };
                    parts.push(part);
                }
            }
            _ => return Err(side.bad(&content_path, "a string or an array of content blocks")),
        }
        let role = if assistant {
            ChatRole::Assistant
        } else if has_result {
            ChatRole::Tool
        } else {
            ChatRole::User
        };
        req.messages.push(ChatMessage {
            role,
            content: parts,
        });
    }
    if let Some(tools) = obj.get("tools").filter(|v| !v.is_null()) {
        for (i, tool) in array(side, tools, "tools")?.iter().enumerate() {
            let p = format!("tools[{i}]");
            let tool = object(side, tool, &p)?;
            only_keys(
                tool,
                &["name", "description", "input_schema", "type"],
                &p,
                FORMAT,
            )?;
            if let Some(kind) = opt_string(side, tool, "type", &p)? {
                if kind != "custom" {
                    return Err(unsupported(format!("{p}.type ({kind})")));
                }
            }
            req.tools.push(ToolDefinition {
                name: string(side, tool, "name", &p)?,
                description: opt_string(side, tool, "description", &p)?,
                parameters: tool
                    .get("input_schema")
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            });
        }
    }
    if let Some(choice) = obj.get("tool_choice").filter(|v| !v.is_null()) {
        let c = object(side, choice, "tool_choice")?;
        only_keys(c, &["type", "name"], "tool_choice", FORMAT)?;
        req.tool_choice = Some(match string(side, c, "type", "tool_choice")?.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "any" => ToolChoice::Required,
            "tool" => ToolChoice::Tool(string(side, c, "name", "tool_choice")?),
            _ => return Err(side.bad("tool_choice.type", "auto, none, any or tool")),
        });
    }
    if let Some(stop) = obj.get("stop_sequences").filter(|v| !v.is_null()) {
        req.stop = serde_json::from_value(stop.clone())
            .map_err(|_| side.bad("stop_sequences", "an array of strings"))?;
    }
    req.temperature = opt_f64(side, obj, "temperature", "request")?;
    req.top_p = opt_f64(side, obj, "top_p", "request")?;
    if let Some(thinking) = obj.get("thinking").filter(|v| !v.is_null()) {
        let t = object(side, thinking, "thinking")?;
        match string(side, t, "type", "thinking")?.as_str() {
            "disabled" => {}
            "enabled" => {
                let budget = opt_u64(side, t, "budget_tokens", "thinking")?.unwrap_or(0);
                req.reasoning = Some(if budget <= 1024 {
                    Reasoning::Low
                } else if budget <= 2048 {
                    Reasoning::Medium
                } else {
                    Reasoning::High
                });
            }
            other => return Err(unsupported(format!("thinking.type ({other})"))),
        }
    }
    let extra: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| !REQUEST_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !extra.is_empty() {
        req.extra = Some(ExtraFields {
            format: WireFormat::Anthropic,
            fields: extra,
        });
    }
    Ok(req)
}

/// The canonical stop reason of an Anthropic `stop_reason`.
pub fn stop_reason_from_wire(reason: &str) -> StopReason {
    match reason {
        "end_turn" => StopReason::EndTurn,
        "stop_sequence" => StopReason::StopSequence,
        "max_tokens" => StopReason::MaxTokens,
        "tool_use" => StopReason::ToolUse,
        "refusal" => StopReason::ContentFilter,
        other => StopReason::Other(other.to_owned()),
    }
}

/// The Anthropic `stop_reason` of a canonical stop reason.
pub fn stop_reason_to_wire(reason: &StopReason) -> &str {
    match reason {
        StopReason::EndTurn => "end_turn",
        StopReason::StopSequence => "stop_sequence",
        StopReason::MaxTokens => "max_tokens",
        StopReason::ToolUse => "tool_use",
        StopReason::ContentFilter => "refusal",
        StopReason::Other(s) => s,
    }
}

/// Anthropic counts cache reads and writes apart from `input_tokens`; the canonical input is
/// the total, so that every provider's input means the same.
fn usage_from_wire(u: &Map<String, Value>, path: &str) -> Result<TokenUsage, CallError> {
    let side = Side::Response;
    let input = opt_u64(side, u, "input_tokens", path)?.unwrap_or(0);
    let read = opt_u64(side, u, "cache_read_input_tokens", path)?.unwrap_or(0);
    let write = opt_u64(side, u, "cache_creation_input_tokens", path)?.unwrap_or(0);
    Ok(TokenUsage {
        input_tokens: input.saturating_add(read).saturating_add(write),
        output_tokens: opt_u64(side, u, "output_tokens", path)?.unwrap_or(0),
        cached_input_tokens: read,
        cache_write_tokens: write,
    })
}

fn usage_to_wire(u: &TokenUsage) -> Value {
    json!({
        "input_tokens": u.input_tokens.saturating_sub(u.cached_input_tokens).saturating_sub(u.cache_write_tokens),
        "output_tokens": u.output_tokens,
        "cache_read_input_tokens": u.cached_input_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
    })
}

/// Reads an Anthropic `message` answer. `prefill` is the assistant text the request ended
/// with (the JSON prefill), put back in front of the answer's first text.
pub fn response_from_wire(body: &Value, prefill: Option<&str>) -> Result<ChatResponse, CallError> {
    let side = Side::Response;
    let obj = object(side, body, "response")?;
    let blocks = array(side, obj.get("content").unwrap_or(&Value::Null), "content")?;
    let mut content = Vec::with_capacity(blocks.len());
    let mut prefill = prefill;
    for (j, block) in blocks.iter().enumerate() {
        let p = format!("content[{j}]");
        let block = object(side, block, &p)?;
        match string(side, block, "type", &p)?.as_str() {
            "text" => {
                let mut text = string(side, block, "text", &p)?;
                if let Some(pre) = prefill.take() {
                    text.insert_str(0, pre);
                }
                content.push(Part::Text { text });
            }
            "tool_use" => content.push(Part::ToolCall {
                id: string(side, block, "id", &p)?,
                name: string(side, block, "name", &p)?,
                arguments: block.get("input").cloned().unwrap_or(json!({})).to_string(),
            }),
            "thinking" => content.push(Part::Thinking {
                text: string(side, block, "thinking", &p)?,
                signature: opt_string(side, block, "signature", &p)?,
            }),
            // Encrypted reasoning and server-side blocks carry nothing a caller can use.
            _ => {}
        }
    }
    let usage = match obj.get("usage").and_then(Value::as_object) {
        Some(u) => Some(usage_from_wire(u, "usage")?),
        None => None,
    };
    Ok(ChatResponse {
        id: opt_string(side, obj, "id", "response")?.unwrap_or_default(),
        model: opt_string(side, obj, "model", "response")?.unwrap_or_default(),
        content,
        stop_reason: opt_string(side, obj, "stop_reason", "response")?
            .map(|r| stop_reason_from_wire(&r)),
        usage,
    })
}

/// Writes a canonical answer as an Anthropic `message`.
pub fn response_to_wire(resp: &ChatResponse) -> Value {
    let content: Vec<Value> = resp
        .content
        .iter()
        .filter_map(|part| match part {
            // Anthropic callers read a refusal as the text it is.
            Part::Text { text } | Part::Refusal { text } => {
                Some(json!({"type": "text", "text": text}))
            }
            Part::ToolCall {
                id,
                name,
                arguments,
            } => Some(json!({
                "type": "tool_use", "id": id, "name": name,
                "input": tool_input(arguments, "content").unwrap_or_else(|_| json!({})),
            })),
            Part::Thinking { text, signature } => Some(json!({
                "type": "thinking", "thinking": text, "signature": signature.clone().unwrap_or_default(),
            })),
            Part::ToolResult { .. } => None,
        })
        .collect();
    json!({
        "id": resp.id,
        "type": "message",
        "role": "assistant",
        "model": resp.model,
        "content": content,
        "stop_reason": resp.stop_reason.as_ref().map(stop_reason_to_wire),
        "stop_sequence": null,
        "usage": usage_to_wire(&resp.usage.unwrap_or_default()),
    })
}

/// Translates an Anthropic stream, one SSE event at a time, into canonical events.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    done: bool,
    next_index: usize,
    /// Anthropic's block index → the canonical part index (`None`: a block passed over).
    blocks: Vec<(u64, Option<usize>)>,
    /// The usage of `message_start`, completed by `message_delta`.
    usage: Map<String, Value>,
    prefill: Option<String>,
}

impl StreamDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> StreamDecoder {
        StreamDecoder::default()
    }

    /// A decoder that puts `prefill` (the request's JSON prefill) back in front of the first
    /// text.
    pub fn with_prefill(prefill: Option<&str>) -> StreamDecoder {
        StreamDecoder {
            prefill: prefill.map(str::to_owned),
            ..StreamDecoder::default()
        }
    }

    /// Whether `message_stop` has been seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn part_index(&self, wire: u64) -> Option<usize> {
        self.blocks
            .iter()
            .find(|(w, _)| *w == wire)
            .and_then(|&(_, c)| c)
    }

    /// Translates one SSE event's `data:` payload, appending its events to `out`. The event's
    /// `type` field decides; the SSE event name repeats it.
    pub fn decode(&mut self, data: &str, out: &mut Vec<ChatEvent>) -> Result<(), CallError> {
        let side = Side::Response;
        let event: Value = serde_json::from_str(data)
            .map_err(|e| CallError::InvalidResponse(format!("stream event: {e}")))?;
        let obj = object(side, &event, "event")?;
        match string(side, obj, "type", "event")?.as_str() {
            "message_start" => {
                let m = object(side, obj.get("message").unwrap_or(&Value::Null), "message")?;
                if let Some(u) = m.get("usage").and_then(Value::as_object) {
                    self.usage.clone_from(u);
                }
                out.push(ChatEvent::Start {
                    id: opt_string(side, m, "id", "message")?.unwrap_or_default(),
                    model: opt_string(side, m, "model", "message")?.unwrap_or_default(),
                });
            }
            "content_block_start" => {
                let wire = opt_u64(side, obj, "index", "event")?.unwrap_or(0);
                let block = object(
                    side,
                    obj.get("content_block").unwrap_or(&Value::Null),
                    "content_block",
                )?;
                let kind = string(side, block, "type", "content_block")?;
                let index = match kind.as_str() {
                    "text" | "tool_use" | "thinking" => {
                        let i = self.next_index;
                        self.next_index += 1;
                        Some(i)
                    }
                    _ => None,
                };
                self.blocks.push((wire, index));
                let Some(index) = index else { return Ok(()) };
                match kind.as_str() {
                    "text" => {
                        let mut text =
                            opt_string(side, block, "text", "content_block")?.unwrap_or_default();
                        if let Some(pre) = self.prefill.take() {
                            text.insert_str(0, &pre);
                        }
                        out.push(ChatEvent::Text { index, text });
                    }
                    "tool_use" => out.push(ChatEvent::ToolCallStart {
                        index,
                        id: string(side, block, "id", "content_block")?,
                        name: string(side, block, "name", "content_block")?,
                    }),
                    _ => out.push(ChatEvent::Thinking {
                        index,
                        text: opt_string(side, block, "thinking", "content_block")?
                            .unwrap_or_default(),
                    }),
                }
            }
            "content_block_delta" => {
                let wire = opt_u64(side, obj, "index", "event")?.unwrap_or(0);
                let Some(index) = self.part_index(wire) else {
                    return Ok(());
                };
                let delta = object(side, obj.get("delta").unwrap_or(&Value::Null), "delta")?;
                match string(side, delta, "type", "delta")?.as_str() {
                    "text_delta" => out.push(ChatEvent::Text {
                        index,
                        text: string(side, delta, "text", "delta")?,
                    }),
                    "input_json_delta" => {
                        let json = string(side, delta, "partial_json", "delta")?;
                        if !json.is_empty() {
                            out.push(ChatEvent::ToolArguments { index, json });
                        }
                    }
                    "thinking_delta" => out.push(ChatEvent::Thinking {
                        index,
                        text: string(side, delta, "thinking", "delta")?,
                    }),
                    "signature_delta" => out.push(ChatEvent::ThinkingSignature {
                        index,
                        signature: string(side, delta, "signature", "delta")?,
                    }),
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(delta) = obj.get("delta").and_then(Value::as_object) {
                    if let Some(r) = opt_string(side, delta, "stop_reason", "delta")? {
                        out.push(ChatEvent::Stop {
                            reason: stop_reason_from_wire(&r),
                        });
                    }
                }
                // The final counts are cumulative; fields it leaves out keep their start values.
                if let Some(u) = obj.get("usage").and_then(Value::as_object) {
                    for (k, v) in u {
                        if !v.is_null() {
                            self.usage.insert(k.clone(), v.clone());
                        }
                    }
                    out.push(ChatEvent::Usage {
                        usage: usage_from_wire(&self.usage, "usage")?,
                    });
                }
            }
            "message_stop" => self.done = true,
            "error" => {
                let e = obj.get("error").and_then(Value::as_object);
                let kind = e.and_then(|e| e.get("type")).and_then(Value::as_str);
                let message = e
                    .and_then(|e| e.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                // Mid-stream overload and server errors are the provider's 529 / 500 / 429.
                let status = match kind {
                    Some("overloaded_error") => 529,
                    Some("api_error") => 500,
                    Some("rate_limit_error") => 429,
                    _ => 0,
                };
                return Err(if status == 0 {
                    CallError::InvalidResponse(format!("the provider sent an error: {message}"))
                } else {
                    CallError::Status {
                        status,
                        message,
                        retry_after: None,
                    }
                });
            }
            // `ping`, `content_block_stop` and event types added later carry nothing to pass on.
            _ => {}
        }
        Ok(())
    }
}

/// Writes canonical events as Anthropic SSE events: `(event name, data)` pairs. The stop
/// reason and usage are held back for the final `message_delta`, written by
/// [`StreamEncoder::finish`] with `message_stop`.
#[derive(Debug, Default)]
pub struct StreamEncoder {
    /// Canonical part index → Anthropic block index, in opening order.
    blocks: Vec<usize>,
    open: Option<usize>,
    stop: Option<StopReason>,
    usage: Option<TokenUsage>,
}

impl StreamEncoder {
    /// An encoder for one answer.
    pub fn new() -> StreamEncoder {
        StreamEncoder::default()
    }

    fn open(&mut self, index: usize, block: Value, out: &mut Vec<(&'static str, Value)>) -> usize {
        if let Some(w) = self.blocks.iter().position(|&c| c == index) {
            return w;
        }
        self.close(out);
        let wire = self.blocks.len();
        self.blocks.push(index);
        self.open = Some(wire);
        out.push((
            "content_block_start",
            json!({"type": "content_block_start", "index": wire, "content_block": block}),
        ));
        wire
    }

    fn close(&mut self, out: &mut Vec<(&'static str, Value)>) {
        if let Some(w) = self.open.take() {
            out.push((
                "content_block_stop",
                json!({"type": "content_block_stop", "index": w}),
            ));
        }
    }

    fn delta(wire: usize, delta: Value) -> (&'static str, Value) {
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": wire, "delta": delta}),
        )
    }

    /// The SSE events for one canonical event, appended to `out`.
    pub fn encode(&mut self, event: &ChatEvent, out: &mut Vec<(&'static str, Value)>) {
        match event {
            ChatEvent::Start { id, model } => out.push((
                "message_start",
                json!({"type": "message_start", "message": {
                    "id": id, "type": "message", "role": "assistant", "model": model,
                    "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": 0, "output_tokens": 0},
                }}),
            )),
            ChatEvent::Text { index, text } | ChatEvent::Refusal { index, text } => {
                let w = self.open(*index, json!({"type": "text", "text": ""}), out);
                out.push(Self::delta(w, json!({"type": "text_delta", "text": text})));
            }
            ChatEvent::ToolCallStart { index, id, name } => {
                self.open(
                    *index,
                    json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                    out,
                );
            }
            ChatEvent::ToolArguments { index, json } => {
                let w = self.open(
                    *index,
                    json!({"type": "tool_use", "id": "", "name": "", "input": {}}),
                    out,
                );
                out.push(Self::delta(
                    w,
                    json!({"type": "input_json_delta", "partial_json": json}),
                ));
            }
            ChatEvent::Thinking { index, text } => {
                let w = self.open(*index, json!({"type": "thinking", "thinking": ""}), out);
                out.push(Self::delta(
                    w,
                    json!({"type": "thinking_delta", "thinking": text}),
                ));
            }
            ChatEvent::ThinkingSignature { index, signature } => {
                let w = self.open(*index, json!({"type": "thinking", "thinking": ""}), out);
                out.push(Self::delta(
                    w,
                    json!({"type": "signature_delta", "signature": signature}),
                ));
            }
            ChatEvent::Stop { reason } => {
                self.close(out);
                self.stop = Some(reason.clone());
            }
            ChatEvent::Usage { usage } => self.usage = Some(*usage),
        }
    }

    /// The closing events: the last block's stop, `message_delta` and `message_stop`.
    pub fn finish(&mut self, out: &mut Vec<(&'static str, Value)>) {
        self.close(out);
        out.push((
            "message_delta",
            json!({"type": "message_delta",
                "delta": {"stop_reason": self.stop.as_ref().map(stop_reason_to_wire), "stop_sequence": null},
                "usage": usage_to_wire(&self.usage.unwrap_or_default())}),
        ));
        out.push(("message_stop", json!({"type": "message_stop"})));
    }
}
