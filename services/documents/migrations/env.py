from documents import models  # noqa: F401 - registers every table
from documents.db import Base
from documents.settings import DocumentsSettings
from servicekit.migrations import run_env

run_env(Base.metadata, default_url=DocumentsSettings().database_url)
