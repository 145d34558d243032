//! The canonical chat request, response and stream events that every provider module
//! translates to and from its wire format (docs/providers.md has the mapping table).
//!
//! The shape is the union of what OpenAI Chat Completions and Anthropic Messages can both
//! say, plus the request fields it does not know, kept as raw JSON together with the wire
//! format they came in, so that a same-format upstream still receives them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A wire format: the provider API a request or response is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireFormat {
    /// OpenAI Chat Completions (`POST …/chat/completions`), spoken by every OpenAI-compatible
    /// server.
    Openai,
    /// Anthropic Messages (`POST …/v1/messages`).
    Anthropic,
}

impl WireFormat {
    /// The provider name used in policies (`provider = "openai"`).
    pub fn as_str(self) -> &'static str {
        match self {
            WireFormat::Openai => "openai",
            WireFormat::Anthropic => "anthropic",
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatRole {
    /// The user's (or the agent's) turn.
    User,
    /// An earlier model reply: text, tool calls, thinking.
    Assistant,
    /// Results of tool calls, sent back to the model (OpenAI role `tool`; Anthropic
    /// `tool_result` blocks in a user message).
    Tool,
}

/// One piece of a message or of a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// A call of a tool that the model asks for.
    ToolCall {
        /// The provider's id for the call, echoed by the result.
        id: String,
        /// The tool's name.
        name: String,
        /// The arguments as JSON text, exactly as the model wrote them (a stream may cut
        /// them anywhere, so they are text, not a parsed value).
        arguments: String,
    },
    /// What a tool returned.
    ToolResult {
        /// The id of the call it answers.
        tool_call_id: String,
        /// The result as text.
        content: String,
        /// Whether the tool failed (Anthropic `is_error`; OpenAI cannot say it).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
    /// The model declining to answer (OpenAI `refusal`). Anthropic has no such part: its
    /// callers get the refusal as text.
    Refusal {
        /// The refusal message.
        text: String,
    },
    /// The model's visible reasoning (Anthropic thinking blocks). Never passed to
    /// OpenAI-format callers.
    Thinking {
        /// The reasoning text.
        text: String,
        /// Anthropic's signature over it, needed to send it back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
}

impl Part {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Part {
        Part::Text { text: text.into() }
    }
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: ChatRole,
    /// Its parts, in order.
    pub content: Vec<Part>,
}

impl ChatMessage {
    /// A user message with one text part.
    pub fn user(text: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: ChatRole::User,
            content: vec![Part::text(text)],
        }
    }

    /// An assistant message with one text part.
    pub fn assistant(text: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: ChatRole::Assistant,
            content: vec![Part::text(text)],
        }
    }

    /// A tool message answering one call.
    pub fn tool_result(tool_call_id: impl Into<String>, content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: ChatRole::Tool,
            content: vec![Part::ToolResult {
                tool_call_id: tool_call_id.into(),
                content: content.into(),
                is_error: false,
            }],
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    /// Its name.
    pub name: String,
    /// What it does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema of its arguments.
    pub parameters: Value,
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool call.
    None,
    /// Some tool call (OpenAI `required`, Anthropic `any`).
    Required,
    /// This tool.
    Tool(String),
}

/// How hard the model should reason before answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reasoning {
    /// OpenAI `low`; Anthropic thinking with 1024 budget tokens.
    Low,
    /// OpenAI `medium`; Anthropic 2048.
    Medium,
    /// OpenAI `high`; Anthropic 4096.
    High,
}

impl Reasoning {
    /// The OpenAI `reasoning_effort` word.
    pub fn as_str(self) -> &'static str {
        match self {
            Reasoning::Low => "low",
            Reasoning::Medium => "medium",
            Reasoning::High => "high",
        }
    }

    /// The Anthropic thinking budget, before it is kept below `max_tokens`.
    pub fn budget_tokens(self) -> u64 {
        match self {
            Reasoning::Low => 1024,
            Reasoning::Medium => 2048,
            Reasoning::High => 4096,
        }
    }
}

/// Request fields the canonical shape does not know, kept as raw JSON with the format they
/// were written in. They are sent on only to an upstream of the same format; any other
/// upstream refuses the request with `unsupported_parameter` naming the first of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtraFields {
    /// The wire format the fields belong to.
    pub format: WireFormat,
    /// The fields, by top-level key, in the order they came.
    pub fields: Map<String, Value>,
}

/// The canonical chat request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model the caller named (as read from a wire request). A [`ProviderClient`]
    /// always sends its own model's `model_id`, so that a fallback sends its own.
    ///
    /// [`ProviderClient`]: super::ProviderClient
    #[serde(default)]
    pub model: String,
    /// The system text (OpenAI `system`/`developer` messages, Anthropic top-level `system`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The conversation, oldest first.
    #[serde(default)]
    pub messages: Vec<ChatMessage>,
    /// The tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDefinition>,
    /// Whether and which tool must be called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// The most output tokens the model may write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// Ask for a JSON object as the answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub json_output: bool,
    /// Ask for reasoning before the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning>,
    /// Fields of the caller's wire format that the canonical shape does not know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<ExtraFields>,
}

