"""Plugins: hook specifications, the Plugin base class and the PluginManager (docs/plugins.md)."""
