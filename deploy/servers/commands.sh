#!/usr/bin/env bash
# Bare-metal commands for veilflow's servers on PostgreSQL (the same steps the integration test
# tests/integration/test_postgres.py runs on loopback). Run each block on the host that serves it.
# Reads servers.env (copy servers.env.example). Not a script to run top to bottom blindly.
set -euo pipefail
cd "$(dirname "$0")"
set -a; source servers.env; set +a

case "${1:-help}" in
  postgres-init)  # a new cluster (initdb refuses to run as root: run as the postgres user)
    initdb -D "${PGDATA:?set PGDATA}" -A scram-sha-256 -U "$POSTGRES_USER" --pwfile=<(echo "$POSTGRES_PASSWORD")
    pg_ctl -D "$PGDATA" -o "-p $POSTGRES_PORT -c listen_addresses=*" -w start
    createdb -h 127.0.0.1 -p "$POSTGRES_PORT" -U "$POSTGRES_USER" "$MLFLOW_DB"
    createdb -h 127.0.0.1 -p "$POSTGRES_PORT" -U "$POSTGRES_USER" "$PREFECT_DB"
    ;;
  mlflow)  # pip install 'veilflow[postgres]' for psycopg2
    exec mlflow server --host 0.0.0.0 --port 5000 \
      --backend-store-uri "$MLFLOW_BACKEND_STORE_URI" \
      --artifacts-destination "$MLFLOW_ARTIFACTS_DESTINATION"
    ;;
  prefect)
    exec prefect server start --host 0.0.0.0 --port 4200
    ;;
  worker)  # creates the pool once, deploys deploy/prefect.yaml, then polls
    prefect work-pool create "$PREFECT_WORK_POOL" --type process || true
    (cd ../.. && prefect --no-prompt deploy --all --prefect-file deploy/prefect.yaml)
    exec prefect worker start --pool "$PREFECT_WORK_POOL"
    ;;
  train)  # a one-off run against the servers, partitioned on a Dask cluster if an address is set
    cd ../..
    exec veilflow train --config deploy/configs/customers.yaml \
      ${VEILFLOW_DASK_ADDRESS:+--set execution.runner=dask --set "execution.address=$VEILFLOW_DASK_ADDRESS" --set execution.partition_rows=50000}
    ;;
  *)
    echo "usage: $0 postgres-init|mlflow|prefect|worker|train" >&2; exit 2 ;;
esac
