//! Where the provider settings come from: flags first, then environment variables, then the
//! `[llm]` table of a config file. A key never lives in a file: the file names the variable.

use super::{ProviderConfig, ProviderError, ProviderKind};
use serde::Deserialize;
use std::time::Duration;

/// The config file the CLI reads, if present, and the help text names.
pub const CONFIG_FILE: &str = "plinth.toml";

/// Anthropic has one obvious family to default to; OpenAI-compatible servers have none.
pub const DEFAULT_ANTHROPIC_MODEL: &str = "claude-sonnet-4-5";

pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
pub const DEFAULT_MAX_RETRIES: u32 = 4;

const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
const OLLAMA_BASE_URL: &str = "http://127.0.0.1:11434/v1";
const LLAMA_CPP_BASE_URL: &str = "http://127.0.0.1:8080/v1";
const VLLM_BASE_URL: &str = "http://127.0.0.1:8000/v1";

/// The command-line flags, as clap parsed them (`--provider`, `--base-url`, `--model`,
/// `--api-key`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderFlags {
    pub provider: Option<String>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<String>,
}

/// The `[llm]` table. Unknown keys are refused so a typo does not silently fall back to a
/// default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LlmTable {
    provider: Option<String>,
    base_url: Option<String>,
    model: Option<String>,
    /// The name of the environment variable that holds the key.
    api_key_env: Option<String>,
    /// Present only so it can be refused with a clear message.
    api_key: Option<toml::Value>,
    request_timeout_secs: Option<u64>,
    max_retries: Option<u32>,
    send_tool_choice: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    /// Other tables belong to other commands.
    #[serde(default)]
    llm: LlmTable,
}

/// A provider name and the base URL it implies. The local server names are shorthands for
/// OpenAI-compatible endpoints on their usual ports.
fn parse_provider(name: &str) -> Option<(ProviderKind, Option<&'static str>)> {
    match name.trim().to_ascii_lowercase().as_str() {
        "openai" | "openai-compatible" | "openai_compatible" => Some((ProviderKind::OpenAi, None)),
        "ollama" => Some((ProviderKind::OpenAi, Some(OLLAMA_BASE_URL))),
        "llama.cpp" | "llamacpp" | "llama-cpp" => {
            Some((ProviderKind::OpenAi, Some(LLAMA_CPP_BASE_URL)))
        }
        "vllm" => Some((ProviderKind::OpenAi, Some(VLLM_BASE_URL))),
        "anthropic" | "claude" => Some((ProviderKind::Anthropic, None)),
        _ => None,
    }
}

