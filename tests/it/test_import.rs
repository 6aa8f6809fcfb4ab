//! Import of CodeMachine workspaces and Spec Kit features (owned by the importers work).
