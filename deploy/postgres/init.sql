-- Each service owns its own database; none reads another's tables.
CREATE DATABASE identity;
CREATE DATABASE booking;
CREATE DATABASE documents;
