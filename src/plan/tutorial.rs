//! The tutorial's plan for a profile: the CA, the intermediate, each leaf
//! or fixture, then the checks. Built from the shared step builders of
//! plan/builders.rs, as the fixtures, the lifecycle and the handshake build
//! theirs; it is the one module that puts them together.

use crate::error::{Error, Result};
use crate::pki::fixture::Fixture;
use crate::pki::names::Files;
use crate::pki::profile::{Entity, Extensions, Profile};
use crate::plan::caps::Capabilities;
use crate::plan::checks::checks;
use crate::plan::fixtures;
use crate::plan::prompts::PromptLayout;
use crate::plan::spec::CheckSpec;
use crate::plan::{
    Answered, ArgLimits, Plan, ca_steps, check_arg_limits, intermediate_steps, leaf_steps,
    strict_ca_extensions,
};

/// Builds the plan for `profile`, answering prompts as `layout` asks them;
/// `now` (seconds since the epoch) dates the expired and not-yet-valid
/// fixtures.
pub fn build(
    profile: &Profile,
    layout: &PromptLayout,
    caps: Capabilities,
    now: i64,
) -> Result<Plan> {
    let answers = Answered::of(profile, layout)?;
    let strict = profile.extensions == Extensions::Strict;
    let ca_extensions = if strict {
        strict_ca_extensions(layout, caps).map_err(|e| Error::Config {
            path: layout.config.clone(),
            message: e.to_string(),
        })?
    } else {
        Vec::new()
    };
    let mut steps = ca_steps(&profile.ca, answers.ca, &ca_extensions, strict);
    let mut chain = vec![&profile.ca];
    if let (Some(inter), Some(answers)) = (&profile.intermediate, answers.intermediate) {
        steps.extend(intermediate_steps(inter, &profile.ca, answers));
        chain.insert(0, &inter.entity);
    }
    let fixtures: Vec<(&Entity, &Fixture)> = profile.fixtures().collect();
    steps.extend(fixtures::database_steps(
        &fixtures,
        &profile.issuer().files(),
        caps,
    ));
    let own = answers.own.into_iter();
    for ((leaf, leaf_answers), own_answers) in profile.leaves().zip(answers.leaves).zip(own) {
        match &leaf.fixture {
            None => steps.extend(leaf_steps(leaf, &chain, leaf_answers, strict, caps)),
            Some(f) => steps.extend(fixtures::steps(
                leaf,
                f.kind,
                fixtures::FixtureInputs {
                    chain: &chain,
                    intermediate: profile.intermediate.as_ref(),
                    answers: leaf_answers,
                    own_answers,
                    issuer_answers: answers.issuer.clone(),
                    ca_extensions: &ca_extensions,
                    strict,
                    caps,
                    now,
                },
            )),
        }
    }
    steps.extend(fixtures::manifest_step(&fixtures));
    for ca in std::iter::once(&profile.ca).chain(profile.intermediate.as_ref().map(|i| &i.entity)) {
        steps.extend(crate::plan::ocsp_signer::steps(ca, strict));
    }
    // A CA with revocation pointers records what it signs, for OCSP.
    let cas: Vec<Files> = std::iter::once(&profile.ca)
        .chain(profile.intermediate.as_ref().map(|i| &i.entity))
        .filter(|e| !e.pointers.is_empty())
        .map(Entity::files)
        .collect();
    let steps = crate::plan::revocation::with_first_crls(profile, steps);
    let steps = crate::plan::revocation::record_signings(steps, &cas, &|_| false);
    let checks = checks(&CheckSpec::for_profile(profile), caps);
    let plan = Plan {
        steps,
        checks,
        removes: Vec::new(),
    };
    check_arg_limits(&plan, profile, ArgLimits::of_system())?;
    Ok(plan)
}
