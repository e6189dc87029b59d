/* agent enroll-string: a fresh token for a school, wrapped with the
 * collector's address and its CA fingerprint into one string
 * (common/enrollstr.h), so a school technician types one thing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include "collector/cli.h"
#include "common/config.h"
#include "common/enrollstr.h"
#include "common/pki.h"

/* The first name of the server certificate: the name agents dial is the
 * one its SAN must hold, so it is the safe default. */
static int first_san(const char *state_dir, char *out, size_t cap)
{
	char path[600];
	X509 *cert = NULL;
	int rc = -ENOENT;
	ca_path(state_dir, "server.crt", path, sizeof(path));
	if (pki_read_cert(path, &cert) != 0)
		return -EIO;
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name,
						NULL, NULL);
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && rc; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type == GEN_DNS) {
			const ASN1_IA5STRING *s = g->d.dNSName;
			if (s->length > 0 && (size_t)s->length < cap) {
				memcpy(out, s->data, (size_t)s->length);
				out[s->length] = '\0';
				rc = 0;
			}
		} else if (g->type == GEN_IPADD) {
			const ASN1_OCTET_STRING *ip = g->d.iPAddress;
			if (ip->length == 4) {
				snprintf(out, cap, "%u.%u.%u.%u", ip->data[0],
					 ip->data[1], ip->data[2], ip->data[3]);
				rc = 0;
			}
		}
	}
	GENERAL_NAMES_free(names);
	X509_free(cert);
	return rc;
}

/* The bound ports: the settings', or with port 0 there (the system picks
 * them) the running collector's, from <state_dir>/ports. */
static int listen_ports(const struct settings *s, int *ingest, int *enroll)
{
	char path[600], name[16];
	int port;
	*ingest = (int)s->ingest_port;
	*enroll = (int)s->enroll_port;
	if (*ingest > 0 && *enroll > 0)
		return 0;
	snprintf(path, sizeof(path), "%s/ports", s->state_dir);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -ENOENT;
	while (fscanf(f, "%15s %d", name, &port) == 2) {
		if (strcmp(name, "ingest") == 0 && *ingest == 0)
			*ingest = port;
		else if (strcmp(name, "enroll") == 0 && *enroll == 0)
			*enroll = port;
	}
	fclose(f);
	return *ingest > 0 && *enroll > 0 ? 0 : -ENOENT;
}

int cli_enroll_string_issue(struct cli_env *env, const char *host,
			    const char *school, long uses, long long seconds,
			    char *out, size_t cap)
{
	struct enrollstr es = {0};
	char path[600];
	X509 *ca = NULL;
	int rc;
	if (host != NULL)
		snprintf(es.host, sizeof(es.host), "%s", host);
	else if (first_san(env->settings.state_dir, es.host,
			   sizeof(es.host)) != 0) {
		fprintf(stderr, "eduwatch-collector: the server certificate in "
				"%s names no host; give --name HOST\n",
			env->settings.state_dir);
		return EXIT_CONFIG;
	}
	if (listen_ports(&env->settings, &es.port, &es.enroll_port) != 0) {
		fprintf(stderr, "eduwatch-collector: ingest.port or enroll.port "
				"is 0 and no collector is serving to name them; "
				"set them in collector.yaml\n");
		return EXIT_CONFIG;
	}
	ca_path(env->settings.state_dir, "ca.crt", path, sizeof(path));
	if (pki_read_cert(path, &ca) != 0 ||
	    pki_cert_fingerprint(ca, es.ca_sha256) != 0) {
		X509_free(ca);
		fprintf(stderr, "eduwatch-collector: cannot read the CA "
				"certificate %s\n", path);
		return EXIT_CONFIG;
	}
	X509_free(ca);
	/* Check the name before a token use is spent on a string that cannot
	 * be written. */
	struct enrollstr probe = es;
	snprintf(probe.token, sizeof(probe.token), "ewt_x");
	if (enrollstr_encode(&probe, out, cap) != 0) {
		fprintf(stderr, "eduwatch-collector: '%s' is not a host name or "
				"address an agent can dial\n", es.host);
		return EXIT_USAGE;
	}
	rc = cli_token_issue(env, school, uses, seconds, es.token);
	if (rc == EXIT_OK && enrollstr_encode(&es, out, cap) != 0)
		rc = EXIT_FAILURE_RUNTIME;
	OPENSSL_cleanse(es.token, sizeof(es.token));
	return rc;
}

int cmd_agent_enroll_string_check(const struct cli *cli)
{
	long long seconds;
	if (cli->argc != 2 || cli->school == NULL || cli->nnames > 1)
		return cli_usage_error("usage: agent enroll-string --school CODE "
				       "[--name HOST] [--uses N] [--expires 7d]");
	if (config_parse_duration(cli->expires, &seconds) != 0 || seconds < 1)
		return cli_usage_error("--expires '%s' is not a duration like 7d",
				       cli->expires);
	return 0;
}

int cmd_agent_enroll_string(struct cli *cli, struct cli_env *env)
{
	long long seconds = 0;
	char text[ENROLLSTR_TEXT_MAX];
	EW_IGNORE(config_parse_duration(cli->expires, &seconds)); /* checked */
	int rc = cli_enroll_string_issue(env, cli->nnames ? cli->names[0] : NULL,
					 cli->school, cli->uses, seconds, text,
					 sizeof(text));
	if (rc != EXIT_OK)
		return rc;
	/* Only the string goes to stdout, so scripts can capture it. */
	printf("%s\n", text);
	fprintf(stderr, "enrollment string for school %s: %ld use(s), expires "
			"in %s; on each PC: eduwatch-agent enroll STRING\n",
		cli->school, cli->uses, cli->expires);
	OPENSSL_cleanse(text, sizeof(text));
	return EXIT_OK;
}