impl ChatRequest {
    /// A request with these messages and nothing else set.
    pub fn new(messages: Vec<ChatMessage>) -> ChatRequest {
        ChatRequest {
            messages,
            ..ChatRequest::default()
        }
    }

    /// Sets the system text.
    pub fn system(mut self, text: impl Into<String>) -> ChatRequest {
        self.system = Some(text.into());
        self
    }

    /// Sets the output limit.
    pub fn max_output_tokens(mut self, n: u64) -> ChatRequest {
        self.max_output_tokens = Some(n);
        self
    }
}

/// Why the model stopped writing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// It finished (OpenAI `stop`, Anthropic `end_turn`).
    EndTurn,
    /// It wrote one of the stop sequences (OpenAI `stop`, Anthropic `stop_sequence`).
    StopSequence,
    /// It hit the output limit (`length` / `max_tokens`).
    MaxTokens,
    /// It asks for tool calls (`tool_calls` / `tool_use`).
    ToolUse,
    /// It refused or was filtered (`content_filter` / `refusal`).
    ContentFilter,
    /// A reason this shape has no name for, as the provider wrote it.
    Other(String),
}

/// Tokens as the provider counted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenUsage {
    /// All input tokens, cached and cache-written ones included.
    pub input_tokens: u64,
    /// Output tokens (reasoning included).
    pub output_tokens: u64,
    /// Input tokens read from the provider's prompt cache (OpenAI `cached_tokens`,
    /// Anthropic `cache_read_input_tokens`).
    pub cached_input_tokens: u64,
    /// Input tokens written to the cache (Anthropic `cache_creation_input_tokens`).
    pub cache_write_tokens: u64,
}

/// The canonical answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The provider's id for the answer.
    pub id: String,
    /// The model that answered, as the provider names it.
    pub model: String,
    /// Text, tool calls and thinking, in order.
    pub content: Vec<Part>,
    /// Why it stopped; `None` when the provider did not say (a cut stream).
    pub stop_reason: Option<StopReason>,
    /// The provider's token counts; `None` when it reported none.
    pub usage: Option<TokenUsage>,
}

impl ChatResponse {
    /// All text parts, joined.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for part in &self.content {
            if let Part::Text { text } = part {
                out.push_str(text);
            }
        }
        out
    }

    /// The tool calls, in order.
    pub fn tool_calls(&self) -> impl Iterator<Item = &Part> {
        self.content
            .iter()
            .filter(|p| matches!(p, Part::ToolCall { .. }))
    }

    /// The whole answer as the events a stream of it would carry: what
    /// [`ResponseBuilder`] folds back into the same answer.
    pub fn events(&self) -> Vec<ChatEvent> {
        let mut events = vec![ChatEvent::Start {
            id: self.id.clone(),
            model: self.model.clone(),
        }];
        for (index, part) in self.content.iter().enumerate() {
            match part {
                Part::Text { text } => events.push(ChatEvent::Text {
                    index,
                    text: text.clone(),
                }),
                Part::ToolCall {
                    id,
                    name,
                    arguments,
                } => {
                    events.push(ChatEvent::ToolCallStart {
                        index,
                        id: id.clone(),
                        name: name.clone(),
                    });
                    events.push(ChatEvent::ToolArguments {
                        index,
                        json: arguments.clone(),
                    });
                }
                Part::Refusal { text } => events.push(ChatEvent::Refusal {
                    index,
                    text: text.clone(),
                }),
                Part::Thinking { text, signature } => {
                    events.push(ChatEvent::Thinking {
                        index,
                        text: text.clone(),
                    });
                    if let Some(signature) = signature {
                        events.push(ChatEvent::ThinkingSignature {
                            index,
                            signature: signature.clone(),
                        });
                    }
                }
                // An answer never holds a tool result (the caller sends those); no event
                // carries one.
                Part::ToolResult { .. } => {}
            }
        }
        if let Some(reason) = &self.stop_reason {
            events.push(ChatEvent::Stop {
                reason: reason.clone(),
            });
        }
        if let Some(usage) = self.usage {
            events.push(ChatEvent::Usage { usage });
        }
        events
    }
}

