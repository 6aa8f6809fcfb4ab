//! Real engine CLIs against the mock model server (owned by the engines work).
