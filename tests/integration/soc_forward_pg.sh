#!/bin/bash
# soc_forward's scenarios on a real PostgreSQL store (EW_STORE=pg, see
# lib.bash): the same alerts to the same rsyslog and HTTPS receivers, the
# rsyslog kill -9, the officers' workflow, the compliance drop and the
# deliveries' record, read from PostgreSQL. Run in release only: the
# scenarios are soc_forward's, which ASan runs on SQLite.
# ew-variants: release
# Scenarios: make test ONLY=soc_forward_pg:workflow
EW_STORE=pg EW_AS_LIB=1
. "$(dirname "$0")/soc_forward.sh"
run_scenarios
