#!/bin/bash
# collector_cli's scenarios on a real PostgreSQL store (EW_STORE=pg, see
# lib.bash): every command's options against a PostgreSQL store, and
# serve's daily snapshot taken once a day. Run in release only: the
# scenarios are collector_cli's, which ASan runs on SQLite.
# ew-variants: release
# Scenarios: make test ONLY=collector_cli_pg:daily_snapshot
EW_STORE=pg EW_AS_LIB=1
. "$(dirname "$0")/collector_cli.sh"
run_scenarios