impl ProviderConfig {
    /// From flags (highest), then environment, then a config file (TOML text; only its `[llm]`
    /// table is read). `Err(NotConfigured)` explains how to configure a provider;
    /// `Err(MissingKey)` names the variable to set.
    pub fn resolve(
        flags: &ProviderFlags,
        env: &dyn Fn(&str) -> Option<String>,
        config_file: Option<&str>,
    ) -> Result<ProviderConfig, ProviderError> {
        let env = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        let flag = |value: &Option<String>| value.clone().filter(|value| !value.trim().is_empty());
        let file = match config_file {
            Some(text) => {
                toml::from_str::<ConfigFile>(text)
                    .map_err(|error| {
                        not_configured(&format!(
                            "the [llm] table of {CONFIG_FILE} is not valid: {}",
                            error.message()
                        ))
                    })?
                    .llm
            }
            None => LlmTable::default(),
        };
        if file.api_key.is_some() {
            return Err(not_configured(&format!(
                "{CONFIG_FILE} holds an API key; keys do not belong in files: put it in an \
                 environment variable and name that variable with api_key_env = \"…\""
            )));
        }

        let named = flag(&flags.provider)
            .map(|name| (name, "--provider"))
            .or_else(|| env("PLINTH_LLM_PROVIDER").map(|name| (name, "PLINTH_LLM_PROVIDER")))
            .or_else(|| {
                file.provider
                    .clone()
                    .map(|name| (name, "provider in [llm]"))
            });
        let named = match named {
            Some((name, source)) => Some(parse_provider(&name).ok_or_else(|| {
                not_configured(&format!(
                    "{source} names an unknown provider `{name}`: use openai (any \
                     OpenAI-compatible endpoint; ollama, llama.cpp and vllm are shorthands for \
                     their local servers) or anthropic"
                ))
            })?),
            None => None,
        };
        let explicit_base = flag(&flags.base_url)
            .or_else(|| env("PLINTH_LLM_BASE_URL"))
            .or_else(|| file.base_url.clone());
        let model = flag(&flags.model)
            .or_else(|| env("PLINTH_LLM_MODEL"))
            .or_else(|| file.model.clone());
        let openai_base = env("OPENAI_BASE_URL");

        let (kind, implied_base) = match named {
            Some(named) => named,
            None => match (&explicit_base, &openai_base) {
                (Some(base), _) if host_of(base).as_deref() == Some("api.anthropic.com") => {
                    (ProviderKind::Anthropic, None)
                }
                (Some(_), _) | (None, Some(_)) => (ProviderKind::OpenAi, None),
                (None, None) => {
                    let claude = model.as_deref().is_some_and(|m| m.starts_with("claude"));
                    let openai_key = env("OPENAI_API_KEY").is_some();
                    let anthropic_key = env("ANTHROPIC_API_KEY").is_some();
                    let any_key = flag(&flags.api_key).is_some()
                        || env("PLINTH_LLM_API_KEY").is_some()
                        || openai_key
                        || anthropic_key;
                    if claude || (anthropic_key && !openai_key) {
                        (ProviderKind::Anthropic, None)
                    } else if any_key {
                        (ProviderKind::OpenAi, None)
                    } else if let Some(model) = &model {
                        return Err(not_configured(&format!(
                            "the model `{model}` is named but no endpoint: set \
                             PLINTH_LLM_BASE_URL (or --base-url) to the server that runs it"
                        )));
                    } else {
                        return Err(not_configured("no language model is configured"));
                    }
                }
            },
        };

        // A shorthand's own port beats OPENAI_BASE_URL, which is only a fallback.
        let openai_base_from_env =
            kind == ProviderKind::OpenAi && explicit_base.is_none() && implied_base.is_none();
        let base_url = match kind {
            ProviderKind::OpenAi => explicit_base
                .clone()
                .or_else(|| implied_base.map(str::to_string))
                .or_else(|| openai_base.clone())
                .unwrap_or_else(|| OPENAI_BASE_URL.to_string()),
            ProviderKind::Anthropic => explicit_base
                .clone()
                .unwrap_or_else(|| ANTHROPIC_BASE_URL.to_string()),
        };
        let base_url = base_url.trim().trim_end_matches('/').to_string();
        let Some(host) = host_of(&base_url) else {
            return Err(not_configured(&format!(
                "the base URL `{base_url}` is not an http:// or https:// URL"
            )));
        };

        let model = match (model, kind) {
            (Some(model), _) => model.trim().to_string(),
            (None, ProviderKind::Anthropic) => DEFAULT_ANTHROPIC_MODEL.to_string(),
            (None, ProviderKind::OpenAi) => {
                return Err(not_configured(&format!(
                    "no model is named for the OpenAI-compatible endpoint at {base_url}; such \
                     endpoints have no common default, so name one with --model or \
                     PLINTH_LLM_MODEL (for example gpt-4.1-mini on OpenAI, qwen2.5:7b on Ollama)"
                )));
            }
        };

        // The provider's own key variable goes only to the provider's own host (or to the base
        // URL named next to it, as OpenAI's SDKs do), so a key is never sent to a stranger.
        let own_key_variable = match kind {
            ProviderKind::OpenAi => "OPENAI_API_KEY",
            ProviderKind::Anthropic => "ANTHROPIC_API_KEY",
        };
        let own_key_applies = match kind {
            ProviderKind::OpenAi => {
                host == "api.openai.com" || (openai_base_from_env && openai_base.is_some())
            }
            ProviderKind::Anthropic => true,
        };
        let api_key = flag(&flags.api_key)
            .or_else(|| env("PLINTH_LLM_API_KEY"))
            .or_else(|| file.api_key_env.as_deref().and_then(env))
            .or_else(|| own_key_applies.then(|| env(own_key_variable)).flatten())
            .map(|key| key.trim().to_string());
        let key_required =
            !is_local(&host) && (kind == ProviderKind::Anthropic || host == "api.openai.com");
        if api_key.is_none() && key_required {
            return Err(ProviderError::MissingKey {
                provider: kind.to_string(),
                variable: file
                    .api_key_env
                    .clone()
                    .unwrap_or_else(|| own_key_variable.to_string()),
            });
        }

        Ok(ProviderConfig {
            kind,
            base_url,
            model,
            api_key,
            request_timeout: file
                .request_timeout_secs
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_REQUEST_TIMEOUT),
            max_retries: file.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
            send_tool_choice: file.send_tool_choice.unwrap_or(true),
        })
    }
}

