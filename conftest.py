pytest_plugins = ["servicekit.testing.plugin"]

# gateway/tests sits in a folder named like the package: with --import-mode=importlib pytest
# would register that folder as a namespace package "gateway" unless the real one is loaded.
import gateway  # noqa: E402, F401