/// One event of a streamed answer. `index` is the position of the part in the final
/// [`ChatResponse::content`], so events fold into the same answer a plain call returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatEvent {
    /// The answer begins.
    Start {
        /// The provider's id for the answer.
        id: String,
        /// The model that answers.
        model: String,
    },
    /// More text of the text part at `index`.
    Text {
        /// Part index.
        index: usize,
        /// The new text.
        text: String,
    },
    /// A tool call part begins at `index`.
    ToolCallStart {
        /// Part index.
        index: usize,
        /// The call's id.
        id: String,
        /// The tool's name.
        name: String,
    },
    /// More argument text of the tool call at `index`.
    ToolArguments {
        /// Part index.
        index: usize,
        /// The new JSON text.
        json: String,
    },
    /// More of the refusal part at `index` (OpenAI `delta.refusal`).
    Refusal {
        /// Part index.
        index: usize,
        /// The new text.
        text: String,
    },
    /// More reasoning text of the thinking part at `index`.
    Thinking {
        /// Part index.
        index: usize,
        /// The new text.
        text: String,
    },
    /// The signature of the thinking part at `index`.
    ThinkingSignature {
        /// Part index.
        index: usize,
        /// The signature.
        signature: String,
    },
    /// Why the model stopped.
    Stop {
        /// The reason.
        reason: StopReason,
    },
    /// The provider's token counts (usually at the end).
    Usage {
        /// The counts.
        usage: TokenUsage,
    },
}

/// Folds stream events into the answer a plain call would have returned.
#[derive(Debug, Clone, Default)]
pub struct ResponseBuilder {
    id: String,
    model: String,
    content: Vec<Part>,
    stop_reason: Option<StopReason>,
    usage: Option<TokenUsage>,
}

impl ResponseBuilder {
    /// An empty answer.
    pub fn new() -> ResponseBuilder {
        ResponseBuilder::default()
    }

    /// Adds one event.
    pub fn push(&mut self, event: &ChatEvent) {
        match event {
            ChatEvent::Start { id, model } => {
                self.id.clone_from(id);
                self.model.clone_from(model);
            }
            ChatEvent::Text { index, text } => {
                if let Part::Text { text: t } = self.slot(*index, || Part::text("")) {
                    t.push_str(text);
                }
            }
            ChatEvent::ToolCallStart { index, id, name } => {
                let part = Part::ToolCall {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                };
                let slot = self.slot(*index, || Part::text(""));
                *slot = part;
            }
            ChatEvent::ToolArguments { index, json } => {
                let fresh = || Part::ToolCall {
                    id: String::new(),
                    name: String::new(),
                    arguments: String::new(),
                };
                if let Part::ToolCall { arguments, .. } = self.slot(*index, fresh) {
                    arguments.push_str(json);
                }
            }
            ChatEvent::Refusal { index, text } => {
                let fresh = || Part::Refusal {
                    text: String::new(),
                };
                if let Part::Refusal { text: t } = self.slot(*index, fresh) {
                    t.push_str(text);
                }
            }
            ChatEvent::Thinking { index, text } => {
                let fresh = || Part::Thinking {
                    text: String::new(),
                    signature: None,
                };
                if let Part::Thinking { text: t, .. } = self.slot(*index, fresh) {
                    t.push_str(text);
                }
            }
            ChatEvent::ThinkingSignature { index, signature } => {
                let fresh = || Part::Thinking {
                    text: String::new(),
                    signature: None,
                };
                if let Part::Thinking { signature: s, .. } = self.slot(*index, fresh) {
                    *s = Some(signature.clone());
                }
            }
            ChatEvent::Stop { reason } => self.stop_reason = Some(reason.clone()),
            ChatEvent::Usage { usage } => self.usage = Some(*usage),
        }
    }

    /// The part at `index`, created with `fresh` (and gaps filled with empty text) when the
    /// stream has not opened it yet.
    fn slot(&mut self, index: usize, fresh: impl FnOnce() -> Part) -> &mut Part {
        while self.content.len() < index {
            self.content.push(Part::text(""));
        }
        if self.content.len() == index {
            self.content.push(fresh());
        }
        &mut self.content[index]
    }

    /// The answer so far.
    pub fn finish(self) -> ChatResponse {
        ChatResponse {
            id: self.id,
            model: self.model,
            content: self.content,
            stop_reason: self.stop_reason,
            usage: self.usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Streaming a whole answer (what `serve --mock` does for `"stream": true`) loses no
    /// part: its events fold back into the same answer.
    #[test]
    fn an_answer_streamed_as_events_folds_back_into_itself() {
        let answer = ChatResponse {
            id: "a-1".into(),
            model: "m".into(),
            content: vec![
                Part::Thinking {
                    text: "weigh it".into(),
                    signature: Some("sig".into()),
                },
                Part::text("Here:"),
                Part::Refusal {
                    text: "not that part".into(),
                },
                Part::ToolCall {
                    id: "c1".into(),
                    name: "look".into(),
                    arguments: "{\"q\":1}".into(),
                },
            ],
            stop_reason: Some(StopReason::ToolUse),
            usage: Some(TokenUsage {
                input_tokens: 3,
                output_tokens: 4,
                ..TokenUsage::default()
            }),
        };
        let mut b = ResponseBuilder::new();
        for e in answer.events() {
            b.push(&e);
        }
        assert_eq!(b.finish(), answer);
    }
}
