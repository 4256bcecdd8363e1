"""The connector's configuration: settings as data, loaded from YAML into typed sections."""

from connector.config.loading import ENV_VAR, load, settings_markdown, validate
from connector.config.sections import Config
from connector.config.settings import SETTINGS, Setting

__all__ = ["ENV_VAR", "SETTINGS", "Config", "Setting", "load", "settings_markdown", "validate"]
