"""Structured semantics: schema, text coding and (in the full profile) the VLM encoder."""
