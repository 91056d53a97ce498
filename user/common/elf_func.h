/* The machine code of a function in an ELF file, by symbol name: what the
 * uprobe placement (x86_entry.h) looks at before attaching. */
#ifndef REACH_ELF_FUNC_H
#define REACH_ELF_FUNC_H

#include <stddef.h>
#include <stdint.h>

/* The function func (a defined FUNC symbol of .dynsym or .symtab) in the
 * ELF file open at fd: its file offset, its size, and up to buf_size bytes
 * of its code in buf (*got of them). The caller attaches through the same
 * fd (/proc/self/fd/N), so the bytes looked at and the file probed are one.
 * 0; -ENOENT when there is no such function; -ENOTUNIQ when the name has
 * several addresses (symbol versions: which one a caller means is not
 * ours to guess); -errno on read errors; -EINVAL for a file libelf cannot
 * read. */
int elf_func_code(int fd, const char *func, uint64_t *file_off, size_t *func_size, uint8_t *buf, size_t buf_size,
		  size_t *got);

#endif
