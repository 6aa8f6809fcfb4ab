//! A mock model server on 127.0.0.1 for the real engine CLIs (owned by the engines work).
