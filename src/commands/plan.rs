//! `pkiforge plan PROFILE [--answers] [--only SECTION]`: the commands a
//! run would execute, and nothing else.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::cli::Only;
use crate::error::Result;

use super::plan_for;

use super::{Context, Outcome};
use crate::cli::PlanArgs;
use crate::plan::Plan;
use crate::plan::prompts::PromptLayout;
use crate::plan::step::Action;

/// `plan PROFILE [--answers] [--only SECTION]`.
pub fn command(ctx: &Context, args: PlanArgs) -> Result<Outcome> {
    plan(
        &args.profile,
        args.answers,
        args.only,
        ctx.openssl(),
        ctx.timeout,
    )
}

fn plan(
    profile: &Path,
    answers: bool,
    only: Option<Only>,
    openssl_flag: Option<&Path>,
    timeout: Duration,
) -> Result<String> {
    let planned = plan_for(profile, openssl_flag, timeout)?;
    let mut plan = planned.plan;
    if let Some(only) = only {
        plan = plan.only(only.section());
    }
    Ok(if answers {
        with_answers(&plan, &planned.layout)
    } else {
        plan.to_string()
    })
}

/// The plan with, under each command that reads stdin, the prompts and the
/// answers typed at them as `#` comment lines.
fn with_answers(plan: &Plan, layout: &PromptLayout) -> String {
    let mut text = String::new();
    for step in &plan.steps {
        let _ = writeln!(text, "{step}");
        if let Action::Openssl { stdin, .. } = &step.action {
            for (prompt, answer) in layout.asked().zip(stdin) {
                let default = prompt.default.as_deref().unwrap_or("");
                let _ = writeln!(text, "#   {} [{default}]: {answer}", prompt.label);
            }
        }
    }
    text
}
