//! Engine adapter tests with the fake engine (owned by the engines work).
