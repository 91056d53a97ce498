/* The agent's local API (reachctl over the unix socket, common/api.h): one
 * handler per command, answering from the pipeline's model and ledger, the
 * policies and the epoch records. What only the daemon knows (the sensor's
 * hooks and loss counters, TLS probes, the pods selected) comes through
 * one callback, so these handlers need no kernel. */
#ifndef REACH_AGENT_API_HANDLERS_H
#define REACH_AGENT_API_HANDLERS_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include "abi/events.h"
#include "abi/catfilter.h"
#include "policy/verify.h"

struct pipeline;
struct policy_set;
struct epoch_tracker;
struct kube;
struct shipping;

/* The daemon's side of `status`, read when asked. */
struct api_daemon_view {
	const char *const *hooks;        /* attached programs, NULL-terminated */
	const char *syscall_hooks;       /* the syscall-exit style attached */
	const char *syscall_hooks_fallback; /* why auto took the dispatcher, or NULL */
	const char *compat_syscalls;        /* 32-bit syscalls on this node: "off", or what may be issued */
	bool have_losses;                /* losses could be read */
	struct reach_loss_counters losses;
	uint64_t tls_files_probed;
	uint64_t uprobes_attached;
	uint64_t bpf_load_ms;            /* the BPF object's load at start: the verifier, mostly */
	uint64_t secret_bits_set, secret_bits_rebuilds; /* sensor_secret_bits */
	bool have_catfilter;             /* the kernel's catalogue filter counters could be read */
	struct reach_cf_counters catfilter;
	bool pods;                       /* pods are selected (--kube without --cgroup/--all) */
	uint64_t pods_monitored, pods_waiting;
};

struct api_handlers {
	struct pipeline *pipe;                 /* the observed model, its ledger, epochs */
	const struct policy_set *policies;     /* the agent's (reloaded in place) */
	bool default_alert;                    /* identities without a policy alert */
	struct epoch_tracker *epoch_tracker;
	struct kube *kube;                     /* or NULL */
	struct shipping *ship;
	const char *node;
	double started_s;                      /* CLOCK_MONOTONIC seconds at start */
	bool monitor_all;                      /* every process, not selected cgroups or pods */
	/* the ledger's persistence, as status shows it */
	const char *ledger_file;
	const int64_t *last_persist_unix_ms;
	const char *last_persist_error;
	const uint64_t *persists_skipped;
	/* from the daemon: its view (status, health), and bringing the epoch
	 * records up to date (the epochs command) */
	void (*daemon_view)(void *ctx, struct api_daemon_view *out);
	void (*verify_epochs)(void *ctx);
	void *ctx;
};

/* An api_handler_fn (common/api.h); ctx is the struct api_handlers. */
json_object *api_handle(void *ctx, json_object *req);
/* How complete the observation is: the verifier never passes on less. */
struct verify_input_health api_health(const struct api_handlers *h);

#endif
