"""The database a DATABASE_URL names is created on its server when missing (what CI relies on)."""

from __future__ import annotations

import os

import psycopg
from django.db import connection
from psycopg.conninfo import make_conninfo

from crm.embedded_db import database_ensure


def test_a_missing_database_is_created_once_and_an_existing_one_kept() -> None:
    name = f"crm_ensure_{os.getpid()}"
    server = connection.settings_dict
    params = {"host": server["HOST"], "port": server["PORT"], "user": server["USER"]}
    if server["PASSWORD"]:
        params["password"] = server["PASSWORD"]
    maintenance = make_conninfo(**params, dbname="postgres")
    try:
        database_ensure(make_conninfo(**params, dbname=name))
        database_ensure(make_conninfo(**params, dbname=name))

        with psycopg.connect(make_conninfo(**params, dbname=name)) as created:
            assert created.execute("SELECT current_database()").fetchone() == (name,)
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
