"""Bundled YAML configs for ``train fit --config NAME.yaml``."""
