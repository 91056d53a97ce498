/* Ledger persistence for the agent: load at start, periodic saves that never
 * stall the event loop for the slow part, a last save at exit, and the
 * status /v1/status reports.
 *
 * A save is two steps (ledger_store.h): the calling thread, which owns the
 * ledger, serialises a consistent snapshot into memory
 * (ledger_snapshot_take()); a writer thread of this module compresses it and
 * writes the file (ledger_snapshot_save(): same format, same atomic
 * replace as ledger_save()). Nothing is forked: a fork() of the
 * multi-threaded agent would leave every lock another thread held (malloc's,
 * libcurl's, ours) locked forever in the child. The writer never touches the
 * ledger, so the ledger may change, or be freed, as soon as save_async()
 * returns.
 *
 * One save at a time: a periodic save that finds the previous one still
 * being written is skipped and counted. Not thread-safe: one thread (the
 * event loop) calls everything here; the writer is internal. */
#ifndef REACH_LEDGER_PERSIST_H
#define REACH_LEDGER_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ledger;
struct intern;
struct ledger_persist;

struct ledger_persist_opts {
	const char *path;      /* the ledger file (its directory must exist) */
	const char *node;      /* written into every save; NULL: "" */
	size_t max_identities; /* the ledger's caps (ledger_new(): 0 = default) */
	size_t max_edges;      /* per identity */
	struct intern *strings; /* ledger_new_sharing()'s table, or NULL */
};

struct ledger_persist_status {
	int64_t last_save_unix_ms; /* when the last saved snapshot was taken; 0: none yet */
	const char *last_error;    /* of the last save ("" once one succeeds); valid until the next call */
	uint64_t saves_skipped;    /* periodic saves skipped: the previous one was still running */
	bool saving;               /* a save is being written */
};

/* Makes the ledger (*ledger, the caller's to ledger_free()) and unions the
 * file into it when there is one. A corrupt file (-EBADMSG from
 * ledger_load()) is renamed aside (ledger_quarantine()) with a warning and
 * the ledger starts empty; a loaded one is logged. 0; -ENOMEM; or the
 * -errno of a load that failed otherwise (the file is left alone); err gets
 * the line to log ("allocating the ledger: ...", "loading the ledger: ...").
 * Starts the writer thread: *out is the caller's to ledger_persist_free(). */
int ledger_persist_open(struct ledger_persist **out, struct ledger **ledger, const struct ledger_persist_opts *o,
			char *err, size_t err_size);

/* Snapshots l (on this thread) and hands it to the writer. 0: handed over;
 * -EBUSY: a save is still running, this one skipped (counted); other
 * -errno: the snapshot failed (the last error, logged once per distinct
 * reason). */
int ledger_persist_save_async(struct ledger_persist *p, const struct ledger *l);

/* Waits for a save in flight, then saves l on this thread (at exit: nothing
 * may be lost). 0 or -errno (the last error, logged as above). */
int ledger_persist_save_sync(struct ledger_persist *p, const struct ledger *l);

/* Collects a finished save_async(), waiting up to timeout_ms for one in
 * flight (0: do not wait; -1: as long as it takes). 1: one completed since
 * the last call (the file now holds its snapshot); 0: nothing finished;
 * -errno: one failed (the last error, logged once per distinct reason).
 * save_async() and save_sync() collect too; what they collect is reported
 * here all the same. */
int ledger_persist_poll(struct ledger_persist *p, int timeout_ms);

void ledger_persist_get_status(struct ledger_persist *p, struct ledger_persist_status *st);
const char *ledger_persist_path(const struct ledger_persist *p);

/* With keep on, the writer keeps the file image of its newest save so the
 * caller can serve it (/v1/ledger) without encoding the ledger again on the
 * loop. take: the newest image not taken yet (the caller's to free()), or
 * false. Background saves only; save_sync keeps nothing. */
void ledger_persist_keep_image(struct ledger_persist *p, bool keep);
bool ledger_persist_take_image(struct ledger_persist *p, uint8_t **image, size_t *len);

/* Waits for a save in flight, stops the writer. Accepts NULL. */
void ledger_persist_free(struct ledger_persist *p);

#endif
