//! `plinth design "…" --out DIR` and `plinth chat`: the LLM front door.
//!
//! The model's text streams to stdout as it arrives; what the loop does (tool calls, their
//! results, repairs) goes to stderr, so `plinth design … > explanation.md` keeps the prose.
//! Without a configured provider both commands explain how to configure one and exit 2.

use crate::arguments::{ChatOptions, DesignOptions, LlmOptions};
use crate::Outcome;
use plinth_agent::agent::{Agent, Budget, Event, Observer, Outcome as RunOutcome};
use plinth_agent::provider::{Provider, ProviderConfig, ProviderFlags};
use plinth_agent::record;
use plinth_agent::tools::{Project, SCHEMA_FILE};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub fn run_design(options: &DesignOptions) -> anyhow::Result<Outcome> {
    let provider = provider(&options.llm)?;
    let project = Project::open(&options.out)
        .map_err(|e| anyhow::anyhow!("cannot use `{}`: {e}", options.out.display()))?;
    let runtime = runtime()?;
    let mut agent = Agent::new(provider, project, budget(&options.llm), observer());
    let request = options.request.join(" ");
    let result = runtime.block_on(agent.turn(&request));
    finish_turn(&mut agent, &request, result)
}

pub fn run_chat(options: &ChatOptions) -> anyhow::Result<Outcome> {
    let provider = provider(&options.llm)?;
    let project = Project::open(&options.dir)
        .map_err(|e| anyhow::anyhow!("cannot use `{}`: {e}", options.dir.display()))?;
    let runtime = runtime()?;
    let mut agent = Agent::new(provider, project, budget(&options.llm), observer());
    if let Some(saved) = record::load(agent.project.root()).map_err(anyhow::Error::msg)? {
        eprintln!(
            "continuing the conversation in {} ({} messages so far)",
            options.dir.display(),
            saved.messages.len()
        );
        agent.messages = saved.messages;
    }
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut last = Outcome::Clean;
    let mut first_request = agent
        .messages
        .iter()
        .find(|m| m.role == plinth_agent::Role::User)
        .map(|m| m.content.clone());
    loop {
        if interactive {
            eprint!("you> ");
            let _ = std::io::stderr().flush();
        }
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim();
        match line {
            "" => continue,
            "/quit" | "/exit" => break,
            _ => {}
        }
        // The budget is per turn; the transcript keeps the whole conversation.
        agent.spent = Default::default();
        let request = first_request
            .get_or_insert_with(|| line.to_string())
            .clone();
        let result = runtime.block_on(agent.turn(line));
        last = finish_turn(&mut agent, &request, result)?;
    }
    Ok(last)
}

/// Writes what a turn produced, saves the transcript and prints what the turn used.
fn finish_turn(
    agent: &mut Agent,
    request: &str,
    result: Result<RunOutcome, plinth_agent::provider::ProviderError>,
) -> anyhow::Result<Outcome> {
    println!();
    let root = agent.project.root().to_path_buf();
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(error) => {
            let _ = record::save(
                &root,
                &agent.messages,
                &agent.spent,
                &format!("failed: {error}"),
            );
            eprintln!("used: {}", agent.spent.describe());
            return Err(anyhow::anyhow!("the model could not be reached: {error}"));
        }
    };
    record::save(
        &root,
        &agent.messages,
        &agent.spent,
        &record::status_of(&outcome),
    )?;
    let code = match &outcome {
        RunOutcome::Ready { summary } => {
            write_deliverables(agent, &root, request, summary)?;
            Outcome::Clean
        }
        RunOutcome::Stopped {
            reason,
            last_report,
        } => {
            eprintln!("stopped: {reason}");
            if !last_report.trim().is_empty() {
                eprintln!("what is still wrong:\n{}", last_report.trim_end());
            }
            Outcome::Findings
        }
    };
    eprintln!("used: {}", agent.spent.describe());
    Ok(code)
}

fn write_deliverables(
    agent: &Agent,
    root: &Path,
    request: &str,
    summary: &str,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(root.join(SCHEMA_FILE))?;
    let (schema, _) = plinth_model::compile(&text);
    let adr_path = root.join(record::ADR_PATH);
    if let Some(parent) = adr_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&adr_path, record::adr(request, &schema, summary))?;
    let built = agent.project.build(SCHEMA_FILE);
    if !built.ok {
        anyhow::bail!(
            "the draft passed the gate but did not build: {}",
            built.text
        );
    }
    eprintln!(
        "wrote {}, {} and build/ in {}",
        SCHEMA_FILE,
        record::ADR_PATH,
        root.display()
    );
    Ok(())
}

fn provider(options: &LlmOptions) -> anyhow::Result<Arc<Provider>> {
    let flags = ProviderFlags {
        provider: options.provider.clone(),
        base_url: options.base_url.clone(),
        model: options.model.clone(),
        api_key: options.api_key.clone(),
    };
    let config_text = match &options.llm_config {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read `{}`: {e}", path.display()))?,
        ),
        None => std::fs::read_to_string("plinth.toml").ok(),
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let config = ProviderConfig::resolve(&flags, &env, config_text.as_deref())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Arc::new(
        Provider::new(config).map_err(|e| anyhow::anyhow!("{e}"))?,
    ))
}

fn budget(options: &LlmOptions) -> Budget {
    Budget {
        max_steps: options.max_steps,
        max_tokens: options.max_tokens,
        max_time: Duration::from_secs(options.max_time),
        max_repairs: options.max_repairs,
        max_parallel: options.parallel.max(1),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Prints the model's text to stdout as it streams, and the loop's actions to stderr.
fn observer() -> Observer {
    Arc::new(|event: Event| match event {
        Event::Text(delta) => {
            print!("{delta}");
            let _ = std::io::stdout().flush();
        }
        Event::ToolCall { name, arguments } => {
            let path = arguments
                .get("path")
                .and_then(|p| p.as_str())
                .map(|p| format!(" {p}"))
                .unwrap_or_default();
            eprintln!("\n→ {name}{path}");
        }
        Event::ToolResult { name, ok, summary } => {
            let mark = if ok { "ok" } else { "failed" };
            eprintln!("  {name} {mark}: {summary}");
        }
        Event::Repair { round, .. } => {
            eprintln!("\n↺ the draft does not pass yet; sent the diagnostics back (round {round})");
        }
        Event::SubAgents { started } => eprintln!("  {started} sub-agents at work"),
    })
}
