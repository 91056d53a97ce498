/* Functions of a Go executable by name through its .gopclntab, the
 * function table every Go binary keeps for the runtime (stack traces, GC),
 * also when stripped of its symbol table (-ldflags=-s -w). */
#ifndef REACH_GO_PCLNTAB_H
#define REACH_GO_PCLNTAB_H

#include <stdint.h>

/* The file offset of Go function func (e.g. "crypto/tls.(*Conn).Write")
 * in the ELF file open at fd. 0; -ENOENT (no .gopclntab, or no such
 * function); -EPROTONOSUPPORT (a table layout older than Go 1.18: read
 * only the 1.18+ one, magic 0xfffffff0/0xfffffff1); -EBADMSG (offsets out
 * of the table: a damaged or hostile file); -EINVAL (not ELF); -errno. */
int go_pclntab_func(int fd, const char *func, uint64_t *file_off);

/* The table itself, t[0..len) (the section's bytes): func's address
 * (textStart + its entry offset), with the same returns. For the fuzzer
 * and the tests. */
#include <stddef.h>
int go_pclntab_lookup(const uint8_t *t, size_t len, const char *func, uint64_t *vaddr);

#endif
