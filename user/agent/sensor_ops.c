/* Binds the pipeline's ops to the sensor (sensor_ops.h). */
#include "common/cgroup.h"
#include "sensor/sensor.h"
#include "sensor/tls.h"
#include "agent/pipeline.h"
#include "agent/sensor_ops.h"

static int dedup_snapshot(void *ctx) { return sensor_dedup_snapshot(ctx); }

/* From the batch-read copy the refresh takes first (pipeline_refresh_counts). */
static int dedup_lookup(void *ctx, const struct reach_dedup_key *key, struct reach_dedup_val *val)
{
	return sensor_dedup_lookup_snapshot(ctx, key, val);
}

static int dedup_take(void *ctx, const struct reach_dedup_key *key, struct reach_dedup_val *val)
{
	return sensor_dedup_take(ctx, key, val);
}

static int mark_secret_inode(void *ctx, const struct reach_inode_key *key)
{
	return sensor_mark_secret_inode(ctx, key);
}

static int unmark_secret_inode(void *ctx, const struct reach_inode_key *key)
{
	return sensor_unmark_secret_inode(ctx, key);
}

static int ack_link(void *ctx, uint64_t cgroup_id, uint64_t n) { return sensor_ack_link(ctx, cgroup_id, n); }
static int link_counts(void *ctx, uint64_t cgroup_id, uint64_t *sent, uint64_t *acked)
{
	return sensor_link_counts(ctx, cgroup_id, sent, acked);
}

static const struct pipeline_dedup_ops sensor_dedup_ops = {
	.snapshot = dedup_snapshot, .lookup = dedup_lookup, .take = dedup_take,
	.mark_secret_inode = mark_secret_inode, .unmark_secret_inode = unmark_secret_inode,
	.ack_link = ack_link,
	.link_counts = link_counts,
};

static void tls_open(void *ctx, uint32_t tgid, const char *abs_path, const struct reach_inode_key *inode,
		     const struct reach_dedup_key *key)
{
	tls_on_open(ctx, tgid, abs_path, inode, key);
}

static void tls_exec(void *ctx, uint32_t tgid, const char *path) { tls_on_exec(ctx, tgid, path); }
static void tls_fork(void *ctx, uint32_t parent, uint32_t child) { tls_on_fork(ctx, parent, child); }
static void tls_exit(void *ctx, uint32_t tgid) { tls_on_exit(ctx, tgid); }

static const char *tls_library(void *ctx, uint32_t tgid, uint64_t since_ns, const struct reach_dedup_key *key,
			       const char **why, uint64_t *late_ms)
{
	return tls_process_library(ctx, tgid, since_ns, key, why, late_ms);
}

static const struct pipeline_tls_ops tls_coverage_ops = {
	.on_open = tls_open, .on_exec = tls_exec, .on_fork = tls_fork, .on_exit = tls_exit, .library = tls_library,
};

static int losses_each_cgroup(void *ctx, pipeline_loss_fn fn, void *fn_ctx)
{
	return sensor_each_cgroup_loss(ctx, fn, fn_ctx);
}

static int losses_unattributed(void *ctx, struct reach_loss_counters *sum)
{
	return sensor_read_unattributed_losses(ctx, sum);
}

static int losses_forget(void *ctx, uint64_t cgroup_id, uint32_t uid)
{
	return sensor_forget_cgroup_loss(ctx, cgroup_id, uid);
}

static int losses_cgroup_exists(void *ctx, uint64_t cgroup_id)
{
	(void)ctx;
	return cgroup_exists(cgroup_id);
}

static const struct pipeline_loss_ops sensor_loss_ops = {
	.each_cgroup = losses_each_cgroup, .unattributed = losses_unattributed,
	.forget = losses_forget, .cgroup_exists = losses_cgroup_exists,
};

void pipeline_use_sensor(struct pipeline *p, struct sensor *s)
{
	p->dedup = &sensor_dedup_ops;
	p->dedup_ctx = s;
	p->losses = &sensor_loss_ops;
	p->losses_ctx = s;
}

void pipeline_use_tls(struct pipeline *p, struct tls_coverage *t)
{
	p->tls = &tls_coverage_ops;
	p->tls_ctx = t;
}
