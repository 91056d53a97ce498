/* How reachd shows what it observed: JSON lines for machines (--events),
 * an aligned summary for people. Only redacted argv and paths reach here. */
#ifndef REACH_OUTPUT_H
#define REACH_OUTPUT_H

#include <stdint.h>
#include <stdio.h>
#include "reach/observed.h"

struct run_stats {
	uint64_t events[REACH_EV__MAX];   /* ring-buffer events handled, per kind */
	uint64_t opens_not_secret;        /* read-opens the catalogue did not match */
	uint64_t opens_filtered_in_kernel; /* first-seen opens the kernel pre-filter dropped (no secret) */
	uint64_t opens_sent_by_filter;    /* ... and those it let through to the catalogue */
	uint64_t secret_content_unread;   /* secret files not fingerprinted: the reader was gone, or
					   * the file at the path is no longer the inode it read */
	uint64_t kv_lines_malformed;      /* lines of KEY=VALUE secret files (.env) that were not KEY=VALUE: skipped */
	uint64_t kv_lines_unread;         /* ... past the per-file line bound */
	uint64_t kv_truncated;            /* KEY=VALUE files longer than the bytes read of them */
	uint64_t path_errors;             /* paths that could not be made absolute */
	uint64_t malformed_events;        /* short or unknown events */
	uint64_t dns_responses;           /* DNS answers parsed */
	uint64_t dns_malformed;           /* DNS payloads rejected by the parser: counted, skipped */
	uint64_t dns_truncated;           /* answers longer than the capture bound: skipped */
	uint64_t dns_names_dropped;       /* answers not kept because the name table was full */
	uint64_t http_requests;           /* HTTP request heads parsed */
	uint64_t http_malformed;          /* captured heads that were not valid HTTP/1.x: counted, skipped */
	uint64_t http_truncated;          /* heads longer than the capture bound (headers after it unseen) */
	uint64_t http_creds_dropped;      /* credentials beyond the per-request bound */
	uint64_t http_pieces;             /* pieces of heads that spanned writes or captures, joined */
	uint64_t http_pieces_lost;        /* a piece missing: the head was cut there */
	uint64_t tls_hello_sni;           /* ClientHellos whose server name was read */
	uint64_t tls_hello_sni_named;     /* egress edges named from a ClientHello's SNI (no DNS name) */
	uint64_t tls_before_probe;        /* TLS connections begun before their library's probe was attached */
	uint64_t h2_undecodable;          /* HTTP/2 connections not decoded (lost, or not followed in the kernel) */
	uint64_t h2_requests;             /* HTTP/2 requests decoded */
	uint64_t h2_malformed;            /* HTTP/2 requests the credential reader refused (counted, skipped) */
	uint64_t jsonrpc_messages;        /* JSON-RPC messages on pipes / unix sockets recognised */
	uint64_t jsonrpc_malformed;       /* captures that were not JSON-RPC (binary, bad JSON): counted, skipped */
	uint64_t jsonrpc_truncated;       /* messages longer than the capture bound */
	uint64_t mcp_calls;               /* MCP tools/call requests recorded */
	uint64_t mcp_calls_undecoded;     /* tools/call cut before the tool name: a blind road */
	uint64_t mcp_arg_shapes_cut;      /* tools/calls whose argument shapes did not all fit */
	uint64_t mcp_arg_shapes_dropped;  /* distinct argument shapes beyond an edge's bound: not kept */
	uint64_t mcp_responses;           /* answers matched to a tools/call (by id, on its connection) */
	uint64_t mcp_responses_unmatched; /* answers to no request seen (or whose edge was evicted) */
	uint64_t mcp_calls_unanswered;    /* tools/call whose server exited (or whose slot was needed) unanswered */
	uint64_t http_bodies;             /* JSON POST bodies read (LLM and MCP over HTTP calls) */
	uint64_t http_bodies_orphan;      /* a body whose head was not seen (lost, or forgotten): counted, skipped */
	uint64_t h2_bodies_unpaired;      /* an HTTP/2 first DATA frame that starts like JSON on a stream no JSON POST
					   * waits for (a form, a stream not decoded, a body after its wait): wiped */
	uint64_t http_bodies_malformed;   /* a body that was neither an LLM request nor JSON-RPC: counted, skipped */
	uint64_t llm_calls;               /* LLM API calls recorded */
	uint64_t llm_model_unseen;        /* LLM calls whose model reach could not read: a blind road */
	uint64_t observed_edges_dropped;  /* new edges refused at the agent's cap */
	uint64_t observed_edges_evicted;  /* edges moved to the ledger alone (not in this summary) */
	struct reach_loss_counters losses;
	double duration_s;
};

/* Boot-clock nanoseconds (the kernel's timestamps) to ISO 8601 UTC. */
void output_init_clock(void);
void output_format_time(uint64_t boot_ns, char *out, size_t out_size);

void output_edge_json(FILE *f, const struct cgroup_reach *c, const struct edge *e);
void output_summary_json(FILE *f, struct observed *o, const struct run_stats *st);
void output_summary_text(FILE *f, struct observed *o, const struct run_stats *st);
uint64_t output_loss_total(const struct reach_loss_counters *l, int reason);
/* Names used in every output: "file_open", ...; "ringbuf_full", ... */
const char *output_event_name(int kind);
const char *output_loss_name(int reason);

#endif
