//! Executing a plan: the one way a process starts (exec), the scheduler,
//! the runner, the lock, staging and the transactional publish, progress;
//! private scratch directories; `serve`, the revocation server.

pub mod exec;
pub mod openssl;
pub mod progress;
pub mod prompts;
pub mod publish;
pub mod runner;
pub mod schedule;
pub mod scratch;
pub mod serve;
