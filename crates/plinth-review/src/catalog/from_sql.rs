//! Replays SQL files (schemas and up-migrations, in order) into the catalogue.

use super::Catalog;
use crate::Workspace;

pub(super) fn replay(_workspace: &Workspace, _catalog: &mut Catalog) {}
