// fuzz-sources: -D_GNU_SOURCE -DREACH_VERSION="fuzz" user/config/config.c user/config/options.c user/common/api.c user/common/caps.c user/common/cgroup.c user/common/elf_func.c user/common/fileio.c user/common/glob.c user/common/hmap.c user/common/https_client.c user/common/intern.c user/common/json.c user/common/log.c user/common/readfile.c user/common/x86_entry.c user/common/yamlfile.c user/common/yamlnode.c user/identity/cgpath.c user/identity/identity.c user/identity/kube.c user/identity/kube_watch.c user/common/names.c user/identity/pod_monitor.c user/identity/podcgroup.c user/reach/netclass.c user/reach/catalog.c user/reach/path.c -lyaml -lelf -lcurl -lcrypto -lssl -ljson-c -lz -lpthread
/* libFuzzer target for the agent's config file loader (YAML through the
 * limits of common/yamlfile.c, then the strict option walker): any bytes
 * load or are refused with a message, never a crash.
 * Run: tests/fuzz/run.sh [seconds]   (corpus: tests/fuzz/corpus/config/) */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "config/config.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct reach_config cfg;
	char err[1024];
	FILE *f;
	int rc;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/reach-fuzz-config-%d.yaml", (int)getpid());
	f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	config_init(&cfg);
	err[0] = '\0';
	rc = config_load_file(&cfg, path, err, sizeof(err));
	if (rc)
		CHECK(rc < 0 && err[0]);
	config_free(&cfg);
	return 0;
}
