#!/bin/sh
# One login role and one database per service. Each service connects as its own role, which
# owns its database; no role may connect to another's database (CONNECT is revoked from
# PUBLIC), so a service cannot read another's tables even with its own password.
# The postgres image runs this at its first start (docker-entrypoint-initdb.d); on a server
# of your own run it as a superuser:
#   IDENTITY_DB_PASSWORD=... BOOKING_DB_PASSWORD=... DOCUMENTS_DB_PASSWORD=... \
#     PGHOST=db.example PGUSER=postgres sh deploy/postgres/init-databases.sh
# RATHAUS_DATABASE_PREFIX (default none) prefixes role and database names.
set -eu
prefix="${RATHAUS_DATABASE_PREFIX:-}"
for service in identity booking documents; do
  variable="$(echo "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
  eval "password=\${$variable:?set $variable}"
  psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
    --username "${POSTGRES_USER:-${PGUSER:-postgres}}" --dbname "${POSTGRES_DB:-postgres}" \
    -v role="$prefix$service" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
done
