"""The spec: its sections, component references, loading from YAML and the JSON schema."""
