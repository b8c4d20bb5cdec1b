from identity import models  # noqa: F401 - registers every table
from identity.db import Base
from identity.settings import IdentitySettings
from servicekit.migrations import run_env

run_env(Base.metadata, default_url=IdentitySettings().database_url)
