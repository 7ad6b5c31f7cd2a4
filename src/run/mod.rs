//! Executing a plan: the one way a process starts (exec), the scheduler,
//! the runner, the lock, staging and the transactional publish, progress.

pub mod exec;
pub mod openssl;
pub mod progress;
pub mod prompts;
pub mod publish;
pub mod runner;
pub mod schedule;
