//! Adds Prisma/Plinth models to the catalogue as the tables they map to.

use super::Catalog;
use crate::Workspace;

pub(super) fn add_models(_workspace: &Workspace, _catalog: &mut Catalog) {}
