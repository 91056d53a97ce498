#include <errno.h>
#include <string.h>
#include <time.h>
#include "common/json.h"

int json_add(json_object *o, const char *key, json_object *v)
{
	/* json-c asserts on a non-object and leaves v to the caller when the
	 * insert fails: one owner either way here */
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(v);
		return -EINVAL;
	}
	if (json_object_object_add(o, key, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* v must be non-NULL: NULL from a json_object_new_* is a failed allocation */
static int add_new(json_object *o, const char *key, json_object *v)
{
	return v ? json_add(o, key, v) : -ENOMEM;
}

int json_add_str(json_object *o, const char *key, const char *s)
{
	return s ? add_new(o, key, json_object_new_string(s)) : json_add(o, key, NULL);
}

int json_add_str_or_null(json_object *o, const char *key, const char *s)
{
	return json_add_str(o, key, s && *s ? s : NULL);
}

int json_add_str_nonempty(json_object *o, const char *key, const char *s)
{
	return s && *s ? json_add_str(o, key, s) : 0;
}

int json_add_int(json_object *o, const char *key, int64_t v)
{
	return add_new(o, key, json_object_new_int64(v));
}

int json_add_int_or_null(json_object *o, const char *key, int64_t v)
{
	return v ? json_add_int(o, key, v) : json_add(o, key, NULL);
}

int json_add_u64(json_object *o, const char *key, uint64_t v)
{
	return add_new(o, key, json_object_new_uint64(v));
}

int json_add_bool(json_object *o, const char *key, bool v)
{
	return add_new(o, key, json_object_new_boolean(v));
}

int json_add_double(json_object *o, const char *key, double v)
{
	return add_new(o, key, json_object_new_double(v));
}

json_object *json_new_str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

json_object *json_new_strings(const char *const *v, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < n; i++) {
		json_object *s = json_object_new_string(v[i]);

		if (!s || json_object_array_add(a, s)) {
			json_object_put(s);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

json_object *json_new_time_ms(int64_t ms)
{
	time_t sec = (time_t)(ms / 1000);
	int frac = (int)(ms % 1000);
	struct tm tm;
	char buf[80]; /* what the compiler allows for any int fields */

	if (frac < 0) { /* before 1970: floor */
		sec--;
		frac += 1000;
	}
	if (!gmtime_r(&sec, &tm))
		return NULL;
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
	return json_object_new_string(buf);
}

/* The time name of a "_ms" key: "first_seen_ms" -> "first_seen",
 * "started_unix_ms" -> "started"; "_at" added when that name holds
 * something else. "" when o already has the time beside it. */
static void time_key(json_object *o, const char *key, char *out, size_t n)
{
	size_t l = strlen(key) - 3;
	json_object *have;

	if (l > 5 && !strncmp(key + l - 5, "_unix", 5))
		l -= 5;
	snprintf(out, n, "%.*s", (int)l, key);
	if (json_object_object_get_ex(o, out, &have)) {
		if (!have || json_object_is_type(have, json_type_string))
			out[0] = '\0';
		else
			snprintf(out, n, "%.*s_at", (int)l, key);
	}
}

#define JSON_TIME_MIN_MS 946684800000LL /* 2000-01-01: smaller "_ms" values are durations */

void json_add_rfc3339(json_object *o)
{
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			json_add_rfc3339(json_object_array_get_idx(o, i));
		return;
	}
	if (!json_object_is_type(o, json_type_object))
		return;
	{
		/* added after the walk: json-c's iteration does not survive additions */
		char names[64][96];
		int64_t ms[64];
		size_t n = 0;

		json_object_object_foreach(o, k, v)
		{
			size_t l = strlen(k);

			json_add_rfc3339(v);
			if (l <= 3 || strcmp(k + l - 3, "_ms") || l >= sizeof(names[0]) || n == 64 ||
			    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < JSON_TIME_MIN_MS)
				continue;
			time_key(o, k, names[n], sizeof(names[n]));
			if (names[n][0])
				ms[n++] = json_object_get_int64(v);
		}
		for (size_t i = 0; i < n; i++)
			json_object_object_add(o, names[i], json_new_time_ms(ms[i]));
	}
}

json_object *json_copy(json_object *o)
{
	json_object *c = NULL;

	if (json_object_deep_copy(o, &c, NULL))
		return NULL;
	return c;
}

json_object *json_get(json_object *o, const char *key, json_type type)
{
	json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, type))
		return NULL;
	return v;
}

const char *json_get_str(json_object *o, const char *key, const char *def)
{
	json_object *v = json_get(o, key, json_type_string);

	return v ? json_object_get_string(v) : def;
}

/* The member key when it is there and not null. */
static json_object *member(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

int64_t json_get_int(json_object *o, const char *key, int64_t def)
{
	json_object *v = member(o, key);

	return v ? json_object_get_int64(v) : def;
}

bool json_get_bool(json_object *o, const char *key, bool def)
{
	json_object *v = member(o, key);

	return v ? json_object_get_boolean(v) : def;
}

const char *json_text(json_object *o, int flags)
{
	return json_object_to_json_string_ext(o, flags);
}

int json_print(FILE *f, json_object *o, int flags)
{
	return fprintf(f, "%s\n", json_text(o, flags)) < 0 ? -1 : 0;
}
