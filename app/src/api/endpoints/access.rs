//! Endpoint access: keys, headers, CA certificates, retries (defined in `domain::access`, shared
//! with `db`).

pub use crate::domain::access::*;
