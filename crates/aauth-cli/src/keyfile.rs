//! Private keys on disk; the logic lives in [`aauth_agent::keyfile`] so library users get the
//! same JWK/PEM loading and 0600 handling as the command.
pub use aauth_agent::keyfile::{KeyFileError, generate, load, parse, save};
