//! OpenAI Chat Completions ↔ the canonical chat shape, both ways: requests, answers and
//! `chat.completion.chunk` stream events. Every OpenAI-compatible server (vLLM, Ollama,
//! llama.cpp, Together, …) speaks this format.

use serde_json::{json, Map, Value};

use super::chat::{
    ChatEvent, ChatMessage, ChatRequest, ChatResponse, ChatRole, ExtraFields, Part, Reasoning,
    StopReason, TokenUsage, ToolChoice, ToolDefinition, WireFormat,
};
use super::error::CallError;
use super::json::{
    array, object, only_keys, opt_f64, opt_string, opt_u64, string, text_parts, text_value, Side,
};

const FORMAT: &str = "openai";

fn unsupported(field: impl Into<String>) -> CallError {
    CallError::UnsupportedParameter {
        field: field.into(),
        format: FORMAT,
    }
}

/// The request body for `POST {base_url}/chat/completions`, for model `model`.
///
/// A field OpenAI cannot express is `unsupported_parameter` naming it: a tool result marked
/// as an error, a tool message that is not exactly one result, and extra fields written for
/// another format. Thinking parts of earlier answers are left out: OpenAI-format models
/// never see another model's reasoning (clients.md).
pub fn request_to_wire(req: &ChatRequest, model: &str, stream: bool) -> Result<Value, CallError> {
    let mut body = Map::new();
    body.insert("model".into(), Value::String(model.to_owned()));
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if let Some(system) = &req.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    for (i, message) in req.messages.iter().enumerate() {
        messages.push(message_to_wire(message, i)?);
    }
    body.insert("messages".into(), Value::Array(messages));
    if !req.tools.is_empty() {
        let tools = req
            .tools
            .iter()
            .map(|t| {
                let mut function = Map::new();
                function.insert("name".into(), Value::String(t.name.clone()));
                if let Some(d) = &t.description {
                    function.insert("description".into(), Value::String(d.clone()));
                }
                function.insert("parameters".into(), t.parameters.clone());
                json!({"type": "function", "function": function})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &req.tool_choice {
        let value = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
        };
        body.insert("tool_choice".into(), value);
    }
    if !req.stop.is_empty() {
        body.insert("stop".into(), json!(req.stop));
    }
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if let Some(n) = req.max_output_tokens {
        body.insert("max_completion_tokens".into(), json!(n));
    }
    if req.json_output {
        body.insert("response_format".into(), json!({"type": "json_object"}));
    }
    if let Some(r) = req.reasoning {
        body.insert("reasoning_effort".into(), json!(r.as_str()));
    }
    if stream {
        body.insert("stream".into(), json!(true));
        // Without it an OpenAI stream reports no usage at all, and the bill would be a guess.
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    add_extra(&mut body, req.extra.as_ref(), WireFormat::Openai, FORMAT)?;
    Ok(Value::Object(body))
}

/// Adds the caller's extra fields when they were written for this format; refuses them
/// otherwise. A field the translation already set wins over an extra one.
pub(crate) fn add_extra(
    body: &mut Map<String, Value>,
    extra: Option<&ExtraFields>,
    format: WireFormat,
    name: &'static str,
) -> Result<(), CallError> {
    let Some(extra) = extra else { return Ok(()) };
    if extra.format != format {
        if let Some(key) = extra.fields.keys().next() {
            return Err(CallError::UnsupportedParameter {
                field: key.clone(),
                format: name,
            });
        }
        return Ok(());
    }
    for (key, value) in &extra.fields {
        if !body.contains_key(key) {
            body.insert(key.clone(), value.clone());
        }
    }
    Ok(())
}

fn message_to_wire(message: &ChatMessage, i: usize) -> Result<Value, CallError> {
    match message.role {
        ChatRole::User => {
            let mut texts = Vec::with_capacity(message.content.len());
            for (j, part) in message.content.iter().enumerate() {
                match part {
                    Part::Text { text } => texts.push(text.as_str()),
                    _ => return Err(unsupported(format!("messages[{i}].content[{j}]"))),
                }
            }
            Ok(json!({"role": "user", "content": text_value(&texts)}))
        }
        ChatRole::Assistant => {
            let mut texts = Vec::new();
            let mut calls = Vec::new();
            let mut refusal = String::new();
            for part in &message.content {
                match part {
                    Part::Text { text } => texts.push(text.as_str()),
                    Part::ToolCall {
                        id,
                        name,
                        arguments,
                    } => calls.push(json!({
                        "id": id, "type": "function",
                        "function": {"name": name, "arguments": arguments},
                    })),
                    Part::Refusal { text } => refusal.push_str(text),
                    Part::Thinking { .. } => {}
                    Part::ToolResult { .. } => {
                        return Err(unsupported(format!("messages[{i}].content (tool result)")))
                    }
                }
            }
            let mut out = Map::new();
            out.insert("role".into(), json!("assistant"));
            if !refusal.is_empty() {
                out.insert("refusal".into(), json!(refusal));
            }
            let content = if texts.is_empty() {
                Value::Null
            } else {
                text_value(&texts)
            };
            out.insert("content".into(), content);
            if !calls.is_empty() {
                out.insert("tool_calls".into(), Value::Array(calls));
            }
            Ok(Value::Object(out))
        }
        ChatRole::Tool => match message.content.as_slice() {
            [Part::ToolResult {
                tool_call_id,
                content,
                is_error,
            }] => {
                if *is_error {
                    return Err(unsupported(format!("messages[{i}].content[0].is_error")));
                }
                Ok(json!({"role": "tool", "tool_call_id": tool_call_id, "content": content}))
            }
            _ => Err(unsupported(format!(
                "messages[{i}].content (a tool message carries exactly one tool result)"
            ))),
        },
    }
}

const REQUEST_KEYS: &[&str] = &[
    "model",
    "messages",
    "tools",
    "tool_choice",
    "stop",
    "temperature",
    "top_p",
    "max_completion_tokens",
    "max_tokens",
    "response_format",
    "reasoning_effort",
    "stream",
    "stream_options",
];

/// Reads an OpenAI Chat Completions request body into the canonical shape. Top-level fields
/// the shape does not know are kept in [`ChatRequest::extra`]; `stream` and
/// `stream_options` are dropped, since the client decides how it calls.
pub fn request_from_wire(body: &Value) -> Result<ChatRequest, CallError> {
    let side = Side::Request;
    let obj = object(side, body, "request")?;
    let mut req = ChatRequest {
        model: opt_string(side, obj, "model", "request")?.unwrap_or_default(),
        ..ChatRequest::default()
    };
    let mut system: Vec<String> = Vec::new();
    let messages = array(
        side,
        obj.get("messages").unwrap_or(&Value::Null),
        "messages",
    )?;
    for (i, m) in messages.iter().enumerate() {
        let path = format!("messages[{i}]");
        let m = object(side, m, &path)?;
        let role = string(side, m, "role", &path)?;
        let content = m.get("content").unwrap_or(&Value::Null);
        let content_path = format!("{path}.content");
        match role.as_str() {
            "system" | "developer" => {
                only_keys(m, &["role", "content"], &path, FORMAT)?;
                system.extend(text_parts(side, content, &content_path, FORMAT)?);
            }
            "user" => {
                only_keys(m, &["role", "content"], &path, FORMAT)?;
                let content = text_parts(side, content, &content_path, FORMAT)?
                    .into_iter()
                    .map(Part::text)
                    .collect();
                req.messages.push(ChatMessage {
                    role: ChatRole::User,
                    content,
                });
            }
            "assistant" => {
                only_keys(
                    m,
                    &["role", "content", "tool_calls", "refusal"],
                    &path,
                    FORMAT,
                )?;
                let mut parts: Vec<Part> = text_parts(side, content, &content_path, FORMAT)?
                    .into_iter()
                    .map(Part::text)
                    .collect();
                if let Some(text) = opt_string(side, m, "refusal", &path)? {
                    if !text.is_empty() {
                        parts.push(Part::Refusal { text });
                    }
                }
                if let Some(calls) = m.get("tool_calls").filter(|v| !v.is_null()) {
                    let calls_path = format!("{path}.tool_calls");
                    for (j, call) in array(side, calls, &calls_path)?.iter().enumerate() {
                        let p = format!("{calls_path}[{j}]");
                        let call = object(side, call, &p)?;
                        only_keys(call, &["id", "type", "function"], &p, FORMAT)?;
                        let fp = format!("{p}.function");
                        let f = object(side, call.get("function").unwrap_or(&Value::Null), &fp)?;
                        only_keys(f, &["name", "arguments"], &fp, FORMAT)?;
                        parts.push(Part::ToolCall {
                            id: string(side, call, "id", &p)?,
                            name: string(side, f, "name", &fp)?,
                            arguments: opt_string(side, f, "arguments", &fp)?.unwrap_or_default(),
                        });
                    }
                }
                req.messages.push(ChatMessage {
                    role: ChatRole::Assistant,
                    content: parts,
                });
            }
            "tool" => {
                only_keys(m, &["role", "content", "tool_call_id"], &path, FORMAT)?;
                let content = text_parts(side, content, &content_path, FORMAT)?.concat();
                req.messages.push(ChatMessage {
                    role: ChatRole::Tool,
                    content: vec![Part::ToolResult {
                        tool_call_id: string(side, m, "tool_call_id", &path)?,
                        content,
                        is_error: false,
                    }],
                });
            }
            other => {
                return Err(unsupported(format!("{path}.role ({other})")));
            }
        }
    }
    if !system.is_empty() {
        req.system = Some(system.join("\n\n"));
    }
    if let Some(tools) = obj.get("tools").filter(|v| !v.is_null()) {
        for (i, tool) in array(side, tools, "tools")?.iter().enumerate() {
            let p = format!("tools[{i}]");
            let tool = object(side, tool, &p)?;
            only_keys(tool, &["type", "function"], &p, FORMAT)?;
            let fp = format!("{p}.function");
            let f = object(side, tool.get("function").unwrap_or(&Value::Null), &fp)?;
            only_keys(f, &["name", "description", "parameters"], &fp, FORMAT)?;
            req.tools.push(ToolDefinition {
                name: string(side, f, "name", &fp)?,
                description: opt_string(side, f, "description", &fp)?,
                parameters: f
                    .get("parameters")
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            });
        }
    }
    req.tool_choice = match obj.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            _ => return Err(side.bad("tool_choice", "auto, none, required or a function")),
        }),
        Some(v) => {
            let f = v.get("function").and_then(|f| f.get("name"));
            match f.and_then(Value::as_str) {
                Some(name) => Some(ToolChoice::Tool(name.to_owned())),
                None => return Err(side.bad("tool_choice", "auto, none, required or a function")),
            }
        }
    };
    req.stop = match obj.get("stop") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| side.bad("stop", "a string or an array of strings"))?,
    };
    req.temperature = opt_f64(side, obj, "temperature", "request")?;
    req.top_p = opt_f64(side, obj, "top_p", "request")?;
    req.max_output_tokens = match opt_u64(side, obj, "max_completion_tokens", "request")? {
        Some(n) => Some(n),
        None => opt_u64(side, obj, "max_tokens", "request")?,
    };
    let mut extra = Map::new();
    match obj.get("response_format") {
        None | Some(Value::Null) => {}
        Some(v) => match v.get("type").and_then(Value::as_str) {
            Some("json_object") => req.json_output = true,
            Some("text") => {}
            // A JSON schema is more than "JSON wanted": keep it whole for an OpenAI upstream.
            _ => {
                extra.insert("response_format".into(), v.clone());
            }
        },
    }
    req.reasoning = match opt_string(side, obj, "reasoning_effort", "request")?.as_deref() {
        None => None,
        Some("minimal") | Some("low") => Some(Reasoning::Low),
        Some("medium") => Some(Reasoning::Medium),
        Some("high") => Some(Reasoning::High),
        Some(other) => {
            extra.insert("reasoning_effort".into(), json!(other));
            None
        }
    };
    for (key, value) in obj {
        if !REQUEST_KEYS.contains(&key.as_str()) {
            extra.insert(key.clone(), value.clone());
        }
    }
    if !extra.is_empty() {
        req.extra = Some(ExtraFields {
            format: WireFormat::Openai,
            fields: extra,
        });
    }
    Ok(req)
}

