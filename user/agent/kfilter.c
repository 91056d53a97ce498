/* The catalogue pre-filter, loaded (agent/kfilter.h). */
#include <errno.h>
#include <string.h>
#include "common/log.h"
#include "reach/catalog.h"
#include "reach/catfilter.h"
#include "sensor/sensor.h"
#include "agent/kfilter.h"

int kfilter_load(struct sensor *s, const struct catalog *c)
{
	struct catfilter f;
	struct sensor_catfilter t = { 0 };
	int rc = catfilter_compile(&f, c);

	if (rc) {
		log_error("compiling the secret catalogue for the kernel: %s: every new file open is sent",
			  strerror(-rc));
		catfilter_free(&f);
		sensor_load_catfilter(s, NULL);
		return rc;
	}
	t.on = f.on;
	t.names = f.names;
	t.n_names = f.n_names;
	t.affixes = f.affixes;
	t.n_affixes = f.n_affixes;
	t.prefixes = f.prefixes;
	t.n_prefixes = f.n_prefixes;
	t.sieve = f.sieve;
	rc = sensor_load_catfilter(s, &t);
	if (rc)
		log_error("loading the kernel's catalogue filter: %s: every new file open is sent", strerror(-rc));
	else if (!f.on)
		log_warn("kernel catalogue filter off: %s: every new file open is sent", f.why);
	else
		log_debug("kernel catalogue filter: %zu names, %zu affixes, %zu prefixes", f.n_names, f.n_affixes,
			  f.n_prefixes);
	catfilter_free(&f);
	return rc;
}
