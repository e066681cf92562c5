"""dbt's adapter test suite (dbt-tests-adapter) against a HiveServer2 server, with dbt-spark's
thrift method: the server comes from DBT_SPARK_HOST and DBT_SPARK_PORT, the user from
DBT_SPARK_USER. The Go test runs it against Spark Thrift Server and the bridge and compares."""
import os

import pytest

pytest_plugins = ["dbt.tests.fixtures.project"]


@pytest.fixture(scope="session")
def dbt_profile_target():
    return {
        "type": "spark",
        "method": "thrift",
        "host": os.environ["DBT_SPARK_HOST"],
        "port": int(os.environ["DBT_SPARK_PORT"]),
        "user": os.environ.get("DBT_SPARK_USER", "dbt"),
        "schema": "dbt_adapter",
        "connect_retries": 2,
        "connect_timeout": 10,
        "retry_all": False,
    }
