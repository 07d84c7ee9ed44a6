"""Alembic migrations, shipped inside the package so `chanperf db upgrade` needs no alembic.ini."""
