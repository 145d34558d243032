//! A small agent loop against a local OpenAI-compatible server (Ollama, vLLM, llama.cpp):
//! each step is routed by a policy, and the chosen model's client, ready to call, comes from
//! the decision (`Clients::for_decision`). The conversation grows with every answer.
//!
//! ```text
//! OPENAI_BASE_URL=http://localhost:11434/v1 OPENAI_MODEL=llama3.2 cargo run --example live_agent
//! ```
//!
//! Without a server listening there, each step prints the client's error and the loop goes
//! on. A key, when the server wants one, is read from `OPENAI_API_KEY`.

#[cfg(feature = "clients")]
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    use switchyard::clients::{ChatMessage, ChatRequest, Clients, Part};
    use switchyard::{PolicySet, Router, Step};

    let base_url =
        std::env::var("OPENAI_BASE_URL").unwrap_or_else(|_| "http://localhost:11434/v1".into());
    let model = std::env::var("OPENAI_MODEL").unwrap_or_else(|_| "llama3.2".into());
    let key = if std::env::var_os("OPENAI_API_KEY").is_some() {
        "api_key_env = \"OPENAI_API_KEY\""
    } else {
        ""
    };
    // Two tiers on one local server: plans get a bigger output limit, and fall back to the
    // small model when the planner's calls keep failing.
    let policy = format!(
        r#"[policy]
name = "live-agent"
default_tier = "cheap"

[models.local]
provider = "openai"
model_id = "{model}"
base_url = "{base_url}"
{key}
input_usd_per_mtok = 0.0
output_usd_per_mtok = 0.0
max_output_tokens = 256
timeout_seconds = 120

[models.local-planner]
provider = "openai"
model_id = "{model}"
base_url = "{base_url}"
{key}
input_usd_per_mtok = 0.0
output_usd_per_mtok = 0.0
max_output_tokens = 1024
timeout_seconds = 120

[tiers]
cheap = "local"
planner = ["local-planner", "local"]

[[rules]]
name = "plans-think-longer"
when = {{ role = "plan" }}
tier = "planner"
"#
    );
    let set = match PolicySet::from_policy_text(std::path::Path::new("live-agent.toml"), policy) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let router = Router::new(set);
    let mut conversation: Vec<ChatMessage> = Vec::new();
    let steps = [
        (
            "plan",
            "Plan, in three short bullet points, how to summarise a contract.",
        ),
        (
            "extract",
            "Name the parties a typical services contract has.",
        ),
        ("format", "Put your last answer in one sentence."),
    ];
    for (role, prompt) in steps {
        let decision = match router.route(&Step::new(role).prompt(prompt)) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{role}: not routed: {e}");
                continue;
            }
        };
        let client = match Clients::for_decision(&decision) {
            Ok(Some(c)) => c,
            // A mock model: nothing to call.
            Ok(None) => continue,
            Err(e) => {
                eprintln!("{role}: no client: {e}");
                continue;
            }
        };
        conversation.push(ChatMessage::user(prompt));
        let request = ChatRequest {
            system: Some("You are a terse assistant.".into()),
            max_output_tokens: decision.model().max_output_tokens,
            ..ChatRequest::new(conversation.clone())
        };
        println!(
            "-- {role} -> tier `{}`, model `{}`",
            decision.tier(),
            decision.model().key
        );
        match client.chat(&request).await {
            Ok(answer) => {
                let text: String = answer
                    .content
                    .iter()
                    .filter_map(|p| match p {
                        Part::Text { text } => Some(text.as_str()),
                        _ => None,
                    })
                    .collect();
                println!("{text}");
                if let Some(u) = answer.usage {
                    println!("   ({} tokens in, {} out)", u.input_tokens, u.output_tokens);
                }
                conversation.push(ChatMessage::assistant(text));
            }
            Err(e) => {
                eprintln!("   the call failed ({}): {e}", e.kind());
                conversation.pop();
            }
        }
    }
    std::process::ExitCode::SUCCESS
}

#[cfg(not(feature = "clients"))]
fn main() {
    eprintln!("this example needs the `clients` feature (on by default)");
}
