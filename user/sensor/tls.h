/* TLS coverage: which TLS library each monitored process writes through,
 * and the uprobes that read its plaintext. Libraries are found from what
 * processes map (/proc/PID/maps at start, open events afterwards) and
 * executables from their ELF symbol tables (libelf): never from fixed paths.
 * A uprobe is attached once per file (device, inode) and fires for every
 * process of that file; the kernel side keeps only monitored ones. */
#ifndef REACH_TLS_H
#define REACH_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "abi/events.h"

struct sensor;
struct tls_coverage;

struct tls_coverage *tls_coverage_new(struct sensor *s);
void tls_coverage_free(struct tls_coverage *t);
/* Whether Go executables' crypto/tls.(*Conn).Write is probed (the default);
 * off (sensor.no_go_tls), a Go process's TLS is tls-blind with that reason. */
void tls_coverage_probe_go(struct tls_coverage *t, bool probe);
/* How long a file's probes stay after its last monitored user exits
 * (--tls-probe-linger; 0: detached at once). tls_coverage_tick()
 * detaches those whose time is up: call it now and then. */
void tls_coverage_linger(struct tls_coverage *t, double seconds);
void tls_coverage_tick(struct tls_coverage *t);

/* Every TLS library mapped by a running process (the agent's own included),
 * so clients started later are covered from their first write. */
void tls_scan_all_processes(struct tls_coverage *t);

/* A monitored process opened abs_path (as it sees it); inode: the file's
 * (the kernel's dev_t), which names it when the process is gone already;
 * key is the open's kernel dedup key, forgotten when the file's probes are
 * detached so that the next open of the library is an event again and
 * re-attaches them. */
void tls_on_open(struct tls_coverage *t, uint32_t tgid, const char *abs_path, const struct reach_inode_key *inode,
		 const struct reach_dedup_key *key);
/* A monitored process exec'd path: an executable that exports SSL_write
 * (statically linked OpenSSL/BoringSSL, as node) is attached; a Go binary
 * is noted as blind (crypto/tls has no stable symbols to probe yet). */
void tls_on_exec(struct tls_coverage *t, uint32_t tgid, const char *path);
void tls_on_fork(struct tls_coverage *t, uint32_t parent, uint32_t child);
void tls_on_exit(struct tls_coverage *t, uint32_t tgid);

/* "openssl", "gnutls", "openssl (in the executable)", or NULL when the
 * process has no covered TLS library; *why explains a NULL. A process not
 * known yet (its library open was a dedup repeat, so no event) is looked up
 * in /proc/PID/maps first. since_ns: when the traffic judged began (a
 * ClientHello's kernel time, CLOCK_BOOTTIME), 0 when not known; a library
 * probed only after it returns its name with *late_ms > 0 (how much later,
 * rounded up) and *why saying what was not seen. key_of_traffic: that
 * traffic's kernel dedup key (or NULL), forgotten when the library's
 * probes are detached, so that the next such traffic is judged again. */
const char *tls_process_library(struct tls_coverage *t, uint32_t tgid, uint64_t since_ns,
				const struct reach_dedup_key *key_of_traffic, const char **why, uint64_t *late_ms);
size_t tls_files_attached(const struct tls_coverage *t);
/* Since start: library files probed, and files whose probe could not attach. */
uint64_t tls_attaches(const struct tls_coverage *t);
uint64_t tls_attach_failures(const struct tls_coverage *t);

#endif
