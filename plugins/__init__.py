"""zsk's built-in components, registered through the same hook a third-party plugin uses."""
