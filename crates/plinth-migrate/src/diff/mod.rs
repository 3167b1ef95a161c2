//! Which objects of two schemas are the same object: models matched to models and fields to
//! fields, renames recognised only through a changed `@@map` / `@map` with the same name or an
//! explicit hint (never guessed from similar shapes), enum value changes and policy-only changes.

use std::collections::BTreeMap;

use plinth_model::{Model, Policy, Schema};

/// Models and fields of the old schema paired with those of the new one.
#[derive(Clone, Debug, Default)]
pub struct Matching {
    /// Old model index → new model index.
    pub models: BTreeMap<usize, usize>,
    /// (old model index, old field index) → new field index, for matched models.
    pub fields: BTreeMap<(usize, usize), usize>,
}

impl Matching {
    /// The new model matched with an old one.
    pub fn new_model(&self, old_model: usize) -> Option<usize> {
        self.models.get(&old_model).copied()
    }

    /// The old model matched with a new one.
    pub fn old_model(&self, new_model: usize) -> Option<usize> {
        self.models
            .iter()
            .find(|(_, &new)| new == new_model)
            .map(|(&old, _)| old)
    }

    /// The old field matched with field `new_field` of new model `new_model`.
    pub fn old_field(&self, new_model: usize, new_field: usize) -> Option<(usize, usize)> {
        let old_model = self.old_model(new_model)?;
        self.fields
            .iter()
            .find(|(&(model, _), &new)| model == old_model && new == new_field)
            .map(|(&key, _)| key)
    }
}

/// A rename hint that names something absent from the schemas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownRename {
    pub old: String,
    pub new: String,
}

/// Pairs the models and fields of `old` and `new`. `renames` holds `("Old", "New")` for models
/// and `("Model.old", "Model.new")` (or `("Model.old", "new")`) for fields; the model of a field
/// hint may be named by its old or its new name.
pub fn match_schemas(
    old: &Schema,
    new: &Schema,
    renames: &[(String, String)],
) -> Result<Matching, UnknownRename> {
    let mut matching = Matching::default();
    for (old_name, new_name) in renames.iter().filter(|(old, _)| !old.contains('.')) {
        let old_index = old.models.iter().position(|m| &m.name == old_name);
        let new_index = new.models.iter().position(|m| &m.name == new_name);
        match (old_index, new_index) {
            (Some(old_index), Some(new_index)) => {
                matching.models.insert(old_index, new_index);
            }
            _ => {
                return Err(UnknownRename {
                    old: old_name.clone(),
                    new: new_name.clone(),
                })
            }
        }
    }
    for (old_index, old_model) in old.models.iter().enumerate() {
        if matching.models.contains_key(&old_index) {
            continue;
        }
        if let Some(new_index) = new.models.iter().position(|m| m.name == old_model.name) {
            if matching.old_model(new_index).is_none() {
                matching.models.insert(old_index, new_index);
            }
        }
    }
    let pairs: Vec<(usize, usize)> = matching.models.iter().map(|(&a, &b)| (a, b)).collect();
    for (old_index, new_index) in pairs {
        let (old_model, new_model) = (&old.models[old_index], &new.models[new_index]);
        let mut taken = vec![false; new_model.fields.len()];
        let mut fields = BTreeMap::new();
        for (old_name, new_name) in renames.iter().filter(|(old, _)| old.contains('.')) {
            let Some((model_name, old_field)) = old_name.split_once('.') else {
                continue;
            };
            if model_name != old_model.name && model_name != new_model.name {
                continue;
            }
            let new_field = new_name.rsplit('.').next().unwrap_or(new_name);
            let old_position = old_model.fields.iter().position(|f| f.name == old_field);
            let new_position = new_model.fields.iter().position(|f| f.name == new_field);
            match (old_position, new_position) {
                (Some(old_position), Some(new_position)) => {
                    fields.insert(old_position, new_position);
                    taken[new_position] = true;
                }
                _ => {
                    return Err(UnknownRename {
                        old: old_name.clone(),
                        new: new_name.clone(),
                    })
                }
            }
        }
        for (old_position, old_field) in old_model.fields.iter().enumerate() {
            if fields.contains_key(&old_position) {
                continue;
            }
            if let Some((new_position, _)) = new_model.field_by_name(&old_field.name) {
                if !taken[new_position] {
                    taken[new_position] = true;
                    fields.insert(old_position, new_position);
                }
            }
        }
        for (old_position, new_position) in fields {
            matching
                .fields
                .insert((old_index, old_position), new_position);
        }
    }
    for (old_name, new_name) in renames.iter().filter(|(old, _)| old.contains('.')) {
        let model_name = old_name.split('.').next().unwrap_or_default();
        let known = old.models.iter().any(|m| m.name == model_name)
            || new.models.iter().any(|m| m.name == model_name);
        if !known {
            return Err(UnknownRename {
                old: old_name.clone(),
                new: new_name.clone(),
            });
        }
    }
    Ok(matching)
}

/// Whether the access rules differ anywhere (model- or field-level, or which model is `@@auth`).
pub fn policies_differ(old: &Schema, new: &Schema) -> bool {
    let rules = |policies: &[Policy]| -> Vec<String> {
        policies
            .iter()
            .map(|p| format!("{:?} {:?} {:?}", p.effect, p.operations, p.condition))
            .collect()
    };
    let model_rules = |model: &Model| {
        let mut all = vec![(String::new(), rules(&model.policies))];
        for field in &model.fields {
            all.push((field.name.clone(), rules(&field.policies)));
        }
        (model.name.clone(), model.is_auth, all)
    };
    let old_rules: Vec<_> = old.models.iter().map(model_rules).collect();
    let new_rules: Vec<_> = new.models.iter().map(model_rules).collect();
    old_rules != new_rules
}

/// Whatever besides SQL a model carries that the API depends on (omit, password, validations
/// the server checks) differs: recorded as a policy-only change when no SQL changes.
pub fn api_attributes_differ(old: &Schema, new: &Schema) -> bool {
    let shape = |schema: &Schema| -> Vec<String> {
        schema
            .models
            .iter()
            .flat_map(|model| {
                model.fields.iter().map(move |field| {
                    format!(
                        "{}.{} {} {} {:?}",
                        model.name,
                        field.name,
                        field.is_omitted,
                        field.is_password,
                        field.validations
                    )
                })
            })
            .collect()
    };
    shape(old) != shape(new)
}
