#!/bin/bash
# drill_agent's scenarios on a real PostgreSQL store (EW_STORE=pg, see
# lib.bash): the silence sweep's drill alert, the LAN drill's alerts, the
# restore-test and the hostile commands, with the campaigns and timelines
# kept by PostgreSQL. Run in release only: the scenarios are
# drill_agent's, which ASan runs on SQLite.
# ew-variants: release
# Scenarios: make test ONLY=drill_agent_pg:agent_silence
EW_STORE=pg EW_AS_LIB=1
. "$(dirname "$0")/drill_agent.sh"
run_scenarios
