/* Loads a reachd config file with the agent's own loader (user/config) and
 * says whether it is accepted: the deploy tier runs it on the config.yaml of
 * the reach-config ConfigMap. Built by tests/deploy/check_manifests.py against
 * build/libreach.a. Exit 0 accepted, 1 refused (the loader's
 * FILE:LINE:COLUMN message on stderr), 2 usage. */
#include <stdio.h>
#include "config/config.h"

int main(int argc, char **argv)
{
	struct reach_config cfg;
	char err[1024] = "";
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CONFIG.yaml\n", argv[0]);
		return 2;
	}
	config_init(&cfg);
	rc = config_load_file(&cfg, argv[1], err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s\n", err);
		config_free(&cfg);
		return 1;
	}
	printf("%s: accepted\n", argv[1]);
	config_free(&cfg);
	return 0;
}
