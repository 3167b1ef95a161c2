//! The tool-calling loop: ask the model, run the tools it calls, send back their results, and
//! repeat until the model presents a draft that passes the gate (it compiles, review has no
//! errors) or the budget runs out.
//!
//! Everything here is bounded: model calls (steps), tokens, wall time, rounds of "your draft
//! does not compile yet", and a model repeating the same call. When a bound stops the run, the
//! outcome says which one, so the person knows what happened and what it cost.

use crate::conversation::{ChatRequest, Message, ToolCall, Usage};
use crate::provider::{Provider, ProviderError};
use crate::toolcall::{self, RepetitionDetector};
use crate::tools::{Project, Toolset, SCHEMA_FILE};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Limits of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Model calls.
    pub max_steps: u32,
    /// Input plus output tokens over all model calls (sub-agents included).
    pub max_tokens: u64,
    pub max_time: Duration,
    /// Times the gate may send a failing draft back before the run gives up.
    pub max_repairs: u32,
    /// Sub-agents running at once.
    pub max_parallel: usize,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            max_steps: 40,
            max_tokens: 400_000,
            max_time: Duration::from_secs(15 * 60),
            max_repairs: 6,
            max_parallel: 3,
        }
    }
}

/// What the run used, printed at the end of every run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spent {
    pub steps: u32,
    pub tool_calls: u32,
    pub usage: Usage,
    pub elapsed: Duration,
    pub sub_agents: u32,
}

impl Spent {
    pub fn describe(&self) -> String {
        format!(
            "{} model calls, {} tool calls, {} sub-agents, {} tokens ({} in, {} out), {:.1} s",
            self.steps,
            self.tool_calls,
            self.sub_agents,
            self.usage.total(),
            self.usage.input_tokens,
            self.usage.output_tokens,
            self.elapsed.as_secs_f64()
        )
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    /// The draft passed the gate; `summary` is the model's closing explanation.
    Ready { summary: String },
    /// A bound stopped the run before the draft passed; `reason` says which, `last_report` what
    /// was still wrong.
    Stopped { reason: String, last_report: String },
}

/// What the loop tells the terminal as it goes.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A piece of the model's text, as it streams.
    Text(String),
    ToolCall {
        name: String,
        arguments: Value,
    },
    ToolResult {
        name: String,
        ok: bool,
        summary: String,
    },
    /// The gate sent the draft back (n-th time).
    Repair {
        round: u32,
        report: String,
    },
    SubAgents {
        started: usize,
    },
}

pub type Observer = Arc<dyn Fn(Event) + Send + Sync>;

/// A conversation with its project, provider and budget. `plinth chat` keeps one across turns.
pub struct Agent {
    pub provider: Arc<Provider>,
    pub project: Project,
    pub budget: Budget,
    pub messages: Vec<Message>,
    pub spent: Spent,
    observer: Observer,
}

const SYSTEM_PROMPT: &str = "You are Plinth's backend architect. You design backends as one schema file, `schema.plinth`, \
in Prisma's schema language extended with access policies: `@@allow('read', true)`, \
`@@allow('create,update,delete', auth() == owner)`, `@@deny(...)`, field-level `@allow`/`@deny`, \
`@@auth` on the user model, `@password` and `@omit` on secrets, validation attributes (`@email`, \
`@length(min, max)`). Models with no rule are not reachable through the API (deny by default). \
Work with the tools: write the schema with write_file, then call check and fix every error, call \
review and fix every error-level finding; build and serve_and_verify when useful. When the draft is \
done, answer without calling a tool: explain the main choices and their trade-offs (database, auth, \
pagination, policies) in a few short paragraphs.";

const SUB_AGENT_PROMPT: &str = "You are a reviewer helping Plinth's backend architect. Read the project's files with the tools, \
judge only the aspect you are asked about, and answer with a short list of concrete findings and \
fixes. Do not ask questions.";

impl Agent {
    pub fn new(
        provider: Arc<Provider>,
        project: Project,
        budget: Budget,
        observer: Observer,
    ) -> Agent {
        Agent {
            provider,
            project,
            budget,
            messages: Vec::new(),
            spent: Spent::default(),
            observer,
        }
    }

