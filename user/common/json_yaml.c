/* json_print_yaml (common/json.h): a json-c document through libyaml's
 * emitter, for reachctl -o yaml. Its own file so that what links json.c
 * alone (the fuzzers) needs no libyaml. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>
#include "common/json.h"

static int emit(yaml_emitter_t *em, yaml_event_t *ev, int ok)
{
	return ok && yaml_emitter_emit(em, ev) ? 0 : -EIO;
}

/* A string that a YAML 1.1 reader (PyYAML, kubectl's) would take for a
 * number, bool, null or timestamp must be quoted to stay a string; libyaml's
 * emitter quotes only what plain style cannot express at all. */
static bool yaml_string_needs_quotes(const char *s)
{
	static const char *const words[] = { "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n" };

	if (!*s || (*s >= '0' && *s <= '9') || *s == '-' || *s == '+' || *s == '.')
		return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(s, words[i]) == 0)
			return true;
	return false;
}

static int emit_string(yaml_emitter_t *em, const char *s);

static int emit_scalar(yaml_emitter_t *em, const char *text, yaml_scalar_style_t style)
{
	yaml_event_t ev;

	return emit(em, &ev, yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1, 1,
							   style));
}

static int emit_value(yaml_emitter_t *em, json_object *o)
{
	yaml_event_t ev;
	int rc;

	switch (json_object_get_type(o)) {
	case json_type_object:
		if ((rc = emit(em, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE))))
			return rc;
		json_object_object_foreach(o, key, val)
		{
			if ((rc = emit_string(em, key)) || (rc = emit_value(em, val)))
				return rc;
		}
		return emit(em, &ev, yaml_mapping_end_event_initialize(&ev));
	case json_type_array:
		if ((rc = emit(em, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE))))
			return rc;
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if ((rc = emit_value(em, json_object_array_get_idx(o, i))))
				return rc;
		return emit(em, &ev, yaml_sequence_end_event_initialize(&ev));
	case json_type_null:
		return emit_scalar(em, "null", YAML_PLAIN_SCALAR_STYLE);
	case json_type_string:
		return emit_string(em, json_object_get_string(o));
	default: /* numbers and booleans: their JSON text is their YAML plain scalar */
		return emit_scalar(em, json_object_to_json_string(o), YAML_PLAIN_SCALAR_STYLE);
	}
}

static int emit_string(yaml_emitter_t *em, const char *s)
{
	return emit_scalar(em, s, yaml_string_needs_quotes(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
}

int json_print_yaml(FILE *f, json_object *o)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	int rc;

	if (!yaml_emitter_initialize(&em))
		return -EIO;
	yaml_emitter_set_output_file(&em, f);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1);
	rc = emit(&em, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	if (!rc)
		rc = emit(&em, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	if (!rc)
		rc = emit_value(&em, o);
	if (!rc)
		rc = emit(&em, &ev, yaml_document_end_event_initialize(&ev, 1));
	if (!rc)
		rc = emit(&em, &ev, yaml_stream_end_event_initialize(&ev));
	yaml_emitter_delete(&em);
	return rc;
}
