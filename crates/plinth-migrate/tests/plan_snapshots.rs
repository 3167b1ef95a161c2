//! Snapshots of the rendered up and down SQL for every kind of change in both dialects, and the
//! planner's refusals.

mod plan_support;

use plinth_migrate::plan::{plan, render_down, render_up, PlanError, PlanOptions};
use plinth_sql::Dialect;

#[test]
fn rendered_sql_for_every_change() {
    let old = plan_support::compile(plan_support::V1);
    for (name, source, renames) in plan_support::transitions() {
        let new = plan_support::compile(&source);
        for dialect in Dialect::ALL {
            let options = PlanOptions {
                renames: renames.clone(),
                allow_destructive: true,
            };
            let planned = plan(&old, &new, dialect, &options).expect("plan");
            let rendered = format!(
                "{}\n-- ---- down ----\n{}",
                render_up(&planned, dialect),
                render_down(&planned, dialect)
            );
            insta::assert_snapshot!(format!("{name}_{}", dialect.directory_name()), rendered);
        }
    }
}

#[test]
fn destructive_changes_refuse_without_the_flag() {
    let old = plan_support::compile(plan_support::V1);
    let new = plan_support::compile(&plan_support::V1.replacen("  body     String?\n", "", 1));
    for dialect in Dialect::ALL {
        match plan(&old, &new, dialect, &PlanOptions::default()) {
            Err(PlanError::Destructive(losses)) => {
                assert!(
                    losses.iter().any(|l| l.sentence.contains("Post.body")),
                    "{losses:?}"
                );
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}

#[test]
fn required_field_without_default_names_the_field() {
    let old = plan_support::compile(plan_support::V1);
    let new = plan_support::compile(&plan_support::V1.replacen(
        "  name  String?\n",
        "  name  String\n",
        1,
    ));
    for dialect in Dialect::ALL {
        let error = plan(&old, &new, dialect, &PlanOptions::default()).expect_err("must refuse");
        assert!(
            matches!(&error, PlanError::RequiredWithoutDefault { model, field } if model == "User" && field == "name")
        );
        assert!(error.to_string().contains("@default"));
    }
}

#[test]
fn policy_only_changes_have_no_sql() {
    let old = plan_support::compile(plan_support::V1);
    let new = plan_support::compile(&plan_support::V1.replacen(
        "  authorId Int\n}",
        "  authorId Int\n\n  @@allow(\"read\", true)\n}",
        1,
    ));
    let planned = plan(&old, &new, Dialect::Postgres, &PlanOptions::default()).expect("plan");
    assert!(planned.policy_only && planned.steps.is_empty());
}
