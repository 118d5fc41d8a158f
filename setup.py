"""Package discovery that pyproject.toml cannot express: `plugins/` ships as `sentineld_plugins`."""

from setuptools import find_packages, setup

core = find_packages(include=["sentineld", "sentineld.*"])
builtins = ["sentineld_plugins" + name.removeprefix("plugins") for name in find_packages(include=["plugins", "plugins.*"])]

setup(packages=core + builtins)
