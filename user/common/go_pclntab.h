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

/* The Go version a .go.buildinfo section (its bytes, sec[0..len)) names,
 * into out ("go1.19.8"). Go 1.18+ writes it inline after the 32-byte
 * header ("\xff Go buildinf:", pointer size, flags bit 1); older
 * toolchains wrote pointers into the data instead, not followed here:
 * -EPROTONOSUPPORT. -EBADMSG for anything else (not that header, a length
 * past the section, a name that is no Go version). */
int go_buildinfo_version(const uint8_t *sec, size_t len, char *out, size_t out_size);

/* Whether Go version v ("go1.N[.x]", "devel ...") passes arguments in
 * registers on amd64 (Go 1.17+: ABIInternal), the convention reach's Go
 * probe reads (RAX, RBX, RCX). */
int go_version_register_abi(const char *v);

#endif
