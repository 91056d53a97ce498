/* OTLP/HTTP logs: findings and verification results as OpenTelemetry log
 * records, encoded as an ExportLogsServiceRequest (proto/otlp_logs.proto)
 * for POST /v1/logs with Content-Type application/x-protobuf. Encoding
 * only: the shipper does the HTTP.
 *
 * One request holds one ResourceLogs (the agent: host.name, service.name
 * "reach-agent", service.version, k8s.node.name when known) with one
 * ScopeLogs (scope "reach", the agent's version) holding the records.
 *
 * Attributes follow the OpenTelemetry semantic conventions where one
 * exists (k8s.namespace.name, k8s.serviceaccount.name, k8s.pod.name,
 * host.name, process.executable.path); reach's own live under "reach.".
 * Records carry what a finding carries: edge objects hold keyed
 * fingerprints, never a credential. */
#ifndef REACH_OTLP_H
#define REACH_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "policy/verify.h"

#define OTLP_CONTENT_TYPE "application/x-protobuf"
#define OTLP_SERVICE_NAME "reach-agent"
#define OTLP_SCOPE_NAME "reach"

/* OpenTelemetry SeverityNumber values reach uses. */
enum {
	OTLP_SEV_INFO = 9,
	OTLP_SEV_WARN = 13,
	OTLP_SEV_ERROR = 17,
	OTLP_SEV_ERROR2 = 18, /* critical: above every ERROR filter's floor of 17 */
};

enum otlp_value_type { OTLP_STRING, OTLP_INT, OTLP_BOOL, OTLP_DOUBLE };

struct otlp_attr {
	const char *key;
	enum otlp_value_type type;
	union {
		const char *str; /* NULL is sent as "" */
		int64_t i;
		bool b;
		double d;
	};
};

struct otlp_resource {
	const char *host_name;       /* NULL or "": left out */
	const char *service_name;    /* NULL: OTLP_SERVICE_NAME */
	const char *service_version; /* NULL or "": left out; also the scope version */
	const char *k8s_node_name;   /* NULL or "": left out (host mode) */
};

struct otlp_item {
	int64_t time_ms;             /* wall clock; also the observed time */
	int severity_number;
	const char *severity_text;
	const char *event_name;      /* "reach.finding" | "reach.finding.resolved" | "reach.verification" */
	const char *body;            /* a human sentence; NULL: no body */
	const struct otlp_attr *attrs;
	size_t n_attrs;
};

/* Packs the request into a malloc'ed buffer (*out, caller frees; *out_len
 * bytes; n = 0 gives a request with no record). Strings that are not
 * valid UTF-8 (a file name is any bytes) are sent with U+FFFD in place of
 * each bad byte: proto3 strings must be UTF-8 and collectors refuse the
 * whole request otherwise. 0; -EINVAL (NULL res/out, items NULL with n > 0);
 * -ENOMEM. */
int otlp_encode_logs(const struct otlp_resource *res, const struct otlp_item *items, size_t n, void **out,
		     size_t *out_len);

/* A log record built from a finding or a verdict: a plain value that owns
 * copies of its strings (keys, event names and severity texts are static),
 * so records can be kept in an array that is realloc'ed, copied, and
 * outlive the finding they came from. Encode them with
 * otlp_encode_records(). A string that does not fit the record's text
 * space (not met by findings: their fields are bounded) is cut. */
#define OTLP_RECORD_MAX_ATTRS 16
#define OTLP_RECORD_TEXT 6144
struct otlp_record {
	int64_t time_ms;
	int severity_number;
	const char *severity_text;   /* static */
	const char *event_name;      /* static */
	size_t n_attrs;
	struct {
		const char *key;     /* static */
		uint16_t off;        /* value at text + off */
	} attrs[OTLP_RECORD_MAX_ATTRS];
	uint16_t body_off;
	uint16_t used;
	char text[OTLP_RECORD_TEXT];
};

/* "reach.finding" (or "reach.finding.resolved" when resolved), body the
 * finding's message. Attributes: reach.identity, reach.finding.id,
 * reach.finding.kind, reach.severity, reach.edge.kind, reach.edge.object;
 * reach.executables and reach.policy.ref when set; k8s.namespace.name and
 * k8s.serviceaccount.name for a "ns/sa" identity; k8s.pod.name and
 * host.name when given (NULL or "": left out); process.executable.path:
 * the object of a tool edge, else the finding's executable when it names
 * exactly one. Severity: high ERROR, critical ERROR2, medium WARN, low and
 * info INFO; a resolved finding is INFO whatever its severity. */
void otlp_record_finding(struct otlp_record *r, const struct finding *f, bool resolved, int64_t time_ms,
			 const char *host_name, const char *pod_name);

/* "reach.verification": reach.identity, reach.verdict, reach.version and
 * reach.reasons when set, k8s names for a "ns/sa" identity, host.name when
 * given. Severity: fail and drifted ERROR, inconclusive WARN, pass (or
 * anything else) INFO. */
void otlp_record_verdict(struct otlp_record *r, const char *identity, const char *verdict, const char *reasons,
			 const char *version, int64_t time_ms, const char *host_name);

/* otlp_encode_logs() of the records. Same results. */
int otlp_encode_records(const struct otlp_resource *res, const struct otlp_record *recs, size_t n, void **out,
			size_t *out_len);

/* SeverityNumber and text for a finding severity / a verdict name. */
int otlp_severity_of_finding(enum severity s, const char **text);
int otlp_severity_of_verdict(const char *verdict, const char **text);


#endif