/// The canonical stop reason of an OpenAI `finish_reason`.
pub fn stop_reason_from_wire(reason: &str) -> StopReason {
    match reason {
        "stop" => StopReason::EndTurn,
        "length" => StopReason::MaxTokens,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "content_filter" => StopReason::ContentFilter,
        other => StopReason::Other(other.to_owned()),
    }
}

/// The OpenAI `finish_reason` of a canonical stop reason.
pub fn stop_reason_to_wire(reason: &StopReason) -> &str {
    match reason {
        StopReason::EndTurn | StopReason::StopSequence => "stop",
        StopReason::MaxTokens => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::ContentFilter => "content_filter",
        StopReason::Other(s) => s,
    }
}

fn usage_from_wire(usage: &Value) -> Result<Option<TokenUsage>, CallError> {
    let side = Side::Response;
    let Some(u) = usage.as_object() else {
        return Ok(None);
    };
    let cached = match u.get("prompt_tokens_details").and_then(Value::as_object) {
        Some(d) => opt_u64(side, d, "cached_tokens", "usage.prompt_tokens_details")?,
        None => None,
    };
    Ok(Some(TokenUsage {
        input_tokens: opt_u64(side, u, "prompt_tokens", "usage")?.unwrap_or(0),
        output_tokens: opt_u64(side, u, "completion_tokens", "usage")?.unwrap_or(0),
        cached_input_tokens: cached.unwrap_or(0),
        cache_write_tokens: 0,
    }))
}

