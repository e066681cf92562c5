#!/usr/bin/env bash
# Prints SPARK_HOME of the project venv's pyspark (it may not exist yet; 'make spark' creates it).
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${SPARKBRIDGE_VENV:-$root/.venv}
py=$(ls -d "$venv"/lib/python3*/site-packages 2>/dev/null | head -1)
echo "${py:-$venv/lib/python3/site-packages}/pyspark"