    /// Runs one turn: the person's `request`, then model calls and tools until the draft is
    /// ready or a bound stops it. A provider error that survived its retries ends the turn.
    pub async fn turn(&mut self, request: &str) -> Result<Outcome, ProviderError> {
        let started = Instant::now()
            .checked_sub(self.spent.elapsed)
            .unwrap_or_else(Instant::now);
        self.messages.push(Message::user(request));
        let mut repeats = RepetitionDetector::new(6);
        let mut repairs = 0u32;
        let mut tools = Project::specs(Toolset::Full);
        tools.push(delegate_spec(self.budget.max_parallel));
        let outcome = loop {
            self.spent.elapsed = started.elapsed();
            if let Some(reason) = self.over_budget() {
                break self.stopped(reason);
            }
            let request = ChatRequest {
                system: SYSTEM_PROMPT.to_string(),
                messages: self.messages.clone(),
                tools: tools.clone(),
                max_tokens: 4096,
                temperature: Some(0.2),
            };
            let observer = self.observer.clone();
            let remaining = self.budget.max_time.saturating_sub(started.elapsed());
            let mut on_text = |delta: &str| observer(Event::Text(delta.to_string()));
            let call = self.provider.complete(&request, &mut on_text);
            let response = match tokio::time::timeout(remaining, call).await {
                Ok(response) => response?,
                Err(_) => {
                    self.spent.elapsed = started.elapsed();
                    break self.stopped(format!(
                        "the time budget of {} s ran out while the model was answering",
                        self.budget.max_time.as_secs()
                    ));
                }
            };
            self.spent.steps += 1;
            self.spent.usage.add(response.usage);
            let (text, calls) = calls_of(&response, &tools, self.spent.steps);
            self.messages
                .push(Message::assistant(text.clone(), calls.clone()));

            if calls.is_empty() {
                // The model says it is done: the gate decides.
                let status = self.project.draft_status(SCHEMA_FILE);
                if status.is_ready() {
                    break Outcome::Ready { summary: text };
                }
                repairs += 1;
                (self.observer)(Event::Repair {
                    round: repairs,
                    report: status.report.clone(),
                });
                if repairs > self.budget.max_repairs {
                    break Outcome::Stopped {
                        reason: format!(
                            "the draft still does not pass after {} rounds of repairs",
                            self.budget.max_repairs
                        ),
                        last_report: status.report,
                    };
                }
                let what = if status.compiles {
                    format!(
                        "review found {} error(s) in `{SCHEMA_FILE}`",
                        status.review_errors
                    )
                } else {
                    format!("`{SCHEMA_FILE}` does not compile yet")
                };
                self.messages.push(Message::user(format!(
                    "The draft cannot be shown yet: {what}. Fix it with write_file, then check \
                     again.\n\n{}",
                    status.report
                )));
                continue;
            }

            let mut stop = None;
            for call in &calls {
                let seen = repeats.observe(call);
                let result = if seen >= 3 {
                    stop = Some(format!(
                        "the model repeated the same `{}` call {seen} times",
                        call.name
                    ));
                    "stopped: this exact call was made three times".to_string()
                } else {
                    let mut text = self.run_tool(call, &tools).await;
                    if seen == 2 {
                        text.push_str(
                            "\n\nnote: you made this exact call before and got this answer; \
                             change something or finish.",
                        );
                    }
                    text
                };
                self.messages.push(Message::tool_result(call, result));
            }
            if let Some(reason) = stop {
                self.spent.elapsed = started.elapsed();
                break self.stopped(reason);
            }
        };
        self.spent.elapsed = started.elapsed();
        Ok(outcome)
    }

    fn over_budget(&self) -> Option<String> {
        if self.spent.steps >= self.budget.max_steps {
            return Some(format!(
                "the step budget of {} model calls ran out",
                self.budget.max_steps
            ));
        }
        if self.spent.usage.total() >= self.budget.max_tokens {
            return Some(format!(
                "the token budget of {} tokens ran out",
                self.budget.max_tokens
            ));
        }
        if self.spent.elapsed >= self.budget.max_time {
            return Some(format!(
                "the time budget of {} s ran out",
                self.budget.max_time.as_secs()
            ));
        }
        None
    }

