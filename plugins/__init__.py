"""sentineld's built-in plugins, one package per plugin, by kind. Each registers its components
through the same hooks a third-party plugin uses, and carries a README.md and a sample.toml."""
