/* Artifact hashing off the event loop (artifact.h). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include "common/deadline.h"
#include "common/hex.h"
#include "common/hmap.h"
#include "reach/artifact.h"

enum entry_state { ENTRY_QUEUED, ENTRY_DONE, ENTRY_FAILED };

struct entry {
	enum entry_state state;
	struct artifact a;
};

struct request {
	struct request *next;
	int fd;
	enum artifact_kind kind;
	char key[];
};

struct artifact_hasher {
	pthread_mutex_t lock;
	pthread_cond_t wake, idle;
	pthread_t thread;
	bool stop, busy;
	struct request *head, *tail;
	size_t queued;
	struct hmap *results;   /* key -> struct entry */
	uint64_t max_bytes;
	uint64_t skipped;       /* under lock; read racily for status */
};

const char *artifact_kind_name(enum artifact_kind k)
{
	return k == ARTIFACT_PROGRAM ? "program" : k == ARTIFACT_IMAGE ? "image" : "executable";
}

int artifact_hash_fd(int fd, uint64_t max_bytes, struct artifact *out)
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	uint64_t total = 0;
	EVP_MD_CTX *ctx;
	struct stat st;
	int rc = 0;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max_bytes)
		return -EFBIG; /* a prefix would name no file: no artifact rather than a wrong one */
	if (!(ctx = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return -ENOMEM;
	}
	for (;;) {
		/* pread from 0: the descriptor may have been read before (a
		 * program file the loop looked at) */
		ssize_t n = pread(fd, buf, sizeof(buf), (off_t)total);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > max_bytes) {
			rc = -EFBIG; /* grew while read */
			break;
		}
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n)) {
			rc = -EIO;
			break;
		}
	}
	if (!rc && (!EVP_DigestFinal_ex(ctx, md, &len) || len != 32))
		rc = -EIO;
	EVP_MD_CTX_free(ctx);
	if (rc)
		return rc;
	hex_encode(md, 32, out->sha256);
	out->size = total;
	return 0;
}

static void *worker(void *arg)
{
	struct artifact_hasher *h = arg;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		struct request *r;
		struct artifact a = { 0 };
		struct entry *e;
		int rc;

		while (!h->stop && !h->head)
			pthread_cond_wait(&h->wake, &h->lock);
		if (h->stop)
			break;
		r = h->head;
		h->head = r->next;
		if (!h->head)
			h->tail = NULL;
		h->queued--;
		h->busy = true;
		pthread_mutex_unlock(&h->lock);

		a.kind = r->kind;
		rc = artifact_hash_fd(r->fd, h->max_bytes, &a);
		close(r->fd);

		pthread_mutex_lock(&h->lock);
		h->busy = false;
		if ((e = hmap_get(h->results, r->key))) {
			if (rc) {
				e->state = ENTRY_FAILED;
				h->skipped++;
			} else {
				e->state = ENTRY_DONE;
				e->a = a;
			}
		}
		free(r);
		if (!h->head)
			pthread_cond_broadcast(&h->idle);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

struct artifact_hasher *artifact_hasher_new(uint64_t max_bytes)
{
	struct artifact_hasher *h = calloc(1, sizeof(*h));
	int rc;

	if (!h)
		return NULL;
	h->max_bytes = max_bytes ? max_bytes : ARTIFACT_MAX_BYTES;
	if (!(h->results = hmap_new())) {
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->wake, NULL);
	pthread_cond_init(&h->idle, NULL);
	if ((rc = pthread_create(&h->thread, NULL, worker, h))) {
		hmap_free(h->results, free);
		pthread_mutex_destroy(&h->lock);
		pthread_cond_destroy(&h->wake);
		pthread_cond_destroy(&h->idle);
		free(h);
		errno = rc;
		return NULL;
	}
	return h;
}

void artifact_hasher_free(struct artifact_hasher *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	while (h->head) {
		struct request *r = h->head;

		h->head = r->next;
		close(r->fd);
		free(r);
	}
	hmap_free(h->results, free);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->wake);
	pthread_cond_destroy(&h->idle);
	free(h);
}

int artifact_hasher_submit(struct artifact_hasher *h, const char *key, int fd, enum artifact_kind kind)
{
	size_t klen = strlen(key);
	struct request *r;
	struct entry *e;
	int rc = 0;

	pthread_mutex_lock(&h->lock);
	e = hmap_get(h->results, key);
	if (e && e->state != ENTRY_FAILED) {
		close(fd); /* that version is hashed (or on its way) */
		goto out;
	}
	if (h->queued >= ARTIFACT_QUEUE_MAX || (!e && hmap_count(h->results) >= ARTIFACT_RESULTS_MAX)) {
		rc = -EAGAIN;
		goto fail;
	}
	if (!(r = malloc(sizeof(*r) + klen + 1))) {
		rc = -ENOMEM;
		goto fail;
	}
	if (!e) {
		if (!(e = calloc(1, sizeof(*e))) || hmap_put(h->results, key, e, NULL)) {
			free(e);
			free(r);
			rc = -ENOMEM;
			goto fail;
		}
	}
	e->state = ENTRY_QUEUED;
	memcpy(r->key, key, klen + 1);
	r->fd = fd;
	r->kind = kind;
	r->next = NULL;
	if (h->tail)
		h->tail->next = r;
	else
		h->head = r;
	h->tail = r;
	h->queued++;
	pthread_cond_signal(&h->wake);
	goto out;
fail:
	close(fd);
	h->skipped++;
out:
	pthread_mutex_unlock(&h->lock);
	return rc;
}

int artifact_hasher_get(struct artifact_hasher *h, const char *key, struct artifact *out)
{
	struct entry *e;
	int rc;

	pthread_mutex_lock(&h->lock);
	e = hmap_get(h->results, key);
	if (!e || e->state == ENTRY_FAILED)
		rc = -ENOENT;
	else if (e->state == ENTRY_QUEUED)
		rc = -EINPROGRESS;
	else {
		*out = e->a;
		rc = 0;
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

void artifact_hasher_count_skipped(struct artifact_hasher *h)
{
	pthread_mutex_lock(&h->lock);
	h->skipped++;
	pthread_mutex_unlock(&h->lock);
}

uint64_t artifact_hasher_skipped(const struct artifact_hasher *h)
{
	uint64_t n;

	if (!h)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&h->lock);
	n = h->skipped;
	pthread_mutex_unlock((pthread_mutex_t *)&h->lock);
	return n;
}

int artifact_hasher_drain(struct artifact_hasher *h, int timeout_ms)
{
	struct timespec until;
	int rc = 0;

	deadline_in_ms(&until, CLOCK_REALTIME, timeout_ms);
	pthread_mutex_lock(&h->lock);
	while ((h->head || h->busy) && rc == 0)
		rc = pthread_cond_timedwait(&h->idle, &h->lock, &until);
	pthread_mutex_unlock(&h->lock);
	return rc ? -ETIMEDOUT : 0;
}