fn usage_to_wire(u: &TokenUsage) -> Value {
    json!({
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_input_tokens},
    })
}

/// Reads an OpenAI `chat.completion` answer (the first choice).
pub fn response_from_wire(body: &Value) -> Result<ChatResponse, CallError> {
    let side = Side::Response;
    let obj = object(side, body, "response")?;
    let choices = array(side, obj.get("choices").unwrap_or(&Value::Null), "choices")?;
    let choice = object(side, choices.first().unwrap_or(&Value::Null), "choices[0]")?;
    let message = object(
        side,
        choice.get("message").unwrap_or(&Value::Null),
        "choices[0].message",
    )?;
    let mut content = Vec::new();
    if let Some(text) = opt_string(side, message, "content", "choices[0].message")? {
        if !text.is_empty() {
            content.push(Part::Text { text });
        }
    }
    if let Some(text) = opt_string(side, message, "refusal", "choices[0].message")? {
        if !text.is_empty() {
            content.push(Part::Refusal { text });
        }
    }
    if let Some(calls) = message.get("tool_calls").filter(|v| !v.is_null()) {
        for (j, call) in array(side, calls, "choices[0].message.tool_calls")?
            .iter()
            .enumerate()
        {
            let p = format!("choices[0].message.tool_calls[{j}]");
            let call = object(side, call, &p)?;
            let fp = format!("{p}.function");
            let f = object(side, call.get("function").unwrap_or(&Value::Null), &fp)?;
            content.push(Part::ToolCall {
                id: string(side, call, "id", &p)?,
                name: string(side, f, "name", &fp)?,
                arguments: opt_string(side, f, "arguments", &fp)?.unwrap_or_default(),
            });
        }
    }
    let stop_reason =
        opt_string(side, choice, "finish_reason", "choices[0]")?.map(|r| stop_reason_from_wire(&r));
    Ok(ChatResponse {
        id: opt_string(side, obj, "id", "response")?.unwrap_or_default(),
        model: opt_string(side, obj, "model", "response")?.unwrap_or_default(),
        content,
        stop_reason,
        usage: usage_from_wire(obj.get("usage").unwrap_or(&Value::Null))?,
    })
}

