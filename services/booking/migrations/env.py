from booking import models  # noqa: F401 - registers every table
from booking.db import Base
from booking.settings import BookingSettings
from servicekit.migrations import run_env

run_env(Base.metadata, default_url=BookingSettings().database_url)