    fn stopped(&self, reason: String) -> Outcome {
        let status = self.project.draft_status(SCHEMA_FILE);
        Outcome::Stopped {
            reason,
            last_report: status.report,
        }
    }

    /// Parses, coerces and runs one call; the answer is what the model sees.
    async fn run_tool(&mut self, call: &ToolCall, tools: &[crate::ToolSpec]) -> String {
        self.spent.tool_calls += 1;
        let Some(spec) = tools.iter().find(|t| t.name == call.name) else {
            return format!(
                "error: there is no tool `{}`; the tools are: {}",
                call.name,
                tools
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let arguments = match &call.arguments {
            Value::String(raw) => match toolcall::parse_arguments(raw) {
                Ok(value) => value,
                Err(problem) => {
                    return format!("error: the arguments are not JSON ({problem}); send an object")
                }
            },
            other => other.clone(),
        };
        let arguments = match toolcall::coerce(arguments, &spec.parameters) {
            Ok(arguments) => arguments,
            Err(problems) => {
                return format!(
                    "error: the arguments do not fit `{}`: {}",
                    call.name,
                    problems.join("; ")
                )
            }
        };
        (self.observer)(Event::ToolCall {
            name: call.name.clone(),
            arguments: arguments.clone(),
        });
        let output = if call.name == DELEGATE {
            self.delegate(&arguments).await
        } else {
            self.project.call(&call.name, &arguments).await
        };
        (self.observer)(Event::ToolResult {
            name: call.name.clone(),
            ok: output.ok,
            summary: output.text.lines().next().unwrap_or("").to_string(),
        });
        if output.ok {
            output.text
        } else {
            format!("error: {}", output.text)
        }
    }

    /// Runs the delegated tasks as sub-agents, at most `max_parallel` at once, and merges their
    /// answers in the order the tasks were given.
    async fn delegate(&mut self, arguments: &Value) -> crate::tools::ToolOutput {
        let tasks: Vec<(String, String)> = arguments
            .get("tasks")
            .and_then(Value::as_array)
            .map(|tasks| {
                tasks
                    .iter()
                    .filter_map(|t| {
                        let title = t.get("title").and_then(Value::as_str).unwrap_or("task");
                        let instructions = t.get("instructions").and_then(Value::as_str)?;
                        Some((title.to_string(), instructions.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if tasks.is_empty() {
            return crate::tools::ToolOutput {
                ok: false,
                text: "delegate needs `tasks`: a list of {title, instructions}".to_string(),
            };
        }
        (self.observer)(Event::SubAgents {
            started: tasks.len(),
        });
        let semaphore = Arc::new(tokio::sync::Semaphore::new(self.budget.max_parallel.max(1)));
        let remaining_tokens = self
            .budget
            .max_tokens
            .saturating_sub(self.spent.usage.total());
        let per_agent = SubBudget {
            max_steps: 6,
            max_tokens: remaining_tokens / tasks.len() as u64,
            max_time: self.budget.max_time.saturating_sub(self.spent.elapsed),
        };
        let mut handles = Vec::new();
        for (title, instructions) in tasks.clone() {
            let provider = self.provider.clone();
            let project = self.project.clone();
            let semaphore = semaphore.clone();
            handles.push(tokio::spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                sub_agent(provider, project, &instructions, per_agent)
                    .await
                    .map(|(answer, spent)| (title, answer, spent))
            }));
        }
        let mut merged = String::new();
        let mut ok = true;
        for ((title, _), handle) in tasks.iter().zip(handles) {
            self.spent.sub_agents += 1;
            match handle.await {
                Ok(Ok((_, answer, spent))) => {
                    self.spent.usage.add(spent.usage);
                    self.spent.tool_calls += spent.tool_calls;
                    merged.push_str(&format!("## {title}\n{}\n\n", answer.trim()));
                }
                Ok(Err(error)) => {
                    ok = false;
                    merged.push_str(&format!("## {title}\nthe sub-agent failed: {error}\n\n"));
                }
                Err(error) => {
                    ok = false;
                    merged.push_str(&format!("## {title}\nthe sub-agent failed: {error}\n\n"));
                }
            }
        }
        crate::tools::ToolOutput {
            ok,
            text: merged.trim_end().to_string(),
        }
    }
}

impl Outcome {
    /// The reason a run stopped, if it did.
    pub fn stop_reason(&self) -> Option<&str> {
        match self {
            Outcome::Stopped { reason, .. } => Some(reason),
            Outcome::Ready { .. } => None,
        }
    }
}

const DELEGATE: &str = "delegate";

/// The response's tool calls: the native ones, or those the model wrote as text. Calls read from
/// text get ids unique to this step, since some providers refuse a repeated tool-use id.
fn calls_of(
    response: &crate::ChatResponse,
    tools: &[crate::ToolSpec],
    step: u32,
) -> (String, Vec<ToolCall>) {
    if !response.tool_calls.is_empty() {
        return (response.text.clone(), response.tool_calls.clone());
    }
    let (text, mut calls) = toolcall::extract_text_tool_calls(&response.text, tools);
    for call in &mut calls {
        call.id = format!("step{step}-{}", call.id);
    }
    (text, calls)
}

fn delegate_spec(max_parallel: usize) -> crate::ToolSpec {
    crate::ToolSpec {
        name: DELEGATE.into(),
        description: format!(
            "Hand independent sub-tasks (for example: review the draft's security, its \
             performance, its API design) to sub-agents that run at the same time (up to \
             {max_parallel} at once) and can read the project, check and review. Returns their \
             answers, one section per task."
        ),
        parameters: serde_json::json!({
            "type": "object",
            "properties": {
                "tasks": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "title": {"type": "string"},
                            "instructions": {"type": "string"},
                        },
                        "required": ["title", "instructions"],
                    },
                },
            },
            "required": ["tasks"],
        }),
    }
}

#[derive(Clone, Copy, Debug)]
struct SubBudget {
    max_steps: u32,
    max_tokens: u64,
    max_time: Duration,
}

/// A small loop with read-only tools; its last text is its answer.
async fn sub_agent(
    provider: Arc<Provider>,
    project: Project,
    instructions: &str,
    budget: SubBudget,
) -> Result<(String, Spent), ProviderError> {
    let started = Instant::now();
    let tools = Project::specs(Toolset::ReadOnly);
    let mut messages = vec![Message::user(instructions)];
    let mut spent = Spent::default();
    let mut last_text = String::new();
    while spent.steps < budget.max_steps
        && spent.usage.total() < budget.max_tokens
        && started.elapsed() < budget.max_time
    {
        let request = ChatRequest {
            system: SUB_AGENT_PROMPT.to_string(),
            messages: messages.clone(),
            tools: tools.clone(),
            max_tokens: 2048,
            temperature: Some(0.2),
        };
        let response = provider.complete(&request, &mut |_: &str| {}).await?;
        spent.steps += 1;
        spent.usage.add(response.usage);
        let (text, calls) = calls_of(&response, &tools, spent.steps);
        last_text = text.clone();
        messages.push(Message::assistant(text, calls.clone()));
        if calls.is_empty() {
            break;
        }
        for call in &calls {
            spent.tool_calls += 1;
            let arguments = match &call.arguments {
                Value::String(raw) => toolcall::parse_arguments(raw),
                other => Ok(other.clone()),
            };
            let answer = match (tools.iter().find(|t| t.name == call.name), arguments) {
                (Some(_), Err(problem)) => {
                    format!("error: the arguments are not JSON ({problem}); send an object")
                }
                (Some(spec), Ok(arguments)) => {
                    match toolcall::coerce(arguments, &spec.parameters) {
                        Ok(arguments) => {
                            let output = project.call(&call.name, &arguments).await;
                            output.text
                        }
                        Err(problems) => format!("error: {}", problems.join("; ")),
                    }
                }
                (None, _) => format!("error: there is no tool `{}`", call.name),
            };
            messages.push(Message::tool_result(call, answer));
        }
    }
    spent.elapsed = started.elapsed();
    Ok((last_text, spent))
}
