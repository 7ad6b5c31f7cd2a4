//! What Linux lets one openssl be given (execve(2)): a plan whose command
//! lines would not fit is refused before anything runs.

use crate::error::Problem;
use crate::pki::profile::Profile;
use crate::plan::step::{Action, Arg, Step};

/// What Linux lets one process be given (execve(2)): each argument at most
/// `one` bytes with its NUL (MAX_ARG_STRLEN, 32 pages: 131072), and all
/// arguments, the environment and their pointers at most `total` bytes
/// (ARG_MAX, a quarter of the stack limit). Past them openssl never starts
/// (E2BIG), so a plan past them is refused before anything runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgLimits {
    pub one: usize,
    /// What is left for the arguments once the environment is counted.
    pub total: usize,
}

/// Linux's MAX_ARG_STRLEN, NUL included.
pub const MAX_ARG_STRLEN: usize = 131_072;
/// What a `<(printf …)` argument may take as a temp file's path (PATH_MAX).
const INLINE_PATH: usize = 4096;

impl ArgLimits {
    /// This system's limits, less this process's environment (which every
    /// openssl inherits) and room for the PKCS#12 password's variable.
    pub fn of_system() -> ArgLimits {
        // SAFETY: sysconf(3) only reads a system value.
        let arg_max = unsafe { libc::sysconf(libc::_SC_ARG_MAX) };
        let arg_max = usize::try_from(arg_max).unwrap_or(MAX_ARG_STRLEN);
        let env: usize = std::env::vars_os()
            .map(|(k, v)| k.len() + v.len() + 2 + POINTER)
            .sum();
        ArgLimits {
            one: MAX_ARG_STRLEN,
            total: arg_max.saturating_sub(env + INLINE_PATH),
        }
    }
}

/// The size of one pointer of argv or envp.
const POINTER: usize = std::mem::size_of::<usize>();

/// What makes `step` too long for execve(2), if anything.
pub(crate) fn arg_limit_problem(
    step: &Step,
    profile: &Profile,
    limits: ArgLimits,
) -> Option<Problem> {
    let Action::Openssl { args, .. } = &step.action else {
        return None;
    };
    let sizes: Vec<usize> = args
        .iter()
        .map(|a| match a {
            Arg::Lit(word) => word.len() + 1,
            Arg::Inline(_) => INLINE_PATH,
        })
        .collect();
    // argv[0], the openssl binary's path, may be as long as a path.
    let total = INLINE_PATH + sizes.iter().sum::<usize>() + POINTER * (sizes.len() + 2);
    // A temp file's path fits in one argument whatever the staging path.
    let (longest, len) = args
        .iter()
        .zip(&sizes)
        .enumerate()
        .filter(|(_, (a, _))| matches!(a, Arg::Lit(_)))
        .map(|(i, (_, n))| (i, *n))
        .max_by_key(|(_, n)| *n)
        .unwrap_or((0, 0));
    if len <= limits.one && total <= limits.total {
        return None;
    }
    // Looked up only here: a plan has an entity's steps by the thousand.
    let entity = profile.entities().find(|e| e.name == step.entity);
    let command = match args.first() {
        Some(Arg::Lit(word)) => word.as_str(),
        _ => "",
    };
    if len <= limits.one {
        return Some(Problem::new(
            None,
            entity.map_or(String::new(), |e| e.path.clone()),
            format!(
                "makes the command line of `openssl {command}` ({}) {total} bytes long with {} arguments, but this system passes at most {} bytes of arguments and environment (ARG_MAX), so openssl would not start; split the profile into smaller ones",
                step.id,
                sizes.len(),
                limits.total
            ),
        ));
    }
    let sans = matches!(&args[longest], Arg::Lit(word) if word.starts_with("subjectAltName"));
    Some(match (entity, sans) {
        (Some(e), true) => Problem::new(
            None,
            format!("{}.san", e.path),
            format!(
                "its {} names make the argument -addext \"subjectAltName = …\" of `openssl {command}` {len} bytes long, but Linux passes at most {} bytes in one argument (MAX_ARG_STRLEN), so openssl would not start; give it fewer or shorter names, spread over several certificates",
                e.san.len(),
                limits.one
            ),
        ),
        _ => Problem::new(
            None,
            entity.map_or(String::new(), |e| e.path.clone()),
            format!(
                "makes argument {longest} of `openssl {command}` ({}) {len} bytes long, but Linux passes at most {} bytes in one argument (MAX_ARG_STRLEN), so openssl would not start; shorten it",
                step.id, limits.one
            ),
        ),
    })
}