/// Writes a canonical answer as an OpenAI `chat.completion`. Text parts are joined into the
/// one `content` string; thinking parts are left out.
pub fn response_to_wire(resp: &ChatResponse, created: u64) -> Value {
    let mut text: Option<String> = None;
    let mut refusal: Option<String> = None;
    let mut calls = Vec::new();
    for part in &resp.content {
        match part {
            Part::Text { text: t } => text.get_or_insert_with(String::new).push_str(t),
            Part::Refusal { text: t } => refusal.get_or_insert_with(String::new).push_str(t),
            Part::ToolCall {
                id,
                name,
                arguments,
            } => calls.push(json!({
                "id": id, "type": "function",
                "function": {"name": name, "arguments": arguments},
            })),
            Part::Thinking { .. } | Part::ToolResult { .. } => {}
        }
    }
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    message.insert("content".into(), json!(text));
    if let Some(r) = refusal {
        message.insert("refusal".into(), json!(r));
    }
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    let mut body = json!({
        "id": resp.id,
        "object": "chat.completion",
        "created": created,
        "model": resp.model,
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": resp.stop_reason.as_ref().map(stop_reason_to_wire),
        }],
    });
    if let Some(u) = &resp.usage {
        body["usage"] = usage_to_wire(u);
    }
    body
}

