//! The shared state of a running server, built once at startup: the schema, its API surface,
//! per-resource plans (field lookups by name, compiled validations, server-filled values), the
//! store, signing keys and limiters. Handlers get it as an `Arc` and allocate nothing big.

use crate::auth::{AuthPlan, JwtKeys};
use crate::config::ServeConfig;
use crate::http::limits::Limiters;
use crate::sql::{Caller, Dialect, SqlValue};
use crate::store::Store;
use crate::wire::FieldPlan;
use plinth_api::{Api, FilterOperator, Include, Resource};
use plinth_model::{DefaultValue, FieldId, ModelId, Schema};
use std::collections::HashMap;

pub struct AppState {
    pub schema: Schema,
    pub api: Api,
    pub plans: Vec<ResourcePlan>,
    /// Plans of every model by `ModelId` (also unexposed ones, for the auth model and includes).
    pub model_plans: Vec<ModelPlan>,
    pub store: Store,
    pub dialect: Dialect,
    pub auth: Option<AuthPlan>,
    pub jwt: JwtKeys,
    pub config: ServeConfig,
    pub limiters: Limiters,
    /// `/openapi.json`, serialized once.
    pub openapi_json: bytes_like::Shared,
    /// `/docs`, rendered once.
    pub docs_html: bytes_like::Shared,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Sessions ended before their access tokens expire (logout), on every node.
    pub sessions: crate::sessions::RevokedSessions,
    /// The PostgreSQL LISTEN connection's state.
    pub cluster: crate::cluster::Cluster,
    /// Realtime events: this node's hub and subscribers.
    pub events: crate::events::Events,
}

/// Cheaply clonable immutable bytes for precomputed bodies.
pub mod bytes_like {
    pub type Shared = axum::body::Bytes;
}

/// Per-model facts used by every resource and include of that model.
pub struct ModelPlan {
    /// By field index; `None` for relations, ignored and unsupported fields.
    pub fields: Vec<Option<FieldPlan>>,
    /// By field index: whether a response may contain the field.
    pub readable: Vec<bool>,
    /// The single primary-key field, when there is one.
    pub id_field: Option<usize>,
    /// Every primary key field: always in a rendered row, also under `fields=`.
    pub key_fields: Vec<usize>,
    /// Values the server fills on create: generated ids, `now()`, `@updatedAt`, `auth()`.
    pub server_fill: Vec<(usize, ServerFill)>,
}

impl ModelPlan {
    pub fn field(&self, index: usize) -> Option<&FieldPlan> {
        self.fields.get(index).and_then(Option::as_ref)
    }
}

/// A value the server fills on create (or update).
#[derive(Clone, Debug)]
pub enum ServerFill {
    Uuid {
        version: u8,
    },
    Cuid,
    Nanoid {
        length: usize,
    },
    Ulid,
    Now,
    UpdatedAt,
    /// `@default(auth().field)`.
    Auth {
        field: FieldId,
    },
}

pub struct ResourcePlan {
    pub resource: Resource,
    pub model: ModelId,
    pub filters: HashMap<String, (usize, Vec<FilterOperator>)>,
    pub sortable: HashMap<String, usize>,
    pub includes: HashMap<String, Include>,
    pub create: HashMap<String, usize>,
    pub update: HashMap<String, usize>,
}

impl ResourcePlan {
    pub fn new(schema: &Schema, resource: &Resource) -> ResourcePlan {
        let model = schema.model(resource.model);
        let name_of = |index: usize| model.fields[index].name.clone();
        ResourcePlan {
            resource: resource.clone(),
            model: resource.model,
            filters: resource
                .filters
                .iter()
                .map(|filter| {
                    (
                        filter.name.clone(),
                        (filter.field, filter.operators.clone()),
                    )
                })
                .collect(),
            sortable: resource
                .sortable_fields
                .iter()
                .map(|&index| (name_of(index), index))
                .collect(),
            includes: resource
                .includes
                .iter()
                .map(|include| (include.name.clone(), include.clone()))
                .collect(),
            create: resource
                .create_fields
                .iter()
                .map(|&index| (name_of(index), index))
                .collect(),
            update: resource
                .update_fields
                .iter()
                .map(|&index| (name_of(index), index))
                .collect(),
        }
    }
}

impl ModelPlan {
    pub fn new(schema: &Schema, model_id: ModelId) -> ModelPlan {
        let model = schema.model(model_id);
        let readable_indices = plinth_api::readable_fields(model);
        let fields = model
            .fields
            .iter()
            .map(|field| {
                if field.is_relation() || field.is_ignored {
                    None
                } else {
                    FieldPlan::new(schema, field)
                }
            })
            .collect();
        let readable = (0..model.fields.len())
            .map(|index| readable_indices.contains(&index))
            .collect();
        let id_field = match model.primary_key.fields.as_slice() {
            [single] => Some(*single),
            _ => None,
        };
        let mut server_fill = Vec::new();
        for (index, field) in model.fields.iter().enumerate() {
            if field.is_relation() || field.is_ignored || field.is_list() {
                continue;
            }
            if field.is_updated_at {
                server_fill.push((index, ServerFill::UpdatedAt));
                continue;
            }
            let fill = match &field.default {
                Some(DefaultValue::Uuid { version }) => ServerFill::Uuid { version: *version },
                Some(DefaultValue::Cuid { .. }) => ServerFill::Cuid,
                Some(DefaultValue::Nanoid { length }) => ServerFill::Nanoid {
                    length: length.unwrap_or(21).clamp(2, 255) as usize,
                },
                Some(DefaultValue::Ulid) => ServerFill::Ulid,
                Some(DefaultValue::Now) => ServerFill::Now,
                Some(DefaultValue::Auth { field }) => ServerFill::Auth { field: *field },
                // autoincrement(), dbgenerated() and literals: the database fills them.
                _ => continue,
            };
            server_fill.push((index, fill));
        }
        ModelPlan {
            fields,
            readable,
            id_field,
            key_fields: model.primary_key.fields.clone(),
            server_fill,
        }
    }
}

/// Who is calling: the anonymous caller or an authenticated user.
#[derive(Clone, Debug, Default)]
pub struct CallerInfo {
    /// The user's id as a string (the JWT `sub`).
    pub subject: Option<String>,
    pub caller: Caller,
    /// The token's session, which logout ends (long-lived event streams watch it).
    pub session: Option<String>,
    /// When the token expires (unix seconds); event streams end then.
    pub expires_at: Option<u64>,
}

impl CallerInfo {
    pub fn anonymous() -> CallerInfo {
        CallerInfo::default()
    }

    pub fn user(subject: String, id: SqlValue) -> CallerInfo {
        CallerInfo {
            subject: Some(subject),
            caller: Caller { user_id: Some(id) },
            session: None,
            expires_at: None,
        }
    }

    pub fn is_anonymous(&self) -> bool {
        self.subject.is_none()
    }

    /// A stable key for idempotency records: the user id or "anonymous".
    pub fn key(&self) -> &str {
        self.subject.as_deref().unwrap_or("anonymous")
    }
}

impl AppState {
    pub fn plan_for(&self, resource_index: usize) -> &ResourcePlan {
        &self.plans[resource_index]
    }

    pub fn model_plan(&self, model: ModelId) -> &ModelPlan {
        &self.model_plans[model.0]
    }
}
