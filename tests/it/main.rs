//! The one integration-test binary (one binary keeps link time down on 2-core CI).

#[path = "../support/mod.rs"]
mod support;

mod mock_llm;
mod test_engines;
mod test_real_engines;
