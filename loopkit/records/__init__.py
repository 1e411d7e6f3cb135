"""The record layer: one module per file kind, pure text in and text out (no cwd, environment,
role or clock), so the merge driver can call it."""
