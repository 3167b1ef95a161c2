//! Rules of the `api-design` category.

use crate::registry::RuleInfo;
use crate::{Sink, Workspace};

pub(crate) const RULES: &[RuleInfo] = &[];

pub(crate) fn check(_workspace: &Workspace, _sink: &mut Sink) {}
