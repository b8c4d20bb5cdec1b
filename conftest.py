pytest_plugins = ["servicekit.testing.plugin"]