/// The host of an http(s) URL, lowercased; `None` for anything else.
pub(super) fn host_of(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url.trim()).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    parsed.host_str().map(|host| host.to_ascii_lowercase())
}

fn is_local(host: &str) -> bool {
    matches!(
        host,
        "localhost" | "127.0.0.1" | "[::1]" | "::1" | "0.0.0.0"
    ) || host.ends_with(".localhost")
        || host.starts_with("127.")
}

fn not_configured(reason: &str) -> ProviderError {
    ProviderError::NotConfigured {
        how: format!("{reason}\n\n{}", how_to_configure()),
    }
}

/// How to configure a provider, for `plinth design`/`plinth chat` to print when none is.
pub fn how_to_configure() -> String {
    format!(
        "\
plinth design and plinth chat need a language model: any OpenAI-compatible chat-completions
endpoint with tool calling (OpenAI, Ollama, llama.cpp's server, vLLM, …) or Anthropic's API.
Name one with flags, environment variables or {CONFIG_FILE} (flags win, then the environment,
then the file):

  flags        --provider openai|anthropic  --base-url URL  --model NAME  --api-key KEY
  environment  PLINTH_LLM_PROVIDER, PLINTH_LLM_BASE_URL, PLINTH_LLM_MODEL, PLINTH_LLM_API_KEY
               (OPENAI_API_KEY, OPENAI_BASE_URL and ANTHROPIC_API_KEY are read too)
  {CONFIG_FILE}  [llm]
               provider = \"openai\"
               base_url = \"{OLLAMA_BASE_URL}\"
               model = \"qwen2.5:7b\"
               api_key_env = \"MY_LLM_KEY\"   # the variable that holds the key, never the key

Examples:
  OpenAI     OPENAI_API_KEY=sk-… PLINTH_LLM_MODEL=gpt-4.1-mini
  Ollama     PLINTH_LLM_BASE_URL={OLLAMA_BASE_URL} PLINTH_LLM_MODEL=qwen2.5:7b
  llama.cpp  PLINTH_LLM_BASE_URL={LLAMA_CPP_BASE_URL} PLINTH_LLM_MODEL=local
             (start llama-server with --jinja so it understands tools)
  Anthropic  PLINTH_LLM_PROVIDER=anthropic ANTHROPIC_API_KEY=sk-ant-…
             (the model defaults to {DEFAULT_ANTHROPIC_MODEL})

OpenAI-compatible endpoints have no default model: name one. Endpoints on 127.0.0.1 or
localhost need no key; api.openai.com and Anthropic do."
    )
}
