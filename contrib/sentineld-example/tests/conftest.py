pytest_plugins = ["sentineld.testing"]
