/* eduwatch-sensor: the executable that maps libpcap. It runs the LAN
 * sensor's sandboxed helper (`_netsensor`, started by `run`) and the
 * `sniff` command, which eduwatch-agent hands over to it (cli.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/cli.h"
#include "agent/net/netsensor.h"
#include "common/log.h"

int main(int argc, char **argv)
{
	struct cli cli;
	struct agent_settings s;
	log_setup("eduwatch-agent", LOG_LEVEL_INFO);
	int rc = cli_parse(argc, argv, &cli);
	if (rc != 0)
		return rc;
	const char *cmd = cli.argc > 0 ? cli.argv[0] : "";
	bool sniff = strcmp(cmd, "sniff") == 0;
	if (!sniff && strcmp(cmd, "_netsensor") != 0)
		return cli_usage_error("eduwatch-sensor runs 'sniff' only");
	if (sniff && cli.pcap == NULL)
		return cli_usage_error("sniff needs --pcap FILE");
	bool have_config = access(cli.config, F_OK) == 0;
	if (have_config && (rc = cli_load(&cli, &s)) != 0)
		return rc;
	if (!sniff)
		return netsensor_child_main(have_config ? &s : NULL);
	struct sniff_options so = {.pcap = cli.pcap, .ioc_file = cli.ioc,
				   .gateway_mac = cli.gateway_mac,
				   .json = cli.json};
	return netsensor_sniff_file(have_config ? &s : NULL, &so);
}
