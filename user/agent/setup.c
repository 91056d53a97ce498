/* The pipeline's classifiers from the settings (setup.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "agent/setup.h"

int setup_catalog(struct catalog **out, const struct reach_config *cfg)
{
	char err[512];
	int rc;
	/* the caller's to free, also on error */
	struct catalog *cat = *out = catalog_new();

	if (!cat) {
		log_error("allocating the secret catalogue: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	if (cfg->builtin_secrets && (rc = catalog_add_builtin(cat))) {
		log_error("loading the built-in secret catalogue: %s", strerror(-rc));
		return -ENOMEM;
	}
	for (int i = 0; i < cfg->n_secret_patterns; i++) {
		rc = catalog_add_entry(cat, cfg->secret_patterns[i]);
		if (rc == -ENOMEM) {
			log_error("allocating the secret catalogue: %s", strerror(ENOMEM));
			return -ENOMEM;
		}
		if (rc) {
			log_error("%s: secrets.patterns: '%s' is not a valid pattern (absolute, '**/...', '~/...' or a bare file name)",
				  cfg->config_file, cfg->secret_patterns[i]);
			return -EINVAL;
		}
	}
	/* secrets.pattern_files, then --secret-patterns: the first match wins */
	for (int i = 0; i < cfg->n_secret_pattern_files; i++) {
		if (catalog_add_file(cat, cfg->secret_pattern_files[i], err, sizeof(err))) {
			log_error("secret pattern file: %s", err);
			return -EINVAL;
		}
	}
	log_debug("secret catalogue: %zu rules", catalog_size(cat));
	return 0;
}

int setup_netclass(struct netclass *nc, const struct reach_config *cfg)
{
	netclass_init(nc);
	/* values were validated where they were read (flags, config lines) */
	for (int i = 0; i < cfg->n_cluster_cidrs; i++)
		if (netclass_add_cluster_cidr(nc, cfg->cluster_cidrs[i]) == -ENOSPC) {
			log_error("egress.cluster_cidrs: more than %d ranges in all", NETCLASS_MAX_CIDRS);
			return -EINVAL;
		}
	for (int i = 0; i < cfg->n_apiservers; i++)
		if (netclass_add_apiserver(nc, cfg->apiservers[i]) == -ENOSPC) {
			log_error("egress.apiserver: more than %d endpoints in all", NETCLASS_MAX_APISERVERS);
			return -EINVAL;
		}
	if (!cfg->n_apiservers && netclass_add_apiserver_from_env(nc)) {
		log_error("KUBERNETES_SERVICE_HOST='%s' is not an address", getenv("KUBERNETES_SERVICE_HOST"));
		return -EINVAL;
	}
	return 0;
}
