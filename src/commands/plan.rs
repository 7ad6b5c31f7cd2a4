//! `pkiforge plan PROFILE [--answers] [--only SECTION]`: the commands a
//! run would execute, and nothing else.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::cli::Only;
use crate::error::Result;
use crate::pki::profile::{self, Profile};
use crate::plan::prompts::PromptLayout;
use crate::plan::step::Action;
use crate::plan::{self, Plan};
use crate::run::openssl::Openssl;

pub fn plan(
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

/// A profile planned for the openssl that will run it.
pub struct Planned {
    pub profile: Profile,
    pub plan: Plan,
    pub layout: PromptLayout,
    pub openssl: Openssl,
}

/// Profile -> Plan, with the prompts of the openssl that will run.
pub fn plan_for(profile: &Path, openssl_flag: Option<&Path>, timeout: Duration) -> Result<Planned> {
    let profile = profile::load(profile)?;
    let mut openssl = Openssl::locate(openssl_flag, timeout)?;
    openssl.require_addext()?;
    let layout = PromptLayout::read(&mut openssl)?;
    let caps = openssl.capabilities_for(profile.has_p12(), profile.has_dated_fixtures())?;
    let plan = plan::build(&profile, &layout, caps, super::now())?;
    Ok(Planned {
        profile,
        plan,
        layout,
        openssl,
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