/// Translates an OpenAI stream, one SSE `data:` payload at a time, into canonical events.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    started: bool,
    done: bool,
    next_index: usize,
    text_index: Option<usize>,
    refusal_index: Option<usize>,
    /// OpenAI's tool-call index → the canonical part index.
    tools: Vec<(u64, usize)>,
}

impl StreamDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> StreamDecoder {
        StreamDecoder::default()
    }

    /// Whether `data: [DONE]` has been seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Translates one `data:` payload, appending its events to `out`.
    pub fn decode(&mut self, data: &str, out: &mut Vec<ChatEvent>) -> Result<(), CallError> {
        let side = Side::Response;
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| CallError::InvalidResponse(format!("stream chunk: {e}")))?;
        let obj = object(side, &chunk, "chunk")?;
        if let Some(error) = obj.get("error") {
            return Err(CallError::InvalidResponse(format!(
                "the provider sent an error in the stream: {error}"
            )));
        }
        if !self.started {
            self.started = true;
            out.push(ChatEvent::Start {
                id: opt_string(side, obj, "id", "chunk")?.unwrap_or_default(),
                model: opt_string(side, obj, "model", "chunk")?.unwrap_or_default(),
            });
        }
        if let Some(choices) = obj.get("choices").filter(|v| !v.is_null()) {
            if let Some(choice) = array(side, choices, "chunk.choices")?.first() {
                let choice = object(side, choice, "chunk.choices[0]")?;
                if let Some(delta) = choice.get("delta").and_then(Value::as_object) {
                    self.decode_delta(delta, out)?;
                }
                if let Some(reason) = opt_string(side, choice, "finish_reason", "chunk.choices[0]")?
                {
                    out.push(ChatEvent::Stop {
                        reason: stop_reason_from_wire(&reason),
                    });
                }
            }
        }
        if let Some(usage) = usage_from_wire(obj.get("usage").unwrap_or(&Value::Null))? {
            out.push(ChatEvent::Usage { usage });
        }
        Ok(())
    }

    fn decode_delta(
        &mut self,
        delta: &Map<String, Value>,
        out: &mut Vec<ChatEvent>,
    ) -> Result<(), CallError> {
        let side = Side::Response;
        if let Some(text) = opt_string(side, delta, "content", "delta")? {
            if !text.is_empty() {
                let index = match self.text_index {
                    Some(i) => i,
                    None => {
                        let i = self.next_index;
                        self.next_index += 1;
                        self.text_index = Some(i);
                        i
                    }
                };
                out.push(ChatEvent::Text { index, text });
            }
        }
        if let Some(text) = opt_string(side, delta, "refusal", "delta")? {
            if !text.is_empty() {
                let index = match self.refusal_index {
                    Some(i) => i,
                    None => {
                        let i = self.next_index;
                        self.next_index += 1;
                        self.refusal_index = Some(i);
                        i
                    }
                };
                out.push(ChatEvent::Refusal { index, text });
            }
        }
        if let Some(calls) = delta.get("tool_calls").filter(|v| !v.is_null()) {
            for (j, call) in array(side, calls, "delta.tool_calls")?.iter().enumerate() {
                let p = format!("delta.tool_calls[{j}]");
                let call = object(side, call, &p)?;
                let wire_index = opt_u64(side, call, "index", &p)?.unwrap_or(j as u64);
                let function = call.get("function").and_then(Value::as_object);
                let known = self.tools.iter().find(|(w, _)| *w == wire_index);
                let index = match known {
                    Some(&(_, i)) => i,
                    None => {
                        let i = self.next_index;
                        self.next_index += 1;
                        self.tools.push((wire_index, i));
                        let name = match function {
                            Some(f) => opt_string(side, f, "name", &p)?,
                            None => None,
                        };
                        out.push(ChatEvent::ToolCallStart {
                            index: i,
                            id: opt_string(side, call, "id", &p)?.unwrap_or_default(),
                            name: name.unwrap_or_default(),
                        });
                        i
                    }
                };
                if let Some(f) = function {
                    if let Some(json) = opt_string(side, f, "arguments", &p)? {
                        if !json.is_empty() {
                            out.push(ChatEvent::ToolArguments { index, json });
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Writes canonical events as OpenAI `chat.completion.chunk` payloads (for `data:` lines;
/// the caller ends the stream with `data: [DONE]`). Thinking is not passed on.
#[derive(Debug)]
pub struct StreamEncoder {
    id: String,
    model: String,
    created: u64,
    /// Canonical part index → OpenAI tool-call index.
    tools: Vec<(usize, usize)>,
}

impl StreamEncoder {
    /// An encoder for one answer.
    pub fn new(created: u64) -> StreamEncoder {
        StreamEncoder {
            id: String::new(),
            model: String::new(),
            created,
            tools: Vec::new(),
        }
    }

    fn chunk(&self, choices: Value) -> Value {
        json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "choices": choices,
        })
    }

    fn delta(&self, delta: Value) -> Value {
        self.chunk(json!([{"index": 0, "delta": delta, "finish_reason": null}]))
    }

    fn tool_index(&self, index: usize) -> Option<usize> {
        self.tools
            .iter()
            .find(|(c, _)| *c == index)
            .map(|&(_, w)| w)
    }

    /// The chunk for one event, if it has one.
    pub fn encode(&mut self, event: &ChatEvent) -> Option<Value> {
        match event {
            ChatEvent::Start { id, model } => {
                self.id.clone_from(id);
                self.model.clone_from(model);
                Some(self.delta(json!({"role": "assistant", "content": ""})))
            }
            ChatEvent::Text { text, .. } => Some(self.delta(json!({"content": text}))),
            ChatEvent::Refusal { text, .. } => Some(self.delta(json!({"refusal": text}))),
            ChatEvent::ToolCallStart { index, id, name } => {
                let wire = self.tools.len();
                self.tools.push((*index, wire));
                Some(self.delta(json!({"tool_calls": [{
                    "index": wire, "id": id, "type": "function",
                    "function": {"name": name, "arguments": ""},
                }]})))
            }
            ChatEvent::ToolArguments { index, json } => {
                let wire = self.tool_index(*index)?;
                Some(self.delta(
                    json!({"tool_calls": [{"index": wire, "function": {"arguments": json}}]}),
                ))
            }
            ChatEvent::Thinking { .. } | ChatEvent::ThinkingSignature { .. } => None,
            ChatEvent::Stop { reason } => Some(self.chunk(json!([{
                "index": 0, "delta": {}, "finish_reason": stop_reason_to_wire(reason),
            }]))),
            ChatEvent::Usage { usage } => {
                let mut chunk = self.chunk(json!([]));
                chunk["usage"] = usage_to_wire(usage);
                Some(chunk)
            }
        }
    }
}
