"""Packaging: setup.cfg holds the metadata; this only maps the default mappings into the package.

The YAML files stay in the repository's top-level mappings/ folder, where admins read them; a
wheel carries them as connector/mapping/defaults/ (no symlink, which some platforms break).
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["connector", "connector.*"]), "connector.mapping.defaults"],
    package_dir={"connector.mapping.defaults": "mappings"},
)
